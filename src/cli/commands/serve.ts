/**
 * @module cli/commands/serve
 * `certgate serve`: the edge in front of an app, on its embedded defaults (filesystem store,
 * local CA for localhost) or with ACME for public names. `certgate local-ca export|path`.
 */
import { readFile } from 'node:fs/promises';
import { createServer as createNetServer } from 'node:net';
import { availableParallelism } from 'node:os';
import { resolve } from 'node:path';
import { CertCache } from '../../cache/cache.ts';
import { parseConfigText, type ServeConfig, validateServeConfig } from '../../edge/config.ts';
import { Edge, type EdgeSettings } from '../../edge/edge.ts';
import { CertgateError } from '../../errors.ts';
import { listenOn } from '../../listen.ts';
import { LocalCa } from '../../localca/local-ca.ts';
import { dataPaths } from '../../paths.ts';
import { ACME_OPTIONS, acmeSetup, parseDuration } from '../acme-setup.ts';
import { parse } from '../args.ts';
import { palette } from '../color.ts';
import type { Io } from '../io.ts';
import { isWorker, superviseWorkers, workerChannel, workerId } from '../workers.ts';

export const serveUsage =
  'certgate serve [--config FILE] [--upstream URL] [--https-port N] [--http-port N] [--host ADDR] [--no-redirect] [--no-hsts] [--hsts-max-age S] [--hsts-include-subdomains] [--hsts-preload] [--behind-proxy CIDR[,CIDR] [--behind-proxy-tls]] [--default-sni NAME] [--workers N|auto] [--access-log] [--mode production|development] (+ the ACME options of certgate issue)';
export const localCaUsage = 'certgate local-ca export|path|env [--data DIR]';

const SERVE_OPTIONS = {
  ...ACME_OPTIONS,
  config: { type: 'string' },
  upstream: { type: 'string' },
  host: { type: 'string' },
  'no-redirect': { type: 'boolean' },
  'no-hsts': { type: 'boolean' },
  'hsts-max-age': { type: 'string' },
  'hsts-include-subdomains': { type: 'boolean' },
  'hsts-preload': { type: 'boolean' },
  'behind-proxy': { type: 'string' },
  'behind-proxy-tls': { type: 'boolean' },
  'default-sni': { type: 'string' },
  workers: { type: 'string' },
  'access-log': { type: 'boolean' },
  mode: { type: 'string' },
} as const;

async function loadConfig(values: Record<string, unknown>, io: Io): Promise<ServeConfig> {
  const file = (values.config as string | undefined) ?? io.env.CERTGATE_CONFIG;
  if (!file) return validateServeConfig({}, 'defaults');
  let text: string;
  try {
    text = await readFile(resolve(io.cwd, file), 'utf8');
  } catch (err) {
    throw new CertgateError('E_FILE_NOT_FOUND', `config ${file} cannot be read (${(err as NodeJS.ErrnoException).code})`, 'check --config / CERTGATE_CONFIG');
  }
  return parseConfigText(text, file);
}

/** Config values fill in only what neither a flag nor a CERTGATE_* variable set. */
function merged(config: ServeConfig, values: Record<string, unknown>, env: Record<string, string | undefined>): Record<string, unknown> {
  const out: Record<string, unknown> = { ...values };
  const fill = (flag: string, variable: string | null, value: unknown) => {
    if (value === undefined || value === null) return;
    if (out[flag] !== undefined) return;
    if (variable && env[variable] !== undefined) return;
    out[flag] = typeof value === 'number' ? String(value) : value;
  };
  fill('data', 'CERTGATE_DATA', config.data);
  fill('directory', 'CERTGATE_ACME_DIRECTORY', config.acme.directory);
  fill('email', 'CERTGATE_ACME_EMAIL', config.acme.email);
  fill('agree-tos', 'CERTGATE_ACME_AGREE_TOS', config.acme.agreeToTerms);
  fill('ca-root', 'CERTGATE_ACME_CA_ROOT', config.acme.caRoot);
  fill('challenges', 'CERTGATE_CHALLENGES', config.acme.challenges?.join(','));
  fill('dns-hook', 'CERTGATE_DNS_HOOK', config.acme.dnsHook);
  fill('key-type', 'CERTGATE_KEY_TYPE', config.acme.keyType);
  fill('domain', 'CERTGATE_DOMAIN', config.domain);
  fill('ask', 'CERTGATE_ASK', config.ask);
  fill('maintenance-interval', 'CERTGATE_MAINTENANCE_INTERVAL', config.maintenanceInterval);
  fill('https-port', 'CERTGATE_HTTPS_PORT', config.listen.https);
  fill('http-port', 'CERTGATE_HTTP_PORT', config.listen.http);
  return out;
}

/** The edge settings from flags, CERTGATE_* variables and the config file, in that order. */
function edgeSettings(
  config: ServeConfig,
  values: Record<string, unknown>,
  env: Record<string, string | undefined>,
): { settings: EdgeSettings; behindTls: boolean } {
  const behind = (values['behind-proxy'] as string | undefined) ?? env.CERTGATE_BEHIND_PROXY;
  const behindTls = Boolean(values['behind-proxy-tls']) || env.CERTGATE_BEHIND_PROXY_TLS === 'true' || Boolean(config.behindProxy?.tls);
  const hstsOff = Boolean(values['no-hsts']) || env.CERTGATE_HSTS === 'false' || config.hsts === false;
  const hstsConfig = config.hsts === false ? { maxAge: 31_536_000, includeSubDomains: false, preload: false } : config.hsts;
  const maxAgeText = (values['hsts-max-age'] as string | undefined) ?? env.CERTGATE_HSTS_MAX_AGE;
  const hsts = hstsOff
    ? null
    : {
        maxAge: maxAgeText !== undefined ? Number(maxAgeText) : hstsConfig.maxAge,
        includeSubDomains: Boolean(values['hsts-include-subdomains']) || hstsConfig.includeSubDomains,
        preload: Boolean(values['hsts-preload']) || hstsConfig.preload,
      };
  if (hsts && (!/^\d+$/.test(String(hsts.maxAge)) || hsts.maxAge < 0))
    throw new CertgateError('E_USAGE', `--hsts-max-age ${maxAgeText} is not a number of seconds`, 'e.g. --hsts-max-age 31536000');
  const defaultSni =
    (values['default-sni'] as string | undefined) ?? env.CERTGATE_DEFAULT_SNI ?? config.defaultSni ?? config.domain ?? env.CERTGATE_DOMAIN ?? null;
  const settings: EdgeSettings = {
    upstream: (values.upstream as string | undefined) ?? env.CERTGATE_UPSTREAM ?? config.upstream ?? null,
    routes: config.routes,
    redirect: !values['no-redirect'] && env.CERTGATE_REDIRECT !== 'false' && config.redirect,
    hsts,
    behindProxy: behind
      ? { trustedProxies: behind.split(',').map((s) => s.trim()) }
      : config.behindProxy
        ? { trustedProxies: config.behindProxy.trustedProxies }
        : null,
    defaultSni,
  };
  return { settings, behindTls };
}

function durationMs(value: number | string): number {
  return typeof value === 'number' ? value * 1000 : parseDuration(value, 'onDemand.wait');
}

/** `--workers N|auto` (flag, CERTGATE_WORKERS, config `workers`): 1 by default. */
function workerCount(raw: unknown): number {
  if (raw === undefined || raw === null) return 1;
  if (raw === 'auto') return availableParallelism();
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 1 || n > 256)
    throw new CertgateError('E_USAGE', `--workers ${String(raw)} is not a number of processes`, 'use --workers auto (one per core) or 1 to 256');
  return n;
}

export async function serve(argv: string[], io: Io): Promise<number> {
  const { values } = parse(argv, SERVE_OPTIONS, serveUsage);
  const config = await loadConfig(values, io);
  const all = merged(config, values, io.env);
  const root = typeof process.getuid === 'function' && process.getuid() === 0;
  // Not root: high ports, so the first README command works as it is.
  const envPorts = { ...io.env };
  if (all['https-port'] === undefined && envPorts.CERTGATE_HTTPS_PORT === undefined) all['https-port'] = root ? '443' : '8443';
  if (all['http-port'] === undefined && envPorts.CERTGATE_HTTP_PORT === undefined) all['http-port'] = root ? '80' : '8080';
  const workers = workerCount(values.workers ?? io.env.CERTGATE_WORKERS ?? config.workers);
  const worker = isWorker();
  const setup = acmeSetup(all, io, { workers: workers > 1 || worker });
  const mode = (values.mode as string | undefined) ?? io.env.CERTGATE_MODE ?? config.mode;
  if (mode !== 'production' && mode !== 'development')
    throw new CertgateError(
      'E_USAGE',
      `--mode ${mode} is not production or development`,
      'use --mode production (ACME for public names) or development (local CA only)',
    );
  const acmeOn = mode === 'production' && (Boolean(all['agree-tos']) || io.env.CERTGATE_ACME_AGREE_TOS === 'true');
  const { settings, behindTls } = edgeSettings(config, values, io.env);
  const localCa = new LocalCa({ dir: `${setup.paths.root}/local-ca` });
  const { created } = await localCa.load();
  const issuer = acmeOn ? setup.issuer() : null;
  const manager = acmeOn ? setup.manager() : null;
  const c = palette(io);
  const tag = worker ? ` worker ${workerId()}` : '';
  const log = (e: { level: string; msg: string }) =>
    io.err(`${new Date().toISOString()}${tag} ${e.level === 'error' ? c.red(e.level) : e.level === 'warn' ? c.yellow(e.level) : e.level} ${e.msg}\n`);
  const behind = settings.behindProxy;
  const banner = (ports: { https: number | null; http: number | null }) =>
    io.out(
      `certgate serve (${mode}${acmeOn ? `, ACME ${issuer?.directory}` : ', local CA only: set CERTGATE_ACME_AGREE_TOS=true and CERTGATE_ACME_EMAIL for public names'}${workers > 1 ? `, ${workers} worker processes` : ''})\n` +
        `${ports.https !== null ? `  https://localhost${ports.https === 443 ? '' : `:${ports.https}`}/${behind ? ' (TLS from the load balancer)' : ''}\n` : ''}` +
        `${ports.http !== null ? `  http on port ${ports.http}: ACME HTTP-01${behind ? ', the app (behind a TLS-terminating proxy)' : ', redirect to https'}\n` : ''}` +
        `  local CA ${created ? 'created' : 'loaded'}: ${localCa.certPath}\n` +
        `  trust it: certgate local-ca export > certgate-local-ca.pem  (then NODE_EXTRA_CA_CERTS=certgate-local-ca.pem, curl --cacert certgate-local-ca.pem, or your OS/browser store)\n`,
    );
  const stopped = new Promise<void>((resolve) => {
    if (!io.signal) return; // a library caller without a signal keeps it running
    if (io.signal.aborted) resolve();
    io.signal.addEventListener('abort', () => resolve(), { once: true });
  });
  // Maintenance runs in one process only: the primary with workers, else this one.
  const startMaintenance = (renewed: (names: string[]) => void | Promise<void>) => {
    if (!manager || !issuer) return null;
    const maintainer = setup.maintainer();
    const runCycle = async () => {
      const report = await maintainer.runCycle();
      if (report.renewed.length) await renewed(report.renewed);
    };
    const fail = (err: unknown) => log({ level: 'error', msg: `maintenance: ${(err as Error).message}` });
    void runCycle().catch(fail);
    const timer = setInterval(() => void runCycle().catch(fail), setup.intervalMs);
    timer.unref();
    return {
      close: async () => {
        clearInterval(timer);
        await maintainer.close();
      },
    };
  };

  if (workers > 1 && !worker) {
    // A busy port is said once, here, rather than by every worker.
    const httpsPort = behind && !behindTls ? null : Number(all['https-port']);
    const host = typeof values.host === 'string' ? values.host : config.listen.host;
    for (const [port, what] of [
      [httpsPort, 'HTTPS'],
      [Number(all['http-port']), 'HTTP'],
    ] as const) {
      if (port === null || port === 0) continue;
      const probe = createNetServer();
      await listenOn(probe, port, host, what);
      await new Promise((r) => probe.close(r));
    }
    await issuer?.prepareAccountKey();
    const supervisor = superviseWorkers(workers, (level, msg) => log({ level, msg }));
    try {
      await supervisor.ready;
    } catch (code) {
      return typeof code === 'number' && code !== 0 ? code : 1; // the worker said why on stderr
    }
    banner({ https: behind && !behindTls ? null : Number(all['https-port']), http: Number(all['http-port']) });
    const maintenance = startMaintenance((names) => supervisor.broadcast({ type: 'renewed', names }));
    io.hangup?.(() => {
      supervisor.broadcast({ type: 'hangup' });
      log({ level: 'info', msg: 'SIGHUP: passed to the workers' });
    });
    const code = await Promise.race([stopped.then(() => 0), supervisor.failed]);
    log({ level: 'info', msg: 'stopping: draining connections' });
    await supervisor.stop(15_000);
    await maintenance?.close();
    return code;
  }

  const cache = new CertCache();
  for (const e of await setup.store.scan()) {
    const b = await setup.store.getBundle(e.name);
    if (b) cache.put(e.name, b);
  }
  // The global budget is split among workers so that the total holds. A client's budget is not:
  // the kernel may hand all of one client's connections to one worker.
  const share = (n: number) => (worker ? Math.max(1, Math.ceil(n / workers)) : n);
  const edge = new Edge({
    ...settings,
    upstream: settings.upstream ?? null,
    httpsPort: behind && !behindTls ? null : Number(all['https-port']),
    httpPort: Number(all['http-port']),
    ...(typeof values.host === 'string' ? { host: values.host } : config.listen.host ? { host: config.listen.host } : {}),
    cache,
    localCa,
    answers: setup.answers,
    ...(manager ? { manager, registry: setup.registry } : {}),
    onDemandPerMinute: share(config.onDemand.perMinute),
    onDemandPerClient: config.onDemand.perClient,
    onDemandTimeoutMs: durationMs(config.onDemand.wait),
    log,
    accessLog: values['access-log'] || io.env.CERTGATE_ACCESS_LOG === 'true' || config.accessLog ? (entry) => io.out(`${JSON.stringify(entry)}\n`) : null,
  });
  const ports = await edge.start();
  const fromStore = async (names: string[]) => {
    for (const name of names) {
      const b = await setup.store.getBundle(name);
      if (b) edge.update(name, b);
    }
  };
  const reload = async () => {
    // Everything the edge can change while running comes from the file again; what needs a
    // restart (ports, data, ACME) is named. A broken file leaves the running settings.
    try {
      const next = await loadConfig(values, io);
      await edge.reconfigure(edgeSettings(next, values, io.env).settings);
      const restart = (['listen', 'data', 'acme', 'mode', 'domain', 'ask', 'onDemand', 'workers'] as const).filter(
        (k) => JSON.stringify(next[k]) !== JSON.stringify(config[k]),
      );
      if (restart.length) log({ level: 'warn', msg: `SIGHUP: ${restart.join(', ')} changed; these take effect at the next restart` });
    } catch (err) {
      const e = err as CertgateError;
      log({ level: 'error', msg: `SIGHUP: configuration not reloaded, the running one stays: ${e.code ?? 'E_INTERNAL'} ${e.message}` });
    }
    await fromStore((await setup.store.scan()).map((e) => e.name));
    log({ level: 'info', msg: 'SIGHUP: configuration and certificates reloaded' });
  };
  let maintenance: { close(): Promise<void> } | null = null;
  let stopRequested: () => void = () => {};
  const stopMessage = new Promise<void>((resolve) => {
    stopRequested = resolve;
  });
  let channel: ReturnType<typeof workerChannel> | null = null;
  if (worker) {
    channel = workerChannel((m) => {
      if (m.type === 'stop') stopRequested();
      else if (m.type === 'hangup') void reload();
      else if (m.type === 'renewed') void fromStore(m.names).catch((err) => log({ level: 'error', msg: `renewed certificates: ${(err as Error).message}` }));
    });
    channel.ready();
  } else {
    banner(ports);
    maintenance = startMaintenance(fromStore);
    io.hangup?.(reload);
  }
  await Promise.race([stopped, stopMessage]);
  log({ level: 'info', msg: 'stopping: draining connections' });
  await edge.close();
  await maintenance?.close();
  channel?.done();
  return 0;
}

export async function localCaCommand(argv: string[], io: Io): Promise<number> {
  const [sub, ...rest] = argv;
  const { values } = parse(rest, { data: { type: 'string' } }, localCaUsage);
  const paths = dataPaths({ ...io.env, ...(typeof values.data === 'string' ? { CERTGATE_DATA: values.data } : {}) }, io.cwd);
  const ca = new LocalCa({ dir: `${paths.root}/local-ca` });
  if (sub === 'export') {
    io.out((await ca.load()).certPem);
    return 0;
  }
  if (sub === 'path') {
    await ca.load();
    io.out(`${ca.certPath}\n`);
    return 0;
  }
  if (sub === 'env') {
    await ca.load();
    const q = (p: string) => `'${p.replace(/'/g, `'\\''`)}'`;
    io.out(
      `# Node.js adds this CA to its own roots (nothing else changes):\n` +
        `export NODE_EXTRA_CA_CERTS=${q(ca.certPath)}\n` +
        `# curl, git, Python and OpenSSL take one bundle instead of the system roots: give them both with\n` +
        `#   certgate trust add ${q(ca.certPath)} --yes && eval "$(certgate trust env)"\n` +
        `# or for one command: curl --cacert ${q(ca.certPath)} https://localhost:8443/\n`,
    );
    return 0;
  }
  throw new CertgateError('E_USAGE', sub ? `unknown local-ca command "${sub}"` : 'local-ca needs a command', `usage: ${localCaUsage}`);
}
