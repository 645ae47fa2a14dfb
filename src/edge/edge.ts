/**
 * @module edge/edge
 * The HTTPS edge in front of an app: SNI from memory (exact, wildcard, default), certificates
 * on demand for registered names at the first handshake, local-CA certificates for local names,
 * HTTP/1.1 + HTTP/2, WebSocket, HTTP-01 answers and a 308 redirect on the HTTP port, HSTS on
 * public HTTPS names only, and the behind-a-load-balancer mode that trusts forwarded headers from
 * trusted hops only. Engines start() and close(); close() drains.
 */
import { createServer as createHttpServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createSecureServer, type Http2SecureServer, type Http2ServerRequest, type Http2ServerResponse, type Http2Session } from 'node:http2';
import type { Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import type { ChallengeAnswers } from '../acme/challenges.ts';
import type { CertCache } from '../cache/cache.ts';
import { CertgateError } from '../errors.ts';
import { listenOn } from '../listen.ts';
import { isLocalName, type LocalCa } from '../localca/local-ca.ts';
import type { CertManager } from '../manager/manager.ts';
import type { DomainRegistry } from '../manager/registry.ts';
import type { CertificateBundle } from '../store/store.ts';
import { type AccessEntry, watchResponse } from './access-log.ts';
import { HandshakeCertificates, type StandIn } from './certs.ts';
import { TrustedProxies } from './forwarded.ts';
import { errorPage, proxyRequest, proxyUpgrade, upstreamAgent } from './proxy.ts';

export interface HstsOptions {
  maxAge: number;
  includeSubDomains: boolean;
  preload: boolean;
}

export interface EdgeOptions {
  /** HTTPS listener port; null when TLS terminates at a load balancer in front (behindProxy). */
  httpsPort: number | null;
  /** HTTP listener: ACME HTTP-01, the redirect, or (behindProxy) the app itself. */
  httpPort: number | null;
  host?: string;
  /** Where requests go: a default upstream and per-host upstreams. No upstream: a demo page. */
  upstream: string | null;
  routes?: Record<string, string>;
  /** 308 from HTTP to HTTPS (default true). */
  redirect?: boolean;
  hsts?: HstsOptions | null;
  /** Plain HTTP in from a TLS-terminating load balancer; forwarded headers trusted only from these CIDRs. */
  behindProxy?: { trustedProxies: string[] } | null;
  cache: CertCache;
  localCa: LocalCa;
  answers: ChallengeAnswers;
  /** On-demand issuance for registered names. */
  registry?: DomainRegistry;
  manager?: CertManager;
  /** On-demand issuances per minute, all names together (default 30). */
  onDemandPerMinute?: number;
  /** On-demand issuances one client address may cause per 10 minutes (default 10). */
  onDemandPerClient?: number;
  /** How long the first handshake waits for its certificate before the "pending" page (default 20 s). */
  onDemandTimeoutMs?: number;
  /** The certificate for clients that send no SNI (default: a local-CA one for localhost). */
  defaultSni?: string | null;
  headersTimeoutMs?: number;
  requestTimeoutMs?: number;
  keepAliveTimeoutMs?: number;
  /** Drain time on close (default 10 s). */
  drainMs?: number;
  log?: (event: { level: 'info' | 'warn' | 'error'; msg: string; [k: string]: unknown }) => void;
  /** One entry per finished request (off when absent). */
  accessLog?: ((entry: AccessEntry) => void) | null;
}

const HOSTNAME = /^(?:\[[0-9a-fA-F:.]+\]|[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*\.?)(?::\d{1,5})?$/;

/** The host a request is for, lower-case without port, or null when the Host header is malformed. */
export function requestHost(raw: string | undefined): string | null {
  if (!raw || raw.length > 300 || !HOSTNAME.test(raw)) return null;
  const h = raw.startsWith('[') ? raw.slice(1, raw.indexOf(']')) : raw.replace(/:\d+$/, '');
  return h.toLowerCase().replace(/\.$/, '');
}

function hstsValue(h: HstsOptions): string {
  return `max-age=${h.maxAge}${h.includeSubDomains ? '; includeSubDomains' : ''}${h.preload ? '; preload' : ''}`;
}

/** The status line for a request Node's parser gave up on. */
function clientErrorStatus(code: string | undefined): string {
  if (code === 'HPE_HEADER_OVERFLOW') return '431 Request Header Fields Too Large';
  if (code === 'ERR_HTTP_REQUEST_TIMEOUT') return '408 Request Timeout';
  return '400 Bad Request';
}

/** The TLS socket a request came over (HTTP/2 requests hang off their session's socket). */
function tlsSocketOf(req: IncomingMessage | Http2ServerRequest): object | undefined {
  return req.httpVersionMajor === 2 ? (req as Http2ServerRequest).stream?.session?.socket : req.socket;
}

function standInPage(host: string, s: StandIn): { title: string; detail: string; retryAfter: number } {
  if (s.kind === 'pending')
    return { title: 'Certificate on its way', detail: `certgate is obtaining a certificate for ${host} right now. Reload in a few seconds.`, retryAfter: 5 };
  if (s.kind === 'budget') return { title: 'Certificate not available yet', detail: `No certificate for ${host} yet: ${s.detail}.`, retryAfter: 60 };
  return {
    title: 'Certificate not available',
    detail: `certgate could not obtain a certificate for ${host}: ${s.detail}. It will try again; the operator can run certgate logs ${host}.`,
    retryAfter: 300,
  };
}

/** The settings `reconfigure` can change while running. */
export type EdgeSettings = Partial<Pick<EdgeOptions, 'upstream' | 'routes' | 'redirect' | 'hsts' | 'behindProxy' | 'defaultSni'>>;

function definedOnly<T extends object>(o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;
}

export class Edge {
  #o: EdgeOptions & { redirect: boolean; drainMs: number };
  #trusted = new TrustedProxies(null);
  #upstream: URL | null = null;
  #routes = new Map<string, URL>();
  #https: Http2SecureServer | null = null;
  #http: Server | null = null;
  readonly #sessions = new Set<Http2Session>();
  readonly #sockets = new Set<Socket>();
  readonly #certs: HandshakeCertificates;
  #defaultName: string | null = null;
  #defaultNotAfter = 0;
  #defaultTimer: NodeJS.Timeout | null = null;
  #closing = false;
  readonly #agent = upstreamAgent();
  readonly ports: { https: number | null; http: number | null } = { https: null, http: null };

  constructor(options: EdgeOptions) {
    this.#o = { redirect: true, drainMs: 10_000, ...options };
    this.#apply(options);
    this.#certs = new HandshakeCertificates({
      cache: options.cache,
      localCa: options.localCa,
      answers: options.answers,
      registry: options.registry,
      manager: options.manager,
      onDemandPerMinute: options.onDemandPerMinute,
      onDemandPerClient: options.onDemandPerClient,
      onDemandTimeoutMs: options.onDemandTimeoutMs,
      log: (level, msg, extra) => this.#log(level, msg, extra),
    });
  }

  /** Validates the settings that can change at run time, then puts all of them in place at once. */
  #apply(settings: EdgeSettings): void {
    const behindProxy = settings.behindProxy === undefined ? this.#o.behindProxy : settings.behindProxy;
    if (this.#o.httpsPort === null && !behindProxy)
      throw new CertgateError(
        'E_OPTION',
        'without an HTTPS port the edge must be behind a TLS-terminating proxy',
        'set an HTTPS port, or --behind-proxy with the proxy addresses',
      );
    const asUpstream = (raw: string, what: string): URL => {
      let u: URL;
      try {
        u = new URL(raw);
      } catch {
        u = new URL('ftp://invalid');
      }
      if (u.protocol !== 'http:' || !u.hostname)
        throw new CertgateError('E_OPTION', `${what} "${raw}" is not an http:// URL`, 'e.g. --upstream http://127.0.0.1:3000');
      return u;
    };
    const upstream = settings.upstream === undefined ? this.#upstream : settings.upstream ? asUpstream(settings.upstream, 'upstream') : null;
    const routes = new Map<string, URL>();
    for (const [host, url] of Object.entries(settings.routes ?? this.#o.routes ?? {})) routes.set(host.toLowerCase(), asUpstream(url, `route ${host}`));
    const trusted = new TrustedProxies(behindProxy?.trustedProxies ?? null, (ip) =>
      this.#log('warn', `ignored X-Forwarded-* headers from ${ip}: not a trusted proxy (if it is your load balancer, add it to behindProxy.trustedProxies)`),
    );
    this.#upstream = upstream;
    this.#routes = routes;
    this.#trusted = trusted;
    this.#o = { ...this.#o, ...definedOnly(settings), behindProxy: behindProxy ?? null };
  }

  /**
   * Changes what can change without a restart (SIGHUP): upstreams and routes, redirect, HSTS,
   * trusted proxies, the no-SNI certificate. Invalid settings throw and leave the running ones.
   */
  async reconfigure(settings: EdgeSettings): Promise<void> {
    this.#apply(settings);
    if (settings.defaultSni !== undefined) await this.#refreshDefault();
  }

  #log(level: 'info' | 'warn' | 'error', msg: string, extra: Record<string, unknown> = {}): void {
    this.#o.log?.({ level, msg, ...extra });
  }

  #hstsFor(host: string, proto: 'http' | 'https'): Record<string, string> {
    const h = this.#o.hsts;
    if (!h || proto !== 'https' || isLocalName(host)) return {};
    return { 'strict-transport-security': hstsValue(h) };
  }

  #upstreamFor(host: string): URL | null {
    return this.#routes.get(host) ?? this.#upstream;
  }

  #handle(req: IncomingMessage | Http2ServerRequest, res: ServerResponse | Http2ServerResponse, tls: boolean): void {
    const raw = (req.headers[':authority'] as string | undefined) ?? req.headers.host;
    const host = requestHost(raw);
    if (this.#o.accessLog) this.#logAccess(req, res, host, tls);
    const send = (status: number, title: string, detail: string, extra: Record<string, string> = {}, refresh?: number) => {
      (res as ServerResponse).writeHead(status, { 'content-type': 'text/html; charset=utf-8', ...extra });
      res.end(errorPage(status, title, detail, refresh));
    };
    if (!host) {
      send(400, 'Bad Request', 'The Host header is missing or malformed.');
      return;
    }
    if (!tls && this.#o.answers.handleHttp(req as IncomingMessage, res as ServerResponse)) return;
    const info = this.#trusted.read(req, host, tls);
    const hsts = this.#hstsFor(host, info.proto);
    // Behind a load balancer, redirect only when a trusted hop says the visitor came over plain
    // http: a peer we cannot believe might be that load balancer, misconfigured, and a redirect
    // would then loop.
    const redirect = this.#o.behindProxy ? info.statedProto === 'http' : !tls && this.ports.https !== null;
    if (redirect && this.#o.redirect) {
      const port = this.#o.behindProxy || this.ports.https === 443 ? '' : `:${this.ports.https}`;
      const target = `https://${host.includes(':') ? `[${host}]` : host}${port}${req.url ?? '/'}`;
      (res as ServerResponse).writeHead(308, { location: target, 'content-type': 'text/plain' });
      res.end(`Redirecting to ${target}\n`);
      return;
    }
    const standIn = tls ? this.#certs.standInFor(tlsSocketOf(req)) : undefined;
    if (standIn) {
      const page = standInPage(host, standIn);
      // This connection holds the stand-in certificate for good: close it after the page, so that
      // the reload comes over a new handshake, which gets the real certificate once it is there.
      const h2 = req.httpVersionMajor === 2;
      // (The session is taken now: a stream that has ended no longer points to it.)
      const session = h2 ? (req as Http2ServerRequest).stream?.session : undefined;
      if (session) res.once('finish', () => session.close());
      send(
        503,
        page.title,
        page.detail,
        { 'retry-after': String(page.retryAfter), 'cache-control': 'no-store', ...(h2 ? {} : { connection: 'close' }) },
        standIn.kind === 'pending' ? 5 : undefined,
      );
      return;
    }
    const upstream = this.#upstreamFor(host);
    if (!upstream) {
      (res as ServerResponse).writeHead(200, { 'content-type': 'text/html; charset=utf-8', ...hsts });
      res.end(
        `<!doctype html><html><head><meta charset="utf-8"><title>certgate</title></head><body style="font:16px system-ui,sans-serif;max-width:40em;margin:4em auto"><h1>certgate is serving HTTPS for ${host}</h1><p>Protocol: ${req.httpVersion === '2.0' ? 'HTTP/2' : `HTTP/${req.httpVersion}`} over ${info.proto.toUpperCase()}. No upstream is configured: start certgate with <code>--upstream http://127.0.0.1:3000</code> to put your app behind it.</p><p>Trust the local CA with <code>certgate local-ca export</code>.</p></body></html>\n`,
      );
      return;
    }
    proxyRequest(req, res, upstream, info, hsts, this.#agent, (err) => this.#log('error', `upstream ${upstream.host} failed: ${err.message}`, { host }));
  }

  #logAccess(req: IncomingMessage | Http2ServerRequest, res: ServerResponse | Http2ServerResponse, host: string | null, tls: boolean): void {
    const write = this.#o.accessLog as (entry: AccessEntry) => void;
    const info = host ? this.#trusted.read(req, host, tls) : null;
    watchResponse(res, ({ bytes, status, ms }) =>
      write({
        time: new Date().toISOString(),
        client: info?.clientIp ?? (req.socket.remoteAddress ?? '').replace(/^::ffff:/, ''),
        method: req.method ?? '',
        host,
        path: (req.url ?? '').slice(0, 2048),
        protocol: `${tls ? 'https' : 'http'}/${req.httpVersion}`,
        status,
        bytes,
        ms,
        upstream: host ? (this.#upstreamFor(host)?.host ?? null) : null,
      }),
    );
  }

  #upgrade(req: IncomingMessage, socket: Duplex, head: Buffer, tls: boolean): void {
    const host = requestHost(req.headers.host);
    const upstream = host ? this.#upstreamFor(host) : null;
    if (!host || !upstream) {
      socket.end('HTTP/1.1 400 Bad Request\r\nConnection: close\r\n\r\n');
      return;
    }
    proxyUpgrade(req, socket, head, upstream, this.#trusted.read(req, host, tls), (err) =>
      this.#log('error', `upstream upgrade failed: ${err.message}`, { host }),
    );
  }

  /** A renewed or new certificate: served from the next handshake on. */
  update(name: string, bundle: CertificateBundle): void {
    this.#certs.update(name, bundle);
    if (this.#defaultName === name) void this.#refreshDefault();
  }

  /**
   * The certificate for clients that send no SNI (an IP address in the URL, old clients): the
   * `defaultSni` name's certificate when there is one, else a local-CA certificate for
   * localhost and the loopback addresses. Node serves the server's own context to them.
   */
  async #defaultPems(): Promise<{ cert: string[]; key: string[]; notAfter: number; name: string; bundles: CertificateBundle[] }> {
    const { cache, defaultSni } = this.#o;
    const name = defaultSni ? cache.resolve(defaultSni.toLowerCase()) : null;
    const bundles = name ? cache.bundles(name) : [];
    if (bundles.length && name) {
      this.#defaultName = name;
      const notAfter = Math.min(...bundles.map((b) => Date.parse(b.meta.notAfter)));
      return { cert: bundles.map((b) => b.certPem), key: bundles.map((b) => b.keyPem), notAfter, name, bundles };
    }
    this.#defaultName = defaultSni?.toLowerCase() ?? null;
    // Also the certificate for SNI localhost, 127.0.0.1 and ::1: one pair for all of them.
    const local = await this.#o.localCa.issue(['localhost', '127.0.0.1', '::1']);
    cache.put('localhost', local);
    return { cert: [local.certPem], key: [local.keyPem], notAfter: Date.parse(local.meta.notAfter), name: 'localhost', bundles: [local] };
  }

  async #refreshDefault(): Promise<void> {
    if (!this.#https) return;
    const d = await this.#defaultPems();
    await this.#certs.setDefault(d.name, d.bundles);
    this.#https.setSecureContext({ ...this.#tlsOptions(), cert: d.cert, key: d.key });
    this.#defaultNotAfter = d.notAfter;
  }

  #tlsOptions(): Record<string, unknown> {
    return { ALPNProtocols: ['h2', 'http/1.1', 'acme-tls/1'] };
  }

  /**
   * Header and request deadlines against slow clients. Node checks them on an interval (30 s by
   * default), so a short deadline would only be enforced at the next check: the interval follows it.
   */
  #slowClientLimits(): { headersTimeout: number; requestTimeout: number; connectionsCheckingInterval: number } {
    const headersTimeout = this.#o.headersTimeoutMs ?? 30_000;
    return {
      headersTimeout,
      requestTimeout: this.#o.requestTimeoutMs ?? 120_000,
      connectionsCheckingInterval: Math.min(30_000, Math.max(250, Math.floor(headersTimeout / 4))),
    };
  }

  async start(): Promise<{ https: number | null; http: number | null }> {
    const o = this.#o;
    const listen = (server: Server | Http2SecureServer, port: number, what: string) => listenOn(server as Server, port, o.host, what);
    const track = (s: Socket) => {
      this.#sockets.add(s);
      s.on('close', () => this.#sockets.delete(s));
    };
    if (o.httpsPort !== null) {
      const d = await this.#defaultPems();
      this.#defaultNotAfter = d.notAfter;
      await this.#certs.setDefault(d.name, d.bundles);
      const https = createSecureServer({
        allowHTTP1: true,
        ...this.#tlsOptions(),
        cert: d.cert,
        key: d.key,
        SNICallback: this.#certs.sniCallback(),
        settings: { maxConcurrentStreams: 250 },
      } as Parameters<typeof createSecureServer>[0]);
      https.on('request', (req: Http2ServerRequest, res: Http2ServerResponse) => this.#handle(req, res, true));
      https.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => this.#upgrade(req, socket, head, true));
      https.on('session', (s: Http2Session) => {
        this.#sessions.add(s);
        s.on('close', () => this.#sessions.delete(s));
      });
      https.on('connection', (s: Socket) => {
        // The http2 server (allowHTTP1) does not turn Nagle off as http.Server does: without
        // this, a response's last small write waits for the client's delayed ACK (~40 ms).
        s.setNoDelay(true);
        track(s);
      });
      https.on('tlsClientError', () => {});
      https.setTimeout(o.requestTimeoutMs ?? 120_000);
      // HTTP/1.1 over TLS goes through the http2 server (allowHTTP1), which checks these like http.Server does.
      Object.assign(https, { ...this.#slowClientLimits(), keepAliveTimeout: o.keepAliveTimeoutMs ?? 5000 });
      this.#https = https;
      this.ports.https = await listen(https, o.httpsPort, 'HTTPS');
      // A local default certificate lives 7 days: renew it in its last third.
      this.#defaultTimer = setInterval(() => {
        if (Date.now() > this.#defaultNotAfter - 2 * 86_400_000)
          void this.#refreshDefault().catch((err) => this.#log('error', `default certificate: ${(err as Error).message}`));
      }, 3600_000);
      this.#defaultTimer.unref();
    }
    if (o.httpPort !== null) {
      const http = createHttpServer({ ...this.#slowClientLimits(), keepAliveTimeout: o.keepAliveTimeoutMs ?? 5000 }, (req, res) =>
        this.#handle(req, res, false),
      );
      http.on('upgrade', (req, socket, head) => this.#upgrade(req, socket, head, false));
      http.on('connection', track);
      http.on('clientError', (err, socket) => {
        if (socket.writable) socket.end(`HTTP/1.1 ${clientErrorStatus((err as NodeJS.ErrnoException).code)}\r\nConnection: close\r\n\r\n`);
      });
      this.#http = http;
      try {
        this.ports.http = await listen(http, o.httpPort, 'HTTP');
      } catch (err) {
        this.#https?.close();
        throw err;
      }
    }
    return { ...this.ports };
  }

  /** Stops accepting, lets requests in flight finish (up to drainMs), then closes the rest. */
  async close(): Promise<void> {
    if (this.#closing) return;
    this.#closing = true;
    if (this.#defaultTimer) clearInterval(this.#defaultTimer);
    const closed = Promise.all([this.#https, this.#http].filter(Boolean).map((s) => new Promise<void>((r) => (s as Server).close(() => r()))));
    for (const s of this.#sessions) s.close();
    this.#http?.closeIdleConnections();
    const timer = setTimeout(() => {
      for (const s of this.#sockets) s.destroy();
      for (const s of this.#sessions) s.destroy();
    }, this.#o.drainMs);
    timer.unref();
    await closed;
    clearTimeout(timer);
    await this.#agent.destroy();
  }
}
