/**
 * @module cli/commands/serve
 * `certgate serve`: the edge in front of an app, on its embedded defaults (filesystem store,
 * local CA for localhost) or with ACME for public names. `certgate local-ca export|path`.
 */
import { readFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import { CertCache } from '../../cache/cache.ts';
import { parseConfigText, type ServeConfig, validateServeConfig } from '../../edge/config.ts';
import { Edge, type EdgeSettings } from '../../edge/edge.ts';
import { CertgateError } from '../../errors.ts';
import { LocalCa } from '../../localca/local-ca.ts';
import { dataPaths } from '../../paths.ts';
import { ACME_OPTIONS, acmeSetup, parseDuration } from '../acme-setup.ts';
import { parse } from '../args.ts';
import { palette } from '../color.ts';
import type { Io } from '../io.ts';

export const serveUsage =
  'certgate serve [--config FILE] [--upstream URL] [--https-port N] [--http-port N] [--host ADDR] [--no-redirect] [--no-hsts] [--hsts-max-age S] [--hsts-include-subdomains] [--hsts-preload] [--behind-proxy CIDR[,CIDR] [--behind-proxy-tls]] [--default-sni NAME] [--mode production|development] (+ the ACME options of certgate issue)';
export const localCaUsage = 'certgate local-ca export [--data DIR] | certgate local-ca path [--data DIR]';

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

export async function serve(argv: string[], io: Io): Promise<number> {
  const { values } = parse(argv, SERVE_OPTIONS, serveUsage);
  const config = await loadConfig(values, io);
  const all = merged(config, values, io.env);
  const root = typeof process.getuid === 'function' && process.getuid() === 0;
  // Not root: high ports, so the first README command works as it is.
  const envPorts = { ...io.env };
  if (all['https-port'] === undefined && envPorts.CERTGATE_HTTPS_PORT === undefined) all['https-port'] = root ? '443' : '8443';
  if (all['http-port'] === undefined && envPorts.CERTGATE_HTTP_PORT === undefined) all['http-port'] = root ? '80' : '8080';
  const setup = acmeSetup(all, io);
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
  const cache = new CertCache();
  for (const e of await setup.store.scan()) {
    const b = await setup.store.getBundle(e.name);
    if (b) cache.put(e.name, b);
  }
  const issuer = acmeOn ? setup.issuer() : null;
  const manager = acmeOn ? setup.manager() : null;
  const c = palette(io);
  const log = (e: { level: string; msg: string }) =>
    io.err(`${new Date().toISOString()} ${e.level === 'error' ? c.red(e.level) : e.level === 'warn' ? c.yellow(e.level) : e.level} ${e.msg}\n`);
  const behind = settings.behindProxy;
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
    onDemandPerMinute: config.onDemand.perMinute,
    onDemandPerClient: config.onDemand.perClient,
    onDemandTimeoutMs: durationMs(config.onDemand.wait),
    log,
  });
  const ports = await edge.start();
  const maintainer = manager && issuer ? setup.maintainer() : null;
  io.out(
    `certgate serve (${mode}${acmeOn ? `, ACME ${issuer?.directory}` : ', local CA only: set CERTGATE_ACME_AGREE_TOS=true and CERTGATE_ACME_EMAIL for public names'})\n` +
      `${ports.https !== null ? `  https://localhost${ports.https === 443 ? '' : `:${ports.https}`}/${behind ? ' (TLS from the load balancer)' : ''}\n` : ''}` +
      `${ports.http !== null ? `  http on port ${ports.http}: ACME HTTP-01${behind ? ', the app (behind a TLS-terminating proxy)' : ', redirect to https'}\n` : ''}` +
      `  local CA ${created ? 'created' : 'loaded'}: ${localCa.certPath}\n` +
      `  trust it: certgate local-ca export > certgate-local-ca.pem  (then NODE_EXTRA_CA_CERTS=certgate-local-ca.pem, curl --cacert certgate-local-ca.pem, or your OS/browser store)\n`,
  );
  if (maintainer) {
    const runCycle = async () => {
      const report = await maintainer.runCycle();
      for (const name of report.renewed) {
        const b = await setup.store.getBundle(name);
        if (b) edge.update(name, b);
      }
    };
    void runCycle().catch((err) => log({ level: 'error', msg: `maintenance: ${(err as Error).message}` }));
    const timer = setInterval(() => void runCycle().catch((err) => log({ level: 'error', msg: `maintenance: ${(err as Error).message}` })), setup.intervalMs);
    timer.unref();
    io.signal?.addEventListener('abort', () => clearInterval(timer), { once: true });
  }
  io.hangup?.(async () => {
    // Everything the edge can change while running comes from the file again; what needs a
    // restart (ports, data, ACME) is named. A broken file leaves the running settings.
    try {
      const next = await loadConfig(values, io);
      await edge.reconfigure(edgeSettings(next, values, io.env).settings);
      const restart = (['listen', 'data', 'acme', 'mode', 'domain', 'ask', 'onDemand'] as const).filter(
        (k) => JSON.stringify(next[k]) !== JSON.stringify(config[k]),
      );
      if (restart.length) log({ level: 'warn', msg: `SIGHUP: ${restart.join(', ')} changed; these take effect at the next restart` });
    } catch (err) {
      const e = err as CertgateError;
      log({ level: 'error', msg: `SIGHUP: configuration not reloaded, the running one stays: ${e.code ?? 'E_INTERNAL'} ${e.message}` });
    }
    for (const e of await setup.store.scan()) {
      const b = await setup.store.getBundle(e.name);
      if (b) edge.update(e.name, b);
    }
    log({ level: 'info', msg: 'SIGHUP: configuration and certificates reloaded' });
  });
  await new Promise<void>((resolve) => {
    if (!io.signal) return; // a library caller without a signal keeps it running
    if (io.signal.aborted) resolve();
    io.signal.addEventListener('abort', () => resolve(), { once: true });
  });
  log({ level: 'info', msg: 'stopping: draining connections' });
  await edge.close();
  await maintainer?.close();
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
  throw new CertgateError('E_USAGE', sub ? `unknown local-ca command "${sub}"` : 'local-ca needs a command', `usage: ${localCaUsage}`);
}
