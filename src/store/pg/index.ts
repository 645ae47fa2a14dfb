/**
 * @module store/pg
 * The PostgreSQL backend: Storage + Locker over one pool to the primary, opened with the schema
 * migrated (under its lock) and checked. `createPgBackend` is the synchronous form for code that
 * builds its engines synchronously: every operation waits for `ready`, which start-up awaits so
 * that a bad URL, password, TLS or schema fails the start with its one-line error.
 */
import pg from 'pg';
import type { Logger } from '../../log.ts';
import type { Locker, Storage } from '../storage.ts';
import { classifyPgError, type PgTarget, pgTarget } from './connection.ts';
import { PgLocker } from './locker.ts';
import { checkSchema, migrate, SCHEMA_VERSION, schemaVersion } from './migrate.ts';
import { PgStorage } from './storage.ts';

export { classifyPgError, isLoopback, isPgUrl, type PgTarget, pgTarget } from './connection.ts';
export { PgLocker, type PgLockerOptions } from './locker.ts';
export { checkSchema, MIGRATIONS, migrate, SCHEMA_VERSION, schemaVersion } from './migrate.ts';
export { CHANNEL, PgStorage } from './storage.ts';

export interface PgOpenOptions {
  caFile?: string;
  log?: Logger;
  /** Apply missing migrations at open (default true; `false` only checks). */
  migrate?: boolean;
  leaseMs?: number;
  pollMs?: number;
  /** Pool size (default 10). */
  max?: number;
}

export interface PgBackend {
  storage: PgStorage;
  locker: PgLocker;
  pool: pg.Pool;
  target: PgTarget;
  /** Connects, migrates (or checks) the schema: once, at the first call or the first operation. */
  ready(): Promise<void>;
  close(): Promise<void>;
}

export function createPgBackend(url: string, options: PgOpenOptions = {}): PgBackend {
  const target = pgTarget(url, options.caFile ? { caFile: options.caFile } : {});
  // allowExitOnIdle: a CLI command (certs list --store) ends when done; serve is kept alive by its listeners.
  const pool = new pg.Pool({ ...target.config, max: options.max ?? 10, idleTimeoutMillis: 30_000, allowExitOnIdle: true });
  // An idle client's error (the database restarted) must not end the process: the next query reconnects.
  pool.on('error', (err) => options.log?.debug({ err: err.message }, 'store: an idle connection closed'));
  let opened: Promise<void> | null = null;
  // Lazy: building the engines (config check) connects to nothing and writes nothing.
  const ready = () => {
    opened ??= (async () => {
      try {
        if (options.migrate === false) await checkSchema(pool);
        else await migrate(pool);
      } catch (err) {
        throw classifyPgError(err, target);
      }
    })();
    return opened;
  };
  const storage = new PgStorage({ pool, target, ready });
  const locker = new PgLocker({
    pool,
    target,
    ready,
    ...(options.leaseMs ? { leaseMs: options.leaseMs } : {}),
    ...(options.pollMs ? { pollMs: options.pollMs } : {}),
  });
  let closed: Promise<void> | null = null;
  return {
    storage,
    locker,
    pool,
    target,
    ready,
    close: () => {
      closed ??= pool.end().catch(() => {});
      return closed;
    },
  };
}

/** The shared opening shape (contracts.md): the backend ready, or its one-line error and nothing left open. */
export async function openPgStorage(
  url: string,
  options: { caFile?: string; log?: Logger; migrate?: boolean } = {},
): Promise<{ storage: Storage; locker: Locker; close(): Promise<void> }> {
  const b = createPgBackend(url, options);
  try {
    await b.ready();
  } catch (err) {
    await b.close();
    throw err;
  }
  return { storage: b.storage, locker: b.locker, close: b.close };
}

/**
 * `config check`'s look at the store: connects (DNS, TCP, TLS, auth classified), reads the
 * schema version and the user's right to create tables, writes nothing.
 */
export async function probePgStore(url: string, options: { caFile?: string } = {}): Promise<string> {
  const target = pgTarget(url, options.caFile ? { caFile: options.caFile } : {});
  const pool = new pg.Pool({ ...target.config, max: 1 });
  pool.on('error', () => {});
  try {
    const v = await schemaVersion(pool).catch((err) => {
      throw classifyPgError(err, target);
    });
    if (v > SCHEMA_VERSION) await checkSchema(pool);
    const r = await pool.query<{ create: boolean }>("SELECT has_schema_privilege(current_user, 'public', 'CREATE') AS create");
    if (v < SCHEMA_VERSION && !r.rows[0]?.create)
      throw classifyPgError(Object.assign(new Error('permission denied for schema public (certgate must create its tables)'), { code: '42501' }), target);
    return `${target.display} (TLS ${target.tls}), schema ${v === SCHEMA_VERSION ? `version ${v}` : `version ${v}, migrated to ${SCHEMA_VERSION} at start`}`;
  } finally {
    await pool.end().catch(() => {});
  }
}
