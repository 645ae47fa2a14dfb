/**
 * @module store/pg/migrate
 * The PostgreSQL store's tables, created by numbered migrations. The applied version lives in
 * certgate_schema (one row); migrations run in one transaction that holds LOCK TABLE on it, so
 * several nodes starting at once apply each migration exactly once. A transaction-scoped lock
 * is released at COMMIT: nothing strands behind a pooler in transaction mode. A database whose
 * schema is newer than this binary knows is refused, never written.
 */
import type { Pool, PoolClient } from 'pg';
import { CertgateError } from '../../errors.ts';

/** Append only: a released migration is never edited. */
export const MIGRATIONS: ReadonlyArray<{ version: number; name: string; sql: string }> = [
  {
    version: 1,
    name: 'key-value store, leases, nodes, counters',
    sql: `
      CREATE TABLE certgate_kv (
        key text PRIMARY KEY,
        value bytea NOT NULL,
        private boolean NOT NULL DEFAULT false,
        modified timestamptz NOT NULL DEFAULT now()
      );
      CREATE INDEX certgate_kv_prefix ON certgate_kv (key text_pattern_ops);
      CREATE TABLE certgate_locks (
        key text PRIMARY KEY,
        fence bigint NOT NULL,
        holder text,
        pid integer,
        host text,
        since timestamptz,
        expires_at timestamptz
      );
      CREATE TABLE certgate_nodes (
        id text PRIMARY KEY,
        version text NOT NULL,
        schema_version integer NOT NULL,
        host text NOT NULL,
        pid integer NOT NULL,
        started_at timestamptz NOT NULL,
        heartbeat_at timestamptz NOT NULL
      );
      CREATE TABLE certgate_counters (
        key text NOT NULL,
        window_start timestamptz NOT NULL,
        count integer NOT NULL,
        PRIMARY KEY (key, window_start)
      );
    `,
  },
];

export const SCHEMA_VERSION = MIGRATIONS[MIGRATIONS.length - 1]?.version ?? 0;

export interface MigrateResult {
  from: number;
  to: number;
  applied: number[];
}

function newer(found: number): CertgateError {
  return new CertgateError(
    'E_STORE_SCHEMA',
    `store schema: the database is at schema version ${found}, newer than this certgate knows (${SCHEMA_VERSION})`,
    'run the certgate version that migrated it (or newer) on every node; a cluster must not mix versions',
    { option: 'store' },
  );
}

async function bootstrap(client: PoolClient): Promise<void> {
  for (let i = 0; i < 5; i++) {
    try {
      await client.query(
        'CREATE TABLE IF NOT EXISTS certgate_schema (id integer PRIMARY KEY CHECK (id = 1), version integer NOT NULL, updated_at timestamptz NOT NULL DEFAULT now())',
      );
      await client.query('INSERT INTO certgate_schema (id, version) VALUES (1, 0) ON CONFLICT (id) DO NOTHING');
      return;
    } catch (err) {
      // Two nodes creating the table at once: one gets a duplicate on the catalog; try again.
      const code = (err as { code?: string }).code;
      if (code !== '23505' && code !== '42P07' && code !== '42710') throw err;
    }
  }
}

/** The applied version, or 0 when certgate's tables are not there. Reads only. */
export async function schemaVersion(pool: Pool): Promise<number> {
  const r = await pool.query<{ version: number }>('SELECT version FROM certgate_schema WHERE id = 1').catch((err: { code?: string }) => {
    if (err.code === '42P01') return { rows: [] as Array<{ version: number }> };
    throw err;
  });
  return r.rows[0]?.version ?? 0;
}

/** Applies the missing migrations under the lock; refuses a newer schema. */
export async function migrate(pool: Pool): Promise<MigrateResult> {
  const client = await pool.connect();
  try {
    await bootstrap(client);
    await client.query('BEGIN');
    try {
      await client.query('LOCK TABLE certgate_schema IN ACCESS EXCLUSIVE MODE');
      const from = (await client.query<{ version: number }>('SELECT version FROM certgate_schema WHERE id = 1')).rows[0]?.version ?? 0;
      if (from > SCHEMA_VERSION) throw newer(from);
      const applied: number[] = [];
      for (const m of MIGRATIONS) {
        if (m.version <= from) continue;
        await client.query(m.sql);
        applied.push(m.version);
      }
      if (applied.length) await client.query('UPDATE certgate_schema SET version = $1, updated_at = now() WHERE id = 1', [SCHEMA_VERSION]);
      await client.query('COMMIT');
      return { from, to: Math.max(from, SCHEMA_VERSION), applied };
    } catch (err) {
      await client.query('ROLLBACK').catch(() => {});
      throw err;
    }
  } finally {
    client.release();
  }
}

/** Refuses to run against a schema this binary does not know (newer) or one not migrated yet. */
export async function checkSchema(pool: Pool): Promise<number> {
  const v = await schemaVersion(pool);
  if (v > SCHEMA_VERSION) throw newer(v);
  if (v < SCHEMA_VERSION)
    throw new CertgateError(
      'E_STORE_SCHEMA',
      `store schema: the database is at version ${v}, this certgate needs ${SCHEMA_VERSION}`,
      'run certgate store migrate',
      {
        option: 'store',
      },
    );
  return v;
}
