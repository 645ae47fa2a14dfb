/**
 * @module store/pg/nodes
 * Each node's row in certgate_nodes: its id, certgate version, schema version and a heartbeat
 * from the database's clock; `certgate cluster status` reads them and flags mixed versions.
 */
import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import type pg from 'pg';
import { SCHEMA_VERSION } from './migrate.ts';

export interface NodeRow {
  id: string;
  version: string;
  schemaVersion: number;
  host: string;
  pid: number;
  startedAt: string;
  heartbeatAt: string;
  /** Seconds since the last heartbeat, by the database's clock. */
  ageSeconds: number;
  /** No heartbeat for three intervals: stopped or cut off. */
  stale: boolean;
}

export interface ClusterStatus {
  nodes: NodeRow[];
  versions: string[];
  mixedVersions: boolean;
}

export function nodeId(): string {
  return `${hostname()}-${process.pid}-${randomBytes(3).toString('hex')}`;
}

/** Beats every intervalMs until stopped; a failed beat is retried at the next (the outage is the watcher's to log). */
export function startHeartbeat(pool: pg.Pool, o: { id: string; version: string; intervalMs?: number }): { stop(): Promise<void> } {
  const beat = () =>
    pool
      .query(
        `INSERT INTO certgate_nodes (id, version, schema_version, host, pid, started_at, heartbeat_at) VALUES ($1, $2, $3, $4, $5, now(), now())
         ON CONFLICT (id) DO UPDATE SET heartbeat_at = now(), version = EXCLUDED.version, schema_version = EXCLUDED.schema_version`,
        [o.id, o.version, SCHEMA_VERSION, hostname(), process.pid],
      )
      .catch(() => {});
  const first = beat();
  const timer = setInterval(() => void beat(), o.intervalMs ?? 10_000);
  timer.unref();
  return {
    async stop() {
      clearInterval(timer);
      await first;
      await pool.query('DELETE FROM certgate_nodes WHERE id = $1', [o.id]).catch(() => {});
    },
  };
}

export async function clusterStatus(pool: pg.Pool, o: { intervalMs?: number } = {}): Promise<ClusterStatus> {
  const staleAfter = (3 * (o.intervalMs ?? 10_000)) / 1000;
  const r = await pool.query<{
    id: string;
    version: string;
    schema_version: number;
    host: string;
    pid: number;
    started_at: Date;
    heartbeat_at: Date;
    age: number;
  }>('SELECT *, EXTRACT(EPOCH FROM now() - heartbeat_at)::float8 AS age FROM certgate_nodes ORDER BY started_at, id');
  const nodes = r.rows.map((n) => ({
    id: n.id,
    version: n.version,
    schemaVersion: n.schema_version,
    host: n.host,
    pid: n.pid,
    startedAt: n.started_at.toISOString(),
    heartbeatAt: n.heartbeat_at.toISOString(),
    ageSeconds: Math.round(n.age * 10) / 10,
    stale: n.age > staleAfter,
  }));
  const versions = [...new Set(nodes.filter((n) => !n.stale).map((n) => n.version))].sort();
  return { nodes, versions, mixedVersions: versions.length > 1 };
}
