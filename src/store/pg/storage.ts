/**
 * @module store/pg/storage
 * The Storage seam on PostgreSQL: one row per key in certgate_kv. Every read goes to the one
 * primary the URL names (never a replica), so a challenge answer written before the CA is told
 * to look is there for whichever node the CA reaches. A group is replaced in one transaction
 * (delete the old set, insert the new, NOTIFY the change): readers see the old set or the new.
 * A fenced group write checks, in the same transaction and under the lease row's lock, that the
 * writer's lease is still current; a lapsed holder's write is refused with E_FENCED.
 */
import type { Pool, PoolClient } from 'pg';
import { CertgateError } from '../../errors.ts';
import { checkKey, type KeyInfo, type Storage, type WriteCondition } from '../storage.ts';
import { classifyPgError, type PgTarget } from './connection.ts';

/** The channel every change to a group is announced on; the payload is the group's key. */
export const CHANNEL = 'certgate_changes';

function likePrefix(prefix: string): string {
  return `${prefix.replace(/[\\%_]/g, (c) => `\\${c}`)}/%`;
}

export interface PgStorageOptions {
  pool: Pool;
  target: Pick<PgTarget, 'host' | 'port' | 'database' | 'tls' | 'loopback'>;
  /** Resolves once the schema is checked; every operation waits for it (started at the first). */
  ready?: () => Promise<unknown>;
}

export class PgStorage implements Storage {
  readonly pool: Pool;
  readonly #target: PgStorageOptions['target'];
  readonly #ready: () => Promise<unknown>;

  constructor(options: PgStorageOptions) {
    this.pool = options.pool;
    this.#target = options.target;
    this.#ready = options.ready ?? (() => Promise.resolve());
  }

  async #q<R extends Record<string, unknown>>(sql: string, params: unknown[] = []): Promise<R[]> {
    await this.#ready();
    try {
      return (await this.pool.query<R>(sql, params)).rows;
    } catch (err) {
      throw classifyPgError(err, this.#target);
    }
  }

  async #tx<T>(fn: (c: PoolClient) => Promise<T>): Promise<T> {
    await this.#ready();
    let client: PoolClient;
    try {
      client = await this.pool.connect();
    } catch (err) {
      throw classifyPgError(err, this.#target);
    }
    try {
      await client.query('BEGIN');
      const out = await fn(client);
      await client.query('COMMIT');
      return out;
    } catch (err) {
      await client.query('ROLLBACK').catch(() => {});
      throw classifyPgError(err, this.#target);
    } finally {
      client.release();
    }
  }

  async store(key: string, value: string | Uint8Array, options: { private?: boolean } = {}): Promise<void> {
    checkKey(key);
    await this.#q(
      `INSERT INTO certgate_kv (key, value, private, modified) VALUES ($1, $2, $3, now())
       ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value, private = EXCLUDED.private, modified = now()`,
      [key, Buffer.from(value), options.private === true],
    );
  }

  async load(key: string): Promise<Buffer | null> {
    checkKey(key);
    const rows = await this.#q<{ value: Buffer }>('SELECT value FROM certgate_kv WHERE key = $1', [key]);
    return rows[0]?.value ?? null;
  }

  async delete(key: string): Promise<void> {
    checkKey(key);
    await this.#tx(async (c) => {
      await c.query('DELETE FROM certgate_kv WHERE key = $1 OR key LIKE $2', [key, likePrefix(key)]);
      await c.query('SELECT pg_notify($1, $2)', [CHANNEL, key]);
    });
  }

  async exists(key: string): Promise<boolean> {
    checkKey(key);
    const rows = await this.#q('SELECT 1 FROM certgate_kv WHERE key = $1 OR key LIKE $2 LIMIT 1', [key, likePrefix(key)]);
    return rows.length > 0;
  }

  async stat(key: string): Promise<KeyInfo | null> {
    checkKey(key);
    const rows = await this.#q<{ size: number; modified: Date }>('SELECT octet_length(value) AS size, modified FROM certgate_kv WHERE key = $1', [key]);
    const r = rows[0];
    return r ? { key, size: Number(r.size), modified: r.modified } : null;
  }

  async list(prefix: string, recursive: boolean): Promise<string[]> {
    const base = prefix ? checkKey(prefix.replace(/\/$/, '')) : '';
    const rows = base
      ? await this.#q<{ key: string }>('SELECT key FROM certgate_kv WHERE key LIKE $1 ORDER BY key', [likePrefix(base)])
      : await this.#q<{ key: string }>('SELECT key FROM certgate_kv ORDER BY key');
    if (recursive) return rows.map((r) => r.key);
    const start = base ? base.length + 1 : 0;
    const children = new Set<string>();
    for (const { key } of rows) {
      const slash = key.indexOf('/', start);
      children.add(slash === -1 ? key : key.slice(0, slash));
    }
    return [...children].sort();
  }

  async storeGroup(prefix: string, files: Record<string, { value: string | Uint8Array; private?: boolean }>, condition?: WriteCondition): Promise<void> {
    checkKey(prefix);
    const entries = Object.entries(files).map(([name, f]) => [`${prefix}/${checkKey(name)}`, f] as const);
    await this.#tx(async (c) => {
      if (condition) {
        // FOR SHARE holds the lease row: a takeover (an UPDATE of it) waits for this commit.
        const held = await c.query('SELECT 1 FROM certgate_locks WHERE key = $1 AND fence = $2 AND holder IS NOT NULL AND expires_at > now() FOR SHARE', [
          condition.lock,
          condition.fence,
        ]);
        if (held.rowCount === 0)
          throw new CertgateError(
            'E_FENCED',
            `the lease on ${condition.lock} (fence ${condition.fence}) lapsed or was taken over: ${prefix} is not overwritten`,
            'nothing to do: the node that holds the lock now writes the newer pair (lengthen the lease if orders take longer than it)',
          );
      }
      await c.query('DELETE FROM certgate_kv WHERE key LIKE $1', [likePrefix(prefix)]);
      for (const [key, f] of entries)
        await c.query('INSERT INTO certgate_kv (key, value, private, modified) VALUES ($1, $2, $3, now())', [key, Buffer.from(f.value), f.private === true]);
      // Delivered at COMMIT, and only if it commits: a node never hears of a write it cannot read.
      await c.query('SELECT pg_notify($1, $2)', [CHANNEL, prefix]);
    });
  }

  async append(key: string, text: string): Promise<void> {
    checkKey(key);
    // One statement: the row lock orders concurrent appends, each whole.
    await this.#q(
      `INSERT INTO certgate_kv AS kv (key, value, modified) VALUES ($1, $2, now())
       ON CONFLICT (key) DO UPDATE SET value = kv.value || EXCLUDED.value, modified = now()`,
      [key, Buffer.from(text)],
    );
  }

  async checkWritable(_bytes: number): Promise<void> {
    const rows = await this.#q<{ ok: boolean; ro: string }>(
      "SELECT has_table_privilege('certgate_kv', 'INSERT, UPDATE, DELETE') AS ok, current_setting('transaction_read_only') AS ro",
    );
    if (rows[0]?.ro === 'on')
      throw new CertgateError(
        'E_STORE',
        `the store database ${this.#target.host}:${this.#target.port} is read-only (a replica?)`,
        'point the store URL at the primary: nothing was asked of the CA',
      );
    if (!rows[0]?.ok)
      throw new CertgateError(
        'E_STORE_PERMISSION',
        'store permission: the store user cannot write certgate_kv',
        'GRANT INSERT, UPDATE, DELETE ON certgate_kv TO <user>',
      );
  }
}
