/**
 * @module runtime/server
 * The whole server from one settings object: store, local CA, ACME engines, maintenance and the
 * edge, as one object with start / reload / close. `certgate serve` is: resolve settings, build
 * this, start, wait for a signal, close. With worker processes the primary builds it with
 * `serve: false` (maintenance only) and each worker with `maintain: false`.
 */
import { availableParallelism } from 'node:os';
import { CertCache } from '../cache/cache.ts';
import { Edge, type EdgeOptions, type EdgeSettings } from '../edge/edge.ts';
import { TicketKeys } from '../edge/tickets.ts';
import type { EventListener } from '../events.ts';
import { LocalCa } from '../localca/local-ca.ts';
import { type Logger, silentLogger } from '../log.ts';
import type { CycleReport } from '../maintenance/maintainer.ts';
import { pairProblem } from '../store/meta.ts';
import { type AcmeEngines, createAcmeEngines } from './acme.ts';
import { RELOADABLE, type ServerSettings } from './settings.ts';

export interface RuntimeOptions {
  log?: Logger;
  onEvent?: EventListener;
  /** Run the edge (HTTPS/HTTP listeners). Default true. */
  serve?: boolean;
  /** Run the maintenance loop. Default true. */
  maintain?: boolean;
  /** This process is one of N serving workers: budgets shared, HTTP-01 answers through files. */
  workers?: { count: number };
  /** Names renewed by maintenance (the primary passes them to its workers). */
  onRenewed?: (names: string[]) => void;
  /** The access log's sink (one entry per finished request), when settings.accessLog is on. */
  accessLog?: EdgeOptions['accessLog'];
  /** The environment the DNS hook runs with. */
  hookEnv?: Record<string, string | undefined>;
  /** The TLS session ticket keys were rotated (the primary tells its workers to refreshTickets()). */
  onTicketsRotated?: () => void;
  /** Ticket-key timing, for tests (defaults: a key per 12 h; readers reload every 10 min). */
  tickets?: { rotateMs?: number; leadMs?: number; refreshMs?: number; clock?: () => number };
}

export interface Runtime {
  readonly settings: ServerSettings;
  /** Whether public names are obtained over ACME (production mode with the CA's terms agreed). */
  readonly acme: boolean;
  readonly engines: AcmeEngines;
  readonly localCa: LocalCa;
  /** Whether the local CA was created by this start. */
  readonly localCaCreated: boolean;
  start(): Promise<{ https: number | null; http: number | null }>;
  /** Applies what can change while running; returns the changed settings that need a restart. */
  reload(next: ServerSettings): Promise<string[]>;
  /** Serves these names' stored certificates from the next handshake on. */
  refresh(names: string[]): Promise<void>;
  /**
   * Reads the shared TLS session ticket keys again and uses the current one (called on a timer,
   * on the primary's word, and by a store's change feed).
   */
  refreshTickets(): Promise<void>;
  close(): Promise<void>;
}

/** The edge's view of the settings that can change while running. */
export function edgeSettings(s: ServerSettings): EdgeSettings & { upstream: string | null } {
  return {
    upstream: s.upstream,
    routes: s.routes,
    redirect: s.redirect,
    hsts: s.hsts ? { maxAge: s.hstsMaxAge, includeSubDomains: s.hstsIncludeSubdomains, preload: s.hstsPreload } : null,
    behindProxy: s.behindProxy ? { trustedProxies: s.behindProxy } : null,
    defaultSni: s.defaultSni ?? s.domain ?? null,
  };
}

export function workerCount(value: 'auto' | number): number {
  return value === 'auto' ? availableParallelism() : value;
}

export async function buildRuntime(settings: ServerSettings, options: RuntimeOptions = {}): Promise<Runtime> {
  const log = options.log ?? silentLogger;
  const serve = options.serve ?? true;
  const maintain = options.maintain ?? true;
  const workers = options.workers && options.workers.count > 1 ? options.workers.count : 1;
  const acmeLog = log.child({ area: 'acme' });
  const certLog = log.child({ area: 'certificates' });
  const engines = createAcmeEngines(settings, {
    warn: (m) => acmeLog.warn(m),
    // Every certificate event reaches the log too: issuance start and end, failures, renewals.
    onEvent: (e) => {
      certLog[e.type === 'cert_failed' || e.type === 'attempts_exhausted' ? 'warn' : 'info']({ name: e.name, event: e.type }, e.message);
      options.onEvent?.(e);
    },
    workers: workers > 1 || options.serve === false,
    ...(options.hookEnv ? { hookEnv: options.hookEnv } : {}),
  });
  const acme = settings.mode === 'production' && settings.acmeAgreeTos;
  const localCa = new LocalCa({ dir: `${engines.paths.root}/local-ca` });
  const { created } = await localCa.load();
  // The issuer is built (and the account key made) before anything listens: a bad ACME setting
  // fails the start, not the first visitor's handshake.
  const issuer = acme ? engines.issuer() : null;
  const manager = acme ? engines.manager() : null;
  const cache = new CertCache();
  const edgeLog = log.child({ area: 'edge' });
  const tickets = new TicketKeys({
    storage: engines.store.storage,
    locker: engines.locker,
    ...(options.tickets?.rotateMs ? { rotateMs: options.tickets.rotateMs } : {}),
    ...(options.tickets?.leadMs ? { leadMs: options.tickets.leadMs } : {}),
    ...(options.tickets?.clock ? { clock: options.tickets.clock } : {}),
  });
  const ticketTimers: NodeJS.Timeout[] = [];
  let rotateTimer: NodeJS.Timeout | null = null;
  let closed = false;
  // The process that maintains also rotates (one per node; the lock makes it one at a time
  // across nodes sharing the store); the first rotation runs before anything serves.
  const rotateTickets = async () => {
    try {
      if (await tickets.rotate()) {
        const next = tickets.nextChangeAt();
        edgeLog.info(
          { ticketKey: tickets.current()?.id ?? null, next: next ? new Date(next).toISOString() : null },
          `TLS session ticket keys written (next key takes over at ${next ? new Date(next).toISOString() : 'n/a'})`,
        );
        await edge?.refreshTickets();
        options.onTicketsRotated?.();
      }
    } catch (err) {
      edgeLog.error(`TLS session ticket keys could not be rotated: ${(err as Error).message}`);
    }
    if (closed) return;
    const delay = Math.min(Math.max(1000, tickets.rotateDueAt() - tickets.now() + 1000), 3600_000);
    rotateTimer = setTimeout(() => void rotateTickets(), delay);
    rotateTimer.unref();
  };
  let edge: Edge | null = null;
  // With workers the global budget is split so that the total holds; a client's is not: the
  // kernel may hand all of one client's connections to one worker.
  const share = (n: number) => (workers > 1 ? Math.max(1, Math.ceil(n / workers)) : n);
  if (serve) {
    edge = new Edge({
      ...edgeSettings(settings),
      httpsPort: settings.behindProxy && !settings.behindProxyTls ? null : settings.httpsPort,
      httpPort: settings.httpPort,
      ...(settings.host ? { host: settings.host } : {}),
      cache,
      localCa,
      answers: engines.answers,
      ...(manager ? { manager, registry: engines.registry } : {}),
      onDemandPerMinute: share(settings.onDemandPerMinute),
      onDemandPerClient: settings.onDemandPerClient,
      onDemandTimeoutMs: settings.onDemandWait,
      log: ({ level, msg, ...rest }) => edgeLog[level](rest, msg),
      accessLog: settings.accessLog ? (options.accessLog ?? null) : null,
      ticketKeys: tickets,
    });
  }
  const refresh = async (names: string[]) => {
    if (!edge) return;
    for (const name of names) {
      const b = await engines.store.getBundle(name);
      if (b) edge.update(name, b);
    }
  };
  const maintLog = log.child({ area: 'maintenance' });
  const maintainer =
    maintain && manager && issuer
      ? engines.maintainer({
          onReport: (r: CycleReport) => {
            maintLog.info(
              { scanned: r.scanned, due: r.due, renewed: r.renewed.length, failed: r.failed.length, deferred: r.deferred.length, ms: r.scanMs },
              `maintenance cycle: ${r.scanned} scanned, ${r.due} due, ${r.renewed.length} renewed, ${r.failed.length} failed`,
            );
            if (r.renewed.length) {
              options.onRenewed?.(r.renewed);
              void refresh(r.renewed).catch((err) => maintLog.error(`renewed certificates: ${(err as Error).message}`));
            }
          },
          onError: (err) => maintLog.error(`maintenance: ${(err as Error).message}`),
        })
      : null;
  let current = settings;

  return {
    settings,
    acme,
    engines,
    localCa,
    localCaCreated: created,
    async start() {
      if (workers > 1 || !serve) await issuer?.prepareAccountKey();
      if (maintain) await rotateTickets();
      // Development mode serves the local CA only: stored ACME certificates stay in the store.
      if (edge && acme) {
        let n = 0;
        for (const e of await engines.store.scan()) {
          const b = await engines.store.getBundle(e.name);
          const problem = b ? pairProblem(b) : 'the certificate files are missing';
          if (b && !problem) {
            cache.put(e.name, b);
            n++;
            continue;
          }
          // A damaged pair would fail every handshake for the name: say which file, keep it out
          // of the cache, and obtain a new one (the damaged one is replaced when it lands).
          const files = engines.store.filePaths(e.name);
          edgeLog.error({ name: e.name, files }, `${e.name}: the stored certificate is damaged: ${problem} (${files.fullchain}); obtaining a new one`);
          void manager
            ?.obtain(e.name, { force: true, reason: `the stored pair is damaged: ${problem}` })
            .then((r) => edge?.update(e.name, r.bundle))
            .catch((err) => edgeLog.error({ name: e.name }, `${e.name}: replacing the damaged certificate failed: ${(err as Error).message}`));
        }
        edgeLog.info({ certificates: n }, `loaded ${n} stored certificate${n === 1 ? '' : 's'}`);
      }
      if (issuer) {
        const account = await engines.store.getAccount(issuer.directory);
        acmeLog.info(
          { directory: issuer.directory, account: account?.url ?? null },
          account?.url ? `ACME account ${account.url} at ${issuer.directory}` : `ACME at ${issuer.directory}: the account is registered at the first order`,
        );
      }
      const ports = edge ? await edge.start() : { https: null, http: null };
      if (edge) edgeLog.info({ https: ports.https, http: ports.http }, `listening: https ${ports.https ?? 'off'}, http ${ports.http ?? 'off'}`);
      if (edge) {
        // Keys written by another process (another node) are seen within this period, and well
        // before they take over (they are written an hour or more ahead).
        const t = setInterval(() => void edge?.refreshTickets(), options.tickets?.refreshMs ?? 600_000);
        t.unref();
        ticketTimers.push(t);
      }
      maintainer?.start();
      return ports;
    },
    async reload(next) {
      if (edge) await edge.reconfigure(edgeSettings(next));
      const restart = (Object.keys(next) as Array<keyof ServerSettings>).filter(
        (k) => !(RELOADABLE as readonly string[]).includes(k) && JSON.stringify(next[k]) !== JSON.stringify(current[k]),
      );
      current = next;
      if (acme) await refresh((await engines.store.scan()).map((e) => e.name));
      return restart;
    },
    refresh,
    refreshTickets: async () => {
      await edge?.refreshTickets();
    },
    async close() {
      closed = true;
      if (rotateTimer) clearTimeout(rotateTimer);
      for (const t of ticketTimers) clearInterval(t);
      await edge?.close();
      await maintainer?.close();
    },
  };
}
