/**
 * @module cli/commands/serve
 * `certgate serve`: resolve the settings once, build the runtime, start it, wait for a signal,
 * close. With `--workers N` the primary runs maintenance and supervises N workers, which get
 * the resolved settings from it and do not resolve again. `certgate local-ca export|path|env`.
 */
import { createServer as createNetServer } from 'node:net';
import { CertgateError } from '../../errors.ts';
import { listenOn } from '../../listen.ts';
import { LocalCa } from '../../localca/local-ca.ts';
import { createLogger, type Logger } from '../../log.ts';
import type { MetricsJson } from '../../metrics/index.ts';
import { buildRuntime, type Runtime, workerCount } from '../../runtime/server.ts';
import type { ServerSettings } from '../../runtime/settings.ts';
import type { CertEvent } from '../../store/store.ts';
import { parse } from '../args.ts';
import type { Io } from '../io.ts';
import { VERSION } from '../run.ts';
import { dataPathsFor, loadSettings, withSource } from '../settings/load.ts';
import { DATA_TABLE, SERVE_TABLE } from '../settings/rows.ts';
import { describeSource, flagOptions, renderHelp, type SettingsOf, type Source } from '../settings/table.ts';
import { isWorker, superviseWorkers, WORKER_SETTINGS_ENV, workerChannel, workerId } from '../workers.ts';

export const serveUsage = 'certgate serve [options]';
export const serveHelp = () => renderHelp(serveUsage, SERVE_TABLE, ['  --json                         errors as a JSON object on standard output']);
export const localCaUsage = `certgate local-ca export|path|env|install|uninstall [--data DIR]
  export | path | env                    the CA's PEM, its file, how to trust it per program
  install [--no-system] [--no-nss] [--no-java] [--json]
                                         trust it system-wide (update-ca-certificates), in the browsers (NSS: ~/.pki/nssdb,
                                         Firefox profiles) and in Java (keytool); safe to repeat
  uninstall [--no-system] [--no-nss] [--no-java] [--json]   remove it from the same stores`;

type ServeSettings = SettingsOf<typeof SERVE_TABLE>;

function serverSettings(s: ServeSettings): ServerSettings {
  const { config: _config, workers: _workers, ...rest } = s;
  return rest;
}

export function serveLogger(io: Io, base?: Record<string, unknown>): Logger {
  return createLogger({
    write: (line) => io.err(line),
    pretty: Boolean(io.errIsTTY),
    colour: Boolean(io.errIsTTY) && io.env.NO_COLOR === undefined,
    ...(base ? { base } : {}),
  });
}

function banner(io: Io, runtime: Runtime, ports: { https: number | null; http: number | null }, workers: number): void {
  const s = runtime.settings;
  const behind = s.behindProxy !== null;
  const http =
    ports.http === null
      ? ''
      : behind
        ? ', the app (behind a TLS-terminating proxy)'
        : s.redirect
          ? ', redirect to https'
          : ', the app over plain http (no redirect)';
  io.err(
    `certgate serve (${s.mode}${runtime.acme ? `, ACME ${runtime.engines.issuer().directory}` : ', local CA only: set CERTGATE_ACME_AGREE_TOS=true and CERTGATE_ACME_EMAIL for public names'}${workers > 1 ? `, ${workers} worker processes` : ''})\n` +
      `${ports.https !== null ? `  https://localhost${ports.https === 443 ? '' : `:${ports.https}`}/${behind ? ' (TLS from the load balancer)' : ''}\n` : ''}` +
      `${ports.http !== null ? `  http on port ${ports.http}: ACME HTTP-01${http}\n` : ''}` +
      `  local CA ${runtime.localCaCreated ? 'created' : 'loaded'}: ${runtime.localCa.certPath}\n` +
      `${runtime.adminUrl ? `  admin API and dashboard: ${runtime.adminUrl} (a token: certgate admin token create)\n` : ''}` +
      `  trust it: certgate local-ca export > certgate-local-ca.pem  (then NODE_EXTRA_CA_CERTS=certgate-local-ca.pem, curl --cacert certgate-local-ca.pem, or your OS/browser store)\n`,
  );
}

function stoppedBy(io: Io): Promise<void> {
  return new Promise<void>((resolve) => {
    if (!io.signal) return; // a library caller without a signal keeps it running
    if (io.signal.aborted) resolve();
    io.signal.addEventListener('abort', () => resolve(), { once: true });
  });
}

/** A busy port is said once, by the primary, rather than by every worker. */
export async function checkPorts(s: ServerSettings): Promise<void> {
  const https = s.behindProxy && !s.behindProxyTls ? null : s.httpsPort;
  for (const [port, what] of [
    [https, 'HTTPS'],
    [s.httpPort, 'HTTP'],
  ] as const) {
    if (port === null || port === 0) continue;
    const probe = createNetServer();
    await listenOn(probe, port, s.host, what);
    await new Promise((r) => probe.close(r));
  }
}

export async function serve(argv: string[], io: Io): Promise<number> {
  const { values } = parse(argv, { ...flagOptions(SERVE_TABLE), json: { type: 'boolean' } }, serveUsage);
  const worker = isWorker();
  let resolved: ServeSettings;
  let sources: Record<string, Source> | null = null;
  if (worker) {
    resolved = JSON.parse(io.env[WORKER_SETTINGS_ENV] ?? '{}') as ServeSettings;
  } else {
    const loaded = await loadSettings(SERVE_TABLE, values, io, 'serve');
    resolved = loaded.settings;
    sources = loaded.source;
  }
  const settings = serverSettings(resolved);
  const workers = workerCount(resolved.workers);
  const log = serveLogger(io, worker ? { worker: workerId() } : undefined);
  const stopped = stoppedBy(io);
  // The admin API runs in one process (this one, or the primary): it shows the settings with
  // their sources and reloads through the same path as SIGHUP.
  let reloadHook: (() => Promise<{ restart: string[] }>) | null = null;
  const admin = {
    enabled: !worker,
    // The default address may be held by another certgate on this host: a warning, not a failure.
    optional: sources?.adminListen?.from === 'default',
    settings: async () => ({
      settings: Object.fromEntries(
        Object.keys(SERVE_TABLE).map((k) => [
          k,
          {
            value: (SERVE_TABLE as Record<string, { secret?: boolean }>)[k]?.secret ? '(redacted)' : (resolved as Record<string, unknown>)[k],
            source: sources?.[k] ? describeSource(sources[k] as Source) : 'worker',
          },
        ]),
      ),
    }),
    // The same checks as `certgate doctor`, on the running settings (its ports are this server's).
    doctor: () => import('../../doctor/index.ts').then((m) => m.runDoctor(settings)),
    reload: () => {
      if (!reloadHook) throw new CertgateError('E_ADMIN_UNAVAILABLE', 'the server is still starting', 'try again in a moment');
      return reloadHook();
    },
  };
  const build = (opts: Parameters<typeof buildRuntime>[1]) =>
    buildRuntime(settings, { log, hookEnv: io.env, version: VERSION, admin, ...opts }).catch((err) => {
      throw withSource(err, SERVE_TABLE);
    });

  if (workers > 1 && !worker) {
    await checkPorts(settings);
    let supervisor: ReturnType<typeof superviseWorkers> | null = null;
    const runtime = await build({
      serve: false,
      maintain: true,
      onRenewed: (names) => supervisor?.broadcast({ type: 'renewed', names }),
      // A scrape of the primary asks every worker for its handshake, request and on-demand counters.
      metricsPeers: async () => ((await supervisor?.metrics()) ?? []) as MetricsJson[],
      onTicketsRotated: () => supervisor?.broadcast({ type: 'tickets' }),
    });
    // The account key exists before the workers start (they would race to create it), and
    // maintenance runs here, in one process only.
    await runtime.start();
    supervisor = superviseWorkers(workers, (level, msg) => log[level](msg), {
      // Workers send no alerts: the alerts' secret stays in the primary.
      [WORKER_SETTINGS_ENV]: JSON.stringify({ ...resolved, alertsSecret: undefined }),
    });
    supervisor.onEvent = (event) => runtime.observeEvent(event as CertEvent);
    try {
      await supervisor.ready;
    } catch (code) {
      return typeof code === 'number' && code !== 0 ? code : 1; // the worker said why on stderr
    }
    banner(io, runtime, { https: settings.behindProxy && !settings.behindProxyTls ? null : settings.httpsPort, http: settings.httpPort }, workers);
    const hangup = async (): Promise<{ restart: string[] }> => {
      const next = await loadSettings(SERVE_TABLE, values, io, 'serve');
      resolved = next.settings;
      sources = next.source;
      supervisor?.broadcast({ type: 'hangup', settings: next.settings });
      log.info('SIGHUP: configuration passed to the workers');
      return { restart: [] };
    };
    reloadHook = hangup;
    io.hangup?.(async () => {
      try {
        await hangup();
      } catch (err) {
        const e = err as CertgateError;
        log.error(`SIGHUP: configuration not reloaded, the running one stays: ${e.code ?? 'E_INTERNAL'} ${e.message}`);
      }
    });
    const code = await Promise.race([stopped.then(() => 0), supervisor.failed]);
    log.info('stopping: draining connections');
    await supervisor.stop(15_000);
    await runtime.close();
    return code;
  }

  let channel: ReturnType<typeof workerChannel> | null = null;
  const runtime = await build({
    maintain: !worker,
    // A worker's events (on-demand issuance) reach the primary's certificate view and alerts.
    ...(worker ? { onEvent: (event: CertEvent) => channel?.send({ type: 'event', event }) } : {}),
    ...(worker ? { workers: { count: workers } } : {}),
    // A worker's entries say which worker served (its number, as in its log lines).
    accessLog: worker ? (entry) => io.out(`${JSON.stringify({ ...entry, worker: workerId() })}\n`) : (entry) => io.out(`${JSON.stringify(entry)}\n`),
  });
  const ports = await runtime.start();
  const apply = async (fromPrimary?: ServeSettings): Promise<{ restart: string[] }> => {
    let next = fromPrimary;
    if (!next) {
      const loaded = await loadSettings(SERVE_TABLE, values, io, 'serve');
      next = loaded.settings;
      resolved = loaded.settings;
      sources = loaded.source;
    }
    const restart = await runtime.reload(serverSettings(next));
    if (restart.length) log.warn(`SIGHUP: ${restart.join(', ')} changed; these take effect at the next restart`);
    log.info('SIGHUP: configuration and certificates reloaded');
    return { restart };
  };
  reloadHook = apply;
  const reload = async (fromPrimary?: ServeSettings) => {
    // Everything the edge can change while running comes from the file again; what needs a
    // restart (ports, data, ACME) is named. A broken file leaves the running settings.
    try {
      await apply(fromPrimary);
    } catch (err) {
      const e = err as CertgateError;
      log.error(`SIGHUP: configuration not reloaded, the running one stays: ${e.code ?? 'E_INTERNAL'} ${e.message}`);
    }
  };
  let stopRequested: () => void = () => {};
  const stopMessage = new Promise<void>((resolve) => {
    stopRequested = resolve;
  });
  if (worker) {
    channel = workerChannel((m) => {
      if (m.type === 'stop') stopRequested();
      else if (m.type === 'hangup') void reload(m.settings as ServeSettings);
      else if (m.type === 'renewed') void runtime.refresh(m.names).catch((err) => log.error(`renewed certificates: ${(err as Error).message}`));
      else if (m.type === 'metrics')
        void (runtime.metrics?.json() ?? Promise.resolve([])).then(
          (metrics) => channel?.send({ type: 'metrics', id: m.id, metrics }),
          () => channel?.send({ type: 'metrics', id: m.id, metrics: [] }),
        );
      else if (m.type === 'tickets') void runtime.refreshTickets();
    });
    channel.ready();
  } else {
    banner(io, runtime, ports, 1);
    io.hangup?.(() => reload());
  }
  await Promise.race([stopped, stopMessage]);
  log.info('stopping: draining connections');
  await runtime.close();
  channel?.done();
  return 0;
}

export async function localCaCommand(argv: string[], io: Io): Promise<number> {
  const [sub, ...rest] = argv;
  const { values } = parse(
    rest,
    {
      ...flagOptions(DATA_TABLE),
      'https-port': { type: 'string' },
      json: { type: 'boolean' },
      'no-system': { type: 'boolean' },
      'no-nss': { type: 'boolean' },
      'no-java': { type: 'boolean' },
    },
    localCaUsage,
  );
  const ca = new LocalCa({ dir: `${dataPathsFor(values, io).root}/local-ca` });
  if (sub === 'export') {
    const { certPem } = await ca.load();
    io.out(values.json ? `${JSON.stringify({ path: ca.certPath, pem: certPem })}\n` : certPem);
    return 0;
  }
  if (sub === 'path') {
    await ca.load();
    io.out(values.json ? `${JSON.stringify({ path: ca.certPath })}\n` : `${ca.certPath}\n`);
    return 0;
  }
  if (sub === 'env') {
    await ca.load();
    const { settings: ports } = await loadSettings(
      { httpsPort: SERVE_TABLE.httpsPort, config: SERVE_TABLE.config },
      { 'https-port': values['https-port'] },
      io,
      'serve',
    );
    const port = ports.httpsPort ?? 8443;
    if (values.json) {
      io.out(`${JSON.stringify({ variables: { NODE_EXTRA_CA_CERTS: ca.certPath }, url: `https://localhost${port === 443 ? '' : `:${port}`}/` })}\n`);
      return 0;
    }
    const q = (p: string) => `'${p.replace(/'/g, `'\\''`)}'`;
    io.out(
      `# Node.js adds this CA to its own roots (nothing else changes):\n` +
        `export NODE_EXTRA_CA_CERTS=${q(ca.certPath)}\n` +
        `# curl, git, Python and OpenSSL take one bundle instead of the system roots: give them both with\n` +
        `#   certgate trust add ${q(ca.certPath)} --yes && eval "$(certgate trust env)"\n` +
        `# or for one command: curl --cacert ${q(ca.certPath)} https://localhost${port === 443 ? '' : `:${port}`}/\n`,
    );
    return 0;
  }
  if (sub === 'install' || sub === 'uninstall') {
    // Loaded here only: serve itself never needs them.
    const [{ installLocalCa, uninstallLocalCa }, { decodeCertificate }, { parsePem }] = await Promise.all([
      import('../../localca/install.ts'),
      import('../../pki/certificate.ts'),
      import('../../pki/pem.ts'),
    ]);
    const { certPem } = await ca.load();
    const home = io.env.HOME;
    if (!home && values['no-nss'] !== true)
      throw new CertgateError('E_USAGE', "HOME is not set: the browsers' store (~/.pki/nssdb) cannot be found", 'set HOME, or pass --no-nss');
    const options = {
      certPem,
      certPath: ca.certPath,
      home: home ?? '/nonexistent',
      path: io.env.PATH ?? '',
      stores: { system: values['no-system'] !== true, nss: values['no-nss'] !== true, java: values['no-java'] !== true },
    };
    const results = sub === 'install' ? await installLocalCa(options) : await uninstallLocalCa(options);
    const subject = decodeCertificate(parsePem(certPem)[0]?.der ?? Buffer.alloc(0)).info;
    if (values.json) {
      io.out(
        `${JSON.stringify({ certificate: { path: ca.certPath, subject: subject.subject, sha256: subject.fingerprints.sha256 }, stores: results }, null, 2)}\n`,
      );
    } else {
      const mark = { added: '+', replaced: '+', already: '=', removed: '-', absent: '=', skipped: '·' } as const;
      io.out(`${sub === 'install' ? 'installing' : 'removing'} "${subject.subjectCommonName ?? subject.subject}" (${ca.certPath})\n`);
      for (const r of results) io.out(`  ${mark[r.action]} ${r.store.padEnd(8)} ${r.action.padEnd(9)} ${r.target}: ${r.detail}\n`);
      if (sub === 'install') io.out('  programs already running (browsers, Java) read their store at start: restart them\n');
    }
    return 0;
  }
  throw new CertgateError('E_USAGE', sub ? `unknown local-ca command "${sub}"` : 'local-ca needs a command', `usage: ${localCaUsage}`);
}
