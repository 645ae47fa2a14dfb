/**
 * @module store/pg/counters
 * Budgets counted by the whole cluster: one row per key and fixed window (aligned on the
 * database's clock) in certgate_counters, taken with one conditional upsert, so two nodes never
 * both spend the last token. Old windows are swept now and then.
 */
import type pg from 'pg';

export interface SharedBudget {
  /** Takes one unit of `key`'s budget of `limit` per `windowMs`; false when it is spent. */
  take(key: string, limit: number, windowMs: number): Promise<boolean>;
}

export class PgCounters implements SharedBudget {
  readonly #pool: pg.Pool;
  #takes = 0;

  constructor(pool: pg.Pool) {
    this.#pool = pool;
  }

  async take(key: string, limit: number, windowMs: number): Promise<boolean> {
    if (limit <= 0) return false;
    const r = await this.#pool.query(
      `INSERT INTO certgate_counters AS c (key, window_start, count)
         VALUES ($1, to_timestamp(floor(extract(epoch FROM now()) * 1000 / $2) * $2 / 1000), 1)
       ON CONFLICT (key, window_start) DO UPDATE SET count = c.count + 1 WHERE c.count < $3
       RETURNING count`,
      [key, windowMs, limit],
    );
    if (++this.#takes % 500 === 0) void this.#pool.query("DELETE FROM certgate_counters WHERE window_start < now() - interval '1 day'").catch(() => {});
    return (r.rowCount ?? 0) > 0;
  }
}
