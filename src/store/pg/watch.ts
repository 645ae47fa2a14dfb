/**
 * @module store/pg/watch
 * How a node hears of another node's writes: LISTEN on a dedicated connection (a pooled one
 * could be handed to someone else; behind PgBouncer in transaction mode, point it at the
 * database directly), and a periodic resync by modification time, because notifications sent
 * while the connection is down are lost. Reconnects with backoff; an outage is logged once
 * when it starts and once when it ends, never per request.
 */
import pg from 'pg';
import type { Logger } from '../../log.ts';
import type { PgTarget } from './connection.ts';
import { CHANNEL } from './storage.ts';

export interface WatchOptions {
  target: PgTarget;
  pool: pg.Pool;
  /** Group keys changed (certificates/<name>, challenges/tls-alpn-01/<name>, ...). */
  onChange: (keys: string[]) => void;
  log?: Logger;
  /** Between resyncs (default 30 s). */
  resyncMs?: number;
  /** Longest pause between reconnection attempts (default 10 s). */
  maxBackoffMs?: number;
}

export interface Watcher {
  /** Resolves once listening (or after the first failure: the watcher keeps trying). */
  started: Promise<void>;
  close(): Promise<void>;
}

/** The group of a key: its parent for leaves of a group (certificates/x/meta.json → certificates/x). */
function groupOf(key: string): string {
  const parts = key.split('/');
  return parts.slice(0, parts[0] === 'challenges' ? 3 : 2).join('/');
}

export function watchStore(o: WatchOptions): Watcher {
  const resyncMs = o.resyncMs ?? 30_000;
  const maxBackoff = o.maxBackoffMs ?? 10_000;
  let closed = false;
  let client: pg.Client | null = null;
  let backoff = 250;
  let down: number | null = null;
  let since: Date | null = null;
  let retry: NodeJS.Timeout | null = null;
  let firstResolve: () => void = () => {};
  const started = new Promise<void>((r) => {
    firstResolve = r;
  });

  const resync = async () => {
    // The database's clock, with a margin for transactions that began before and committed after.
    const r = await o.pool.query<{ key: string; now: Date }>(
      since
        ? "SELECT key, now() AS now FROM certgate_kv WHERE modified > $1::timestamptz - interval '5 seconds' AND (key LIKE 'certificates/%' OR key LIKE 'challenges/tls-alpn-01/%')"
        : 'SELECT NULL::text AS key, now() AS now',
      since ? [since] : [],
    );
    const keys = new Set<string>();
    for (const row of r.rows) if (row.key) keys.add(groupOf(row.key));
    since = r.rows[0]?.now ?? since;
    if (keys.size) o.onChange([...keys]);
  };

  const connect = async () => {
    if (closed) return;
    const c = new pg.Client({ ...o.target.config, application_name: 'certgate-listen' });
    c.on('error', () => {}); // the 'end' below reconnects
    try {
      await c.connect();
      c.on('notification', (n) => {
        if (n.channel === CHANNEL && n.payload) o.onChange([n.payload]);
      });
      c.on('end', () => {
        if (client === c) {
          client = null;
          lost(new Error('the listening connection ended'));
        }
      });
      await c.query(`LISTEN ${CHANNEL}`);
      client = c;
      backoff = 250;
      if (down !== null) o.log?.info({ seconds: Math.round((Date.now() - down) / 1000) }, 'store: PostgreSQL is back; resynced');
      down = null;
      // What changed while nobody listened.
      await resync().catch(() => {});
      firstResolve();
    } catch (err) {
      await c.end().catch(() => {});
      lost(err as Error);
      firstResolve();
    }
  };

  function lost(err: Error) {
    if (closed) return;
    if (down === null) {
      down = Date.now();
      o.log?.warn({ err: err.message }, 'store: PostgreSQL is unreachable; serving from memory, issuance waits, reconnecting');
    }
    if (retry) return;
    retry = setTimeout(() => {
      retry = null;
      void connect();
    }, backoff);
    retry.unref();
    backoff = Math.min(maxBackoff, backoff * 2);
  }

  const timer = setInterval(() => {
    if (client) void resync().catch(() => {});
  }, resyncMs);
  timer.unref();
  void connect();

  return {
    started,
    async close() {
      closed = true;
      clearInterval(timer);
      if (retry) clearTimeout(retry);
      const c = client;
      client = null;
      await c?.end().catch(() => {});
    },
  };
}
