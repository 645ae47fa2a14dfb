/**
 * @module store/pg/locker
 * Locks as lease rows (certgate_locks): a holder, an expiry computed from the database's now()
 * (never a node's clock), renewed while held, and a fencing number per lock that grows by one
 * at every acquisition and is never reset. Taking a lock is one INSERT ... ON CONFLICT DO UPDATE
 * ... WHERE the lease is free or lapsed: the row lock makes it atomic, no check-then-upsert race.
 * No session-level advisory locks: they would strand behind a pooler in transaction mode.
 */
import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import type { Pool } from 'pg';
import { CertgateError } from '../../errors.ts';
import { type Locker, type LockHolder, type LockOptions, type Release, waitForLock } from '../storage.ts';
import { classifyPgError, type PgTarget } from './connection.ts';

export interface PgLockerOptions {
  pool: Pool;
  target: Pick<PgTarget, 'host' | 'port' | 'database' | 'tls' | 'loopback'>;
  ready?: () => Promise<unknown>;
  /** How long a lease lasts without renewal (default 60 s); renewed every third of it. */
  leaseMs?: number;
  /** How often a waiting lock asks again (default 250 ms). */
  pollMs?: number;
  /** Give up waiting after this long (default 10 min). */
  timeoutMs?: number;
  /** Who holds (default host:pid:random). */
  holder?: string;
  /** Told when a lease is found lapsed under its holder (a long pause, a lost database). */
  onLost?: (key: string, fence: number) => void;
}

export class PgLocker implements Locker {
  readonly #o: PgLockerOptions;
  readonly #lease: number;
  readonly #poll: number;
  readonly #timeout: number;
  readonly #holder: string;
  readonly #host = hostname();

  constructor(options: PgLockerOptions) {
    for (const [k, v] of Object.entries({ leaseMs: options.leaseMs, pollMs: options.pollMs, timeoutMs: options.timeoutMs }))
      if (v !== undefined && (!Number.isFinite(v) || v <= 0))
        throw new CertgateError('E_OPTION', `PgLocker ${k} must be a positive number of ms, got ${v}`, `omit ${k} for the default`);
    this.#o = options;
    this.#lease = options.leaseMs ?? 60_000;
    this.#poll = options.pollMs ?? 250;
    this.#timeout = options.timeoutMs ?? 600_000;
    this.#holder = options.holder ?? `${this.#host}:${process.pid}:${randomBytes(4).toString('hex')}`;
  }

  get leaseMs(): number {
    return this.#lease;
  }

  async #q<R extends Record<string, unknown>>(sql: string, params: unknown[]): Promise<{ rows: R[]; rowCount: number }> {
    await this.#o.ready?.();
    try {
      const r = await this.#o.pool.query<R>(sql, params);
      return { rows: r.rows, rowCount: r.rowCount ?? 0 };
    } catch (err) {
      throw classifyPgError(err, this.#o.target);
    }
  }

  async tryLock(key: string): Promise<Release | null> {
    const { rows } = await this.#q<{ fence: string }>(
      `INSERT INTO certgate_locks AS l (key, fence, holder, pid, host, since, expires_at)
         VALUES ($1, 1, $2, $3, $4, now(), now() + $5 * interval '1 millisecond')
       ON CONFLICT (key) DO UPDATE SET fence = l.fence + 1, holder = EXCLUDED.holder, pid = EXCLUDED.pid,
         host = EXCLUDED.host, since = now(), expires_at = EXCLUDED.expires_at
       WHERE l.holder IS NULL OR l.expires_at <= now()
       RETURNING fence`,
      [key, this.#holder, process.pid, this.#host, this.#lease],
    );
    const row = rows[0];
    if (!row) return null;
    return this.#held(key, Number(row.fence));
  }

  #held(key: string, fence: number): Release {
    const lost = new AbortController();
    let released = false;
    const renew = async () => {
      const r = await this.#q(
        `UPDATE certgate_locks SET expires_at = now() + $4 * interval '1 millisecond'
         WHERE key = $1 AND fence = $2 AND holder = $3 AND expires_at > now()`,
        [key, fence, this.#holder, this.#lease],
      ).catch(() => null); // the database away: try again at the next tick, the expiry decides
      if (r && r.rowCount === 0 && !released) {
        clearInterval(timer);
        lost.abort(new CertgateError('E_FENCED', `the lease on ${key} (fence ${fence}) lapsed`, 'lengthen the lease if orders take longer than it'));
        this.#o.onLost?.(key, fence);
      }
    };
    const timer = setInterval(() => void renew(), Math.max(50, Math.floor(this.#lease / 3)));
    timer.unref();
    const release = Object.assign(
      async () => {
        if (released) return;
        released = true;
        clearInterval(timer);
        // Only our own lease is cleared; the fence stays, so the next holder's is higher.
        await this.#q('UPDATE certgate_locks SET holder = NULL, pid = NULL, host = NULL, expires_at = NULL WHERE key = $1 AND fence = $2 AND holder = $3', [
          key,
          fence,
          this.#holder,
        ]).catch(() => {}); // unreachable: the lease lapses by itself
      },
      { fence, lost: lost.signal },
    );
    return release;
  }

  async holderOf(key: string): Promise<LockHolder | null> {
    const { rows } = await this.#q<{ pid: number | null; host: string | null; since: Date | null }>(
      'SELECT pid, host, since FROM certgate_locks WHERE key = $1 AND holder IS NOT NULL AND expires_at > now()',
      [key],
    );
    const r = rows[0];
    return r ? { pid: r.pid, host: r.host, since: r.since ? r.since.toISOString() : null } : null;
  }

  async lock(key: string, options: LockOptions | AbortSignal = {}): Promise<Release> {
    return waitForLock(key, options, {
      tryLock: () => this.tryLock(key),
      holder: () => this.holderOf(key),
      timeoutMs: this.#timeout,
      pollMs: this.#poll,
      fix: 'another certgate node is working on it; its lease lapses by itself if it died',
    });
  }
}
