/**
 * @module runtime/server
 * The whole server from one settings object: store, local CA, ACME engines, maintenance and the
 * edge, as one object with start / reload / close. `certgate serve` is: resolve settings, build
 * this, start, wait for a signal, close. With worker processes the primary builds it with
 * `serve: false` (maintenance only) and each worker with `maintain: false`.
 */
import { availableParallelism } from 'node:os';
import type { AdminProviders } from '../admin/context.ts';
import type { AdminServer } from '../admin/server.ts';
import { type Alerts, type AlertsOptions, createAlerts } from '../alerts/index.ts';
import { CertCache } from '../cache/cache.ts';
import { Edge, type EdgeOptions, type EdgeSettings } from '../edge/edge.ts';
import { TICKET_KEYS_KEY, TicketKeys } from '../edge/tickets.ts';
import type { EventListener } from '../events.ts';
import { LocalCa } from '../localca/local-ca.ts';
import { type Logger, silentLogger } from '../log.ts';
import type { CycleReport } from '../maintenance/maintainer.ts';
import { CertificateView, createMetrics, type Metrics, type MetricsJson } from '../metrics/index.ts';
import { pairProblem } from '../store/meta.ts';
import { nameFromSegment } from '../store/names.ts';
import { PgCounters } from '../store/pg/counters.ts';
import { nodeId, startHeartbeat } from '../store/pg/nodes.ts';
import { watchStore } from '../store/pg/watch.ts';
import type { CertEvent } from '../store/store.ts';
import { createTrustStore, type TrustStore } from '../trust/store.ts';
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
  /** The environment the DNS hook runs with (and resources' secret references, for the admin API). */
  hookEnv?: Record<string, string | undefined>;
  /** The serving workers' metrics (serve --workers: asked of them at each scrape), merged into this process's. */
  metricsPeers?: () => Promise<MetricsJson[]>;
  /** Alert delivery knobs (timeouts, backoff, clock) beside the settings' webhooks and secret. */
  alertOptions?: Omit<Partial<AlertsOptions>, 'urls' | 'secret'>;
  /** This node's certgate version, recorded in the cluster's node table (PostgreSQL store). */
  version?: string;
  /** PostgreSQL store: between resyncs and between heartbeats (ms; tests shorten them). */
  cluster?: { resyncMs?: number; heartbeatMs?: number };
  /**
   * The admin API and dashboard (settings.adminListen). Run by one process only: with workers,
   * the primary. `optional`: a busy default address is warned about instead of failing the start.
   */
  admin?: AdminProviders & { enabled?: boolean; optional?: boolean };
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
  /** The admin listener's URL once started (`http://127.0.0.1:2020`, `unix:/path`), or null when off. */
  readonly adminUrl: string | null;
  /** Applies what can change while running; returns the changed settings that need a restart. */
  reload(next: ServerSettings): Promise<string[]>;
  /** Serves these names' stored certificates from the next handshake on. */
  refresh(names: string[]): Promise<void>;
  /** Prometheus metrics (settings.metrics); the admin listener serves them at /metrics. */
  readonly metrics: Metrics | null;
  /** Webhook alerts (settings.alertsWebhooks), in the process that runs maintenance. */
  readonly alerts: Alerts | null;
  /** The certificates as metrics and alerts see them (the process that runs maintenance). */
  readonly view: CertificateView | null;
  /** An event recorded by another process (a serving worker): the view and the alerts take it in. */
  observeEvent(event: CertEvent): void;
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
  // Built below, once the store exists; the event path reaches them from the first event on.
  let metrics: Metrics | null = null;
  let view: CertificateView | null = null;
  let alerts: Alerts | null = null;
  const engines = createAcmeEngines(settings, {
    warn: (m) => acmeLog.warn(m),
    // Every certificate event reaches the log too: issuance start and end, failures, renewals.
    onEvent: (e) => {
      certLog[e.type === 'cert_failed' || e.type === 'attempts_exhausted' ? 'warn' : 'info']({ name: e.name, event: e.type }, e.message);
      metrics?.onEvent(e);
      view?.onEvent(e);
      alerts?.onEvent(e);
      options.onEvent?.(e);
    },
    workers: workers > 1 || options.serve === false,
    ...(options.hookEnv ? { hookEnv: options.hookEnv } : {}),
  });
  try {
    await engines.ready();
  } catch (err) {
    // Nothing half-configured: the pool goes, nothing listens, nothing was written.
    await engines.close();
    throw err;
  }
  const acme = settings.mode === 'production' && settings.acmeAgreeTos;
  // A store encrypted with a key this node does not have refuses the start before anything is
  // written or listens (read only: the key ids of the stored secrets).
  await engines.store.checkSecrets();
  const localCa = new LocalCa({ dir: `${engines.paths.root}/local-ca` });
  const { created } = await localCa.load();
  // The issuer is built (and the account key made) before anything listens: a bad ACME setting
  // fails the start, not the first visitor's handshake.
  const issuer = acme ? engines.issuer() : null;
  const manager = acme ? engines.manager() : null;
  // The process that runs maintenance owns the certificate view, the alerts and the trust store;
  // serving workers count their handshakes and requests, and the primary merges them.
  const owner = maintain;
  if (owner && (settings.metrics || settings.alertsWebhooks))
    view = new CertificateView({ store: engines.store, onChange: (entry, name) => alerts?.onViewChange(entry, name) });
  if (settings.metrics) metrics = createMetrics({ view, maxNames: settings.metricsMaxNames, ...(options.metricsPeers ? { peers: options.metricsPeers } : {}) });
  if (owner && settings.alertsWebhooks?.length) {
    const alertLog = log.child({ area: 'alerts' });
    alerts = createAlerts({
      ...options.alertOptions,
      urls: settings.alertsWebhooks,
      secret: settings.alertsSecret,
      log: (level, msg, extra) => alertLog[level](extra ?? {}, msg),
    });
  }
  const trust: TrustStore | null = owner && (metrics || alerts) ? createTrustStore({ dir: engines.paths.caCerts, systemRoots: false, pollMs: 5000 }) : null;
  trust?.on('change', (set) => {
    metrics?.trustLoaded(set.entries.length, new Set(set.problems.map((p) => p.file)).size);
    alerts?.trustLoaded(set.problems);
  });
  const cache = new CertCache();
  const edgeLog = log.child({ area: 'edge' });
  const keyring = engines.store.keyring;
  const tickets = new TicketKeys({
    storage: engines.store.storage,
    // Sealed with the store key like private keys (a key is a secret wherever it is stored).
    codec: {
      seal: (text) => keyring.seal('tickets', 'tickets', text),
      open: (text) => keyring.open('tickets', 'tickets', text, TICKET_KEYS_KEY),
    },
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
      // On a PostgreSQL store the budgets are the cluster's, counted in the database: not split.
      onDemandPerMinute: engines.pg ? settings.onDemandPerMinute : share(settings.onDemandPerMinute),
      ...(engines.pg ? { sharedBudget: new PgCounters(engines.pg.pool) } : {}),
      onDemandPerClient: settings.onDemandPerClient,
      onDemandTimeoutMs: settings.onDemandWait,
      log: ({ level, msg, ...rest }) => edgeLog[level](rest, msg),
      accessLog: settings.accessLog ? (options.accessLog ?? null) : null,
      observer: metrics?.edge ?? null,
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
  const storeLog = log.child({ area: 'store' });
  let watcher: ReturnType<typeof watchStore> | null = null;
  let heartbeat: ReturnType<typeof startHeartbeat> | null = null;
  /** Another node wrote: its certificates are served from the next handshake, its TLS-ALPN-01 answers given here too. */
  const onStoreChange = (keys: string[]) => {
    const names: string[] = [];
    for (const key of keys) {
      const [top, a, b] = key.split('/');
      if (top === 'certificates' && a && a !== 'index.log') names.push(nameFromSegment(a));
      else if (top === 'challenges' && a === 'tls-alpn-01' && b) void engines.answers.syncAlpn(b).catch(() => {});
      // Another node rotated the session ticket keys: a ticket from any node resumes here too.
      else if (top === 'tickets') void edge?.refreshTickets().catch(() => {});
    }
    if (names.length && acme) void refresh(names).catch((err) => storeLog.warn(`refreshing ${names.length} certificates: ${(err as Error).message}`));
  };
  let admin: AdminServer | null = null;

  return {
    settings,
    acme,
    engines,
    localCa,
    localCaCreated: created,
    metrics,
    alerts,
    view,
    observeEvent(e) {
      view?.onEvent(e);
      alerts?.onEvent(e);
    },
    get adminUrl() {
      return admin?.url ?? null;
    },
    async start() {
      if (view) {
        await view.load();
        alerts?.start(() => view?.entries() ?? []);
      }
      await trust?.start();
      if (workers > 1 || !serve) await issuer?.prepareAccountKey();
      // The process that maintains the store also tidies it: a writer killed mid-write leaves a
      // temp file or a version that was never swapped in, which nothing else would remove.
      if (maintain) {
        const swept = await engines.store.sweep().catch((err: Error) => {
          certLog.warn(`tidying the store: ${err.message}`);
          return [];
        });
        if (swept.length) certLog.info({ removed: swept }, `removed ${swept.length} leftover${swept.length === 1 ? '' : 's'} of interrupted writes`);
      }
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
          edgeLog.error(
            { name: e.name, files },
            `${e.name}: the stored certificate is damaged: ${problem} (${files?.fullchain ?? 'in the PostgreSQL store'}); obtaining a new one`,
          );
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
      if (engines.pg) {
        const pg = engines.pg;
        watcher = watchStore({
          target: pg.target,
          pool: pg.pool,
          onChange: onStoreChange,
          log: storeLog,
          ...(options.cluster?.resyncMs ? { resyncMs: options.cluster.resyncMs } : {}),
        });
        await watcher.started;
        heartbeat = startHeartbeat(pg.pool, {
          id: nodeId(),
          version: options.version ?? 'unknown',
          ...(options.cluster?.heartbeatMs ? { intervalMs: options.cluster.heartbeatMs } : {}),
        });
      }
      if (options.admin?.enabled !== false && settings.adminListen !== 'off') {
        // Loaded only when on: hono and the schemas are not paid for by `serve --admin-listen off`.
        const { startAdminFor } = await import('./admin.ts');
        admin = await startAdminFor(settings, {
          engines,
          localCa,
          manager,
          log: log.child({ area: 'admin' }),
          env: options.hookEnv ?? {},
          current: () => current as unknown as Record<string, unknown>,
          // A certificate obtained through the admin API is served at once, by the workers too.
          refresh: async (names) => {
            await refresh(names);
            options.onRenewed?.(names);
          },
          // This process's metrics at /metrics (with workers, merged with theirs at each scrape).
          providers: { ...(metrics ? { metrics } : {}), ...(options.admin ?? {}) },
          optional: options.admin?.optional === true,
        }).catch(async (err) => {
          await edge?.close();
          throw err;
        });
      }
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
      await admin?.close();
      closed = true;
      if (rotateTimer) clearTimeout(rotateTimer);
      for (const t of ticketTimers) clearInterval(t);
      await edge?.close();
      await maintainer?.close();
      await trust?.close();
      metrics?.close();
      if (alerts) {
        // Alerts raised just before the stop get a moment to go out; a hanging webhook does not hold the stop.
        let timer: NodeJS.Timeout | undefined;
        await Promise.race([alerts.idle(), new Promise<void>((r) => (timer = setTimeout(r, 1000)))]);
        clearTimeout(timer);
        await alerts.close();
      }
      await watcher?.close();
      await heartbeat?.stop();
      await engines.close();
    },
  };
}
