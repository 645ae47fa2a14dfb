/**
 * @module trust/store
 * The trust store: Node's bundled roots plus every certificate in `ca-certs/`, reloaded when
 * the directory changes (inotify, with a polling fallback for bind mounts and network file
 * systems). Everything it hands out (secure contexts, an undici dispatcher, an https.Agent)
 * always uses the current set: no restart.
 */
import { EventEmitter } from 'node:events';
import { type FSWatcher, watch } from 'node:fs';
import { type AgentOptions, Agent as HttpsAgent } from 'node:https';
import type { Socket } from 'node:net';
import { type ConnectionOptions, createSecureContext, rootCertificates, type SecureContext } from 'node:tls';
import { buildConnector, Agent as UndiciAgent } from 'undici';
import { CertgateError } from '../errors.ts';
import { toPem } from '../pki/certificate.ts';
import { directorySignature, type LoadCache, loadCaDir, type TrustEntry, type TrustProblem } from './load.ts';

export interface TrustStoreOptions {
  /** Directory of extra CA certificates. Any format, any extension. */
  dir: string;
  /** Include Node's bundled Mozilla roots (default true). */
  systemRoots?: boolean;
  /** Watch the directory and reload on change (default true). */
  watch?: boolean;
  /** Polling interval of the fallback check, ms (default 1000). */
  pollMs?: number;
}

/** One immutable snapshot of what is trusted. */
export interface TrustSet {
  readonly version: number;
  readonly entries: readonly TrustEntry[];
  readonly problems: readonly TrustProblem[];
  /** PEM of every trusted certificate: system roots (when on) and ca-certs. */
  readonly ca: readonly string[];
  /** PEM of the ca-certs certificates only (for NODE_EXTRA_CA_CERTS). */
  readonly extra: readonly string[];
  readonly loadedAt: Date;
}

export interface TrustStore {
  /** Loads the directory and starts watching it. */
  start(): Promise<TrustSet>;
  close(): Promise<void>;
  current(): TrustSet;
  /** Reloads now; resolves to the new set (or the last good one if the directory is unreadable). */
  reload(): Promise<TrustSet>;
  /** A secure context trusting the current set, built once per version. */
  secureContext(): SecureContext;
  /** tls.connect options that trust the current set. */
  tlsOptions(): Pick<ConnectionOptions, 'ca'>;
  /** An undici dispatcher whose every new connection uses the current set. */
  dispatcher(options?: UndiciAgent.Options): UndiciAgent;
  /** An https.Agent whose every new connection uses the current set. */
  httpsAgent(options?: AgentOptions): HttpsAgent;
  on(event: 'change', listener: (set: TrustSet) => void): void;
  on(event: 'problem', listener: (problem: TrustProblem) => void): void;
  off(event: string, listener: (...args: never[]) => void): void;
}

/**
 * @example
 * const trust = createTrustStore({ dir: '/var/lib/certgate/ca-certs' });
 * await trust.start();
 * await fetch('https://api.internal/', { dispatcher: trust.dispatcher() });
 */
export function createTrustStore(options: TrustStoreOptions): TrustStore {
  if (!options || typeof options.dir !== 'string' || !options.dir) {
    throw new CertgateError('E_OPTION', 'the trust store needs a directory', 'pass { dir: "/path/to/ca-certs" }');
  }
  const opts = { systemRoots: true, watch: true, pollMs: 1000, ...options };
  if (!Number.isFinite(opts.pollMs) || opts.pollMs < 50)
    throw new CertgateError('E_OPTION', `pollMs must be at least 50, got ${opts.pollMs}`, 'use the default (1000)');
  const events = new EventEmitter();
  let set: TrustSet = { version: 0, entries: [], problems: [], ca: opts.systemRoots ? [...rootCertificates] : [], extra: [], loadedAt: new Date(0) };
  let signature: string | null = null;
  let context: { version: number; ctx: SecureContext } | null = null;
  let watcher: FSWatcher | null = null;
  let timer: NodeJS.Timeout | null = null;
  let debounce: NodeJS.Timeout | null = null;
  let loading: Promise<TrustSet> | null = null;
  let closed = false;
  // Unchanged files are not parsed again: a change to one file in a thousand costs one parse.
  const cache: LoadCache = new Map();

  async function load(): Promise<TrustSet> {
    try {
      const loaded = await loadCaDir(opts.dir, new Date(), cache);
      const seen = new Set<string>();
      const entries = loaded.entries.filter((e) => {
        const fp = e.cert.info.fingerprints.sha256;
        if (seen.has(fp)) return false;
        seen.add(fp);
        return true;
      });
      const extra = entries.map((e) => toPem(e.cert));
      signature = loaded.signature;
      set = {
        version: set.version + 1,
        entries,
        problems: loaded.problems,
        ca: [...(opts.systemRoots ? rootCertificates : []), ...extra],
        extra,
        loadedAt: new Date(),
      };
      for (const p of loaded.problems) events.emit('problem', p);
      events.emit('change', set);
    } catch (err) {
      // Keep serving the last good set; say why.
      const e = err as CertgateError;
      events.emit('problem', { file: opts.dir, code: e.code ?? 'E_TRUST_DIR', message: e.message, fix: e.fix ?? 'check the directory' });
    }
    return set;
  }

  function reload(): Promise<TrustSet> {
    // Coalesce: one load at a time, and one more after it if asked meanwhile.
    if (loading) return loading.then(() => load());
    loading = load().finally(() => {
      loading = null;
    });
    return loading;
  }

  async function poll(): Promise<void> {
    const sig = await directorySignature(opts.dir);
    if (sig !== null && sig !== signature && !closed) await reload();
  }

  function watchDir(): void {
    try {
      watcher = watch(opts.dir, { persistent: false }, () => {
        if (debounce) clearTimeout(debounce);
        debounce = setTimeout(() => void poll(), 100);
      });
      watcher.on('error', () => {
        watcher?.close();
        watcher = null;
      });
    } catch {
      watcher = null; // the directory may not exist yet; polling covers it and retries
    }
  }

  function startWatching(): void {
    watchDir();
    timer = setInterval(() => {
      if (!watcher) watchDir();
      void poll();
    }, opts.pollMs);
    timer.unref();
  }

  function secureContext(): SecureContext {
    if (!context || context.version !== set.version) context = { version: set.version, ctx: createSecureContext({ ca: [...set.ca] }) };
    return context.ctx;
  }

  const store: TrustStore = {
    async start() {
      const s = await reload();
      if (opts.watch) startWatching();
      return s;
    },
    async close() {
      closed = true;
      watcher?.close();
      if (timer) clearInterval(timer);
      if (debounce) clearTimeout(debounce);
      await loading;
    },
    current: () => set,
    reload,
    secureContext,
    tlsOptions: () => ({ ca: [...set.ca] }),
    dispatcher(agentOptions = {}) {
      let built: { version: number; connect: buildConnector.connector } | null = null;
      const connect: buildConnector.connector = (connectOptions, callback) => {
        if (!built || built.version !== set.version) built = { version: set.version, connect: buildConnector({ ca: [...set.ca] }) };
        return built.connect(connectOptions, callback);
      };
      return new UndiciAgent({ ...agentOptions, connect });
    },
    httpsAgent(agentOptions = {}) {
      return new TrustingAgent(agentOptions, () => secureContext());
    },
    on(event: string, listener: (...args: never[]) => void) {
      events.on(event, listener as (...args: unknown[]) => void);
    },
    off(event: string, listener: (...args: never[]) => void) {
      events.off(event, listener as (...args: unknown[]) => void);
    },
  } as TrustStore;
  return store;
}

/** An https.Agent that asks for the current secure context on every new connection. */
class TrustingAgent extends HttpsAgent {
  readonly #context: () => SecureContext;
  constructor(options: AgentOptions, context: () => SecureContext) {
    super(options);
    this.#context = context;
  }
  override createConnection(options: ConnectionOptions, callback?: (err: Error | null, socket: Socket) => void): Socket {
    const withTrust = { ...options, secureContext: this.#context() };
    delete (withTrust as { ca?: unknown }).ca;
    // biome-ignore lint/suspicious/noExplicitAny: https.Agent's createConnection is untyped in @types/node
    return (HttpsAgent.prototype as any).createConnection.call(this, withTrust, callback);
  }
}
