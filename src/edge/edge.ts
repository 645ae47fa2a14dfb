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
import type { Server as NetServer, Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import type { TLSSocket } from 'node:tls';
import type { ChallengeAnswers } from '../acme/challenges.ts';
import type { CertCache } from '../cache/cache.ts';
import { CertgateError } from '../errors.ts';
import type { Issuer } from '../issuer.ts';
import { listenOn } from '../listen.ts';
import { isLocalName } from '../localca/local-ca.ts';
import type { CertManager } from '../manager/manager.ts';
import type { DomainRegistry } from '../manager/registry.ts';
import type { CertificateBundle } from '../store/store.ts';
import { type AccessEntry, watchResponse } from './access-log.ts';
import { HandshakeCertificates, type StandIn } from './certs.ts';
import { excerpt } from './excerpt.ts';
import { TrustedProxies } from './forwarded.ts';
import type { EdgeObserver } from './observer.ts';
import { closeAfter, errorPage, isHttp2, proxyRequest, proxyUpgrade, upgradeTokens, upstreamAgent } from './proxy.ts';
import { readTarget } from './request-target.ts';
import type { TicketKeys } from './tickets.ts';

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
  /** The issuer for local names (localhost, IPs, LAN names): the local CA, or any Issuer. */
  localCa: Issuer;
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
  /** On-demand budgets counted by the whole cluster (PostgreSQL store). */
  sharedBudget?: { take(key: string, limit: number, windowMs: number): Promise<boolean> };
  /** The certificate for clients that send no SNI (default: a local-CA one for localhost). */
  defaultSni?: string | null;
  headersTimeoutMs?: number;
  requestTimeoutMs?: number;
  /** How long an upstream may take to start its answer before the visitor gets a 504/502 (default 120 s). */
  upstreamTimeoutMs?: number;
  keepAliveTimeoutMs?: number;
  /** Drain time on close (default 10 s). */
  drainMs?: number;
  log?: (event: { level: 'info' | 'warn' | 'error'; msg: string; [k: string]: unknown }) => void;
  /** One entry per finished request (off when absent). */
  accessLog?: ((entry: AccessEntry) => void) | null;
  /** Told of handshake outcomes, finished proxied requests and on-demand decisions (metrics); nothing is added when absent. */
  observer?: EdgeObserver | null;
  /**
   * TLS session ticket keys shared through the store (absent: Node's own random key, so a
   * ticket resumes on this process only). Loaded at start and by refreshTickets().
   */
  ticketKeys?: TicketKeys | null;
}

const HOSTNAME = /^(?:\[[0-9a-fA-F:.]+\]|[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*\.?)(?::\d{1,5})?$/;

/** The host a request is for, lower-case without port, or null when the Host header is malformed. */
export function requestHost(raw: string | undefined): string | null {
  if (!raw || raw.length > 300 || !HOSTNAME.test(raw)) return null;
  const h = raw.startsWith('[') ? raw.slice(1, raw.indexOf(']')) : raw.replace(/:\d+$/, '');
  return h.toLowerCase().replace(/\.$/, '');
}

/**
 * What the HTTPS port offers. TLS 1.3 suites in Mozilla's intermediate order, AES-128-GCM first
 * as on TLS 1.2 (and as Caddy and Go choose): its SHA-256 key schedule costs a full handshake less
 * than AES-256's SHA-384 where the CPU hashes SHA-256 in hardware (bench/edge). On TLS 1.2 only AEAD suites
 * with forward secrecy (Caddy's six: ECDHE with AES-GCM or ChaCha20-Poly1305, ECDSA and RSA
 * certificates alike), no CBC, CCM, ARIA or static RSA. Groups X25519, P-256, P-384. These hold
 * for every handshake: OpenSSL keeps the first context's ciphers, versions and groups when the
 * SNI callback switches the certificate.
 */
/** ALPN protocol names as OpenSSL takes them: each one length-prefixed. */
function alpnWire(names: readonly string[]): Buffer {
  return Buffer.concat(names.map((n) => Buffer.concat([Buffer.from([Buffer.byteLength(n)]), Buffer.from(n)])));
}

const TLS_OPTIONS = {
  ALPNProtocols: ['h2', 'http/1.1', 'acme-tls/1'],
  minVersion: 'TLSv1.2',
  ciphers: [
    'TLS_AES_128_GCM_SHA256',
    'TLS_AES_256_GCM_SHA384',
    'TLS_CHACHA20_POLY1305_SHA256',
    'ECDHE-ECDSA-AES128-GCM-SHA256',
    'ECDHE-RSA-AES128-GCM-SHA256',
    'ECDHE-ECDSA-AES256-GCM-SHA384',
    'ECDHE-RSA-AES256-GCM-SHA384',
    'ECDHE-ECDSA-CHACHA20-POLY1305',
    'ECDHE-RSA-CHACHA20-POLY1305',
  ].join(':'),
  ecdhCurve: 'X25519:P-256:P-384',
  honorCipherOrder: true,
  // OpenSSL resumes a session only within the same session-id context. Node's default is a hash
  // of the process's command line, which differs between two nodes (or two `serve` processes
  // with other flags) sharing the ticket keys: one constant instead.
  sessionIdContext: 'certgate-edge',
};

const ALLOW = 'GET, HEAD, POST, PUT, PATCH, DELETE, OPTIONS';

function hstsValue(h: HstsOptions): string {
  return `max-age=${h.maxAge}${h.includeSubDomains ? '; includeSubDomains' : ''}${h.preload ? '; preload' : ''}`;
}

/**
 * A second Host header (HTTP/1), or an HTTP/2 `host` that disagrees with `:authority`: the edge
 * and the app behind it could each read a different one (RFC 9112 §3.2: a 400).
 */
function ambiguousHost(req: IncomingMessage | Http2ServerRequest): boolean {
  if (isHttp2(req)) {
    const host = req.headers.host;
    const authority = req.headers[':authority'];
    return host !== undefined && authority !== undefined && String(host).toLowerCase() !== String(authority).toLowerCase();
  }
  const raw = req.rawHeaders;
  let seen = 0;
  for (let i = 0; i < raw.length; i += 2) {
    const k = raw[i] as string;
    if (k.length === 4 && k.toLowerCase() === 'host' && ++seen > 1) return true;
  }
  return false;
}

/** The status line for a request Node's parser gave up on. */
function clientErrorStatus(code: string | undefined): string {
  if (code === 'HPE_HEADER_OVERFLOW') return '431 Request Header Fields Too Large';
  if (code === 'ERR_HTTP_REQUEST_TIMEOUT') return '408 Request Timeout';
  return '400 Bad Request';
}

/** The TLS socket a request came over (HTTP/2 requests hang off their session's socket). */
function tlsSocketOf(req: IncomingMessage | Http2ServerRequest): object | undefined {
  return isHttp2(req) ? req.stream?.session?.socket : req.socket;
}

/**
 * What a visitor is told about a failed issuance: a plain reason. The CA's own words (internal
 * addresses, challenge URLs, account details) stay in the log, for the operator.
 */
function failureReason(detail: string): string {
  if (/rate limit|budget|holds back/i.test(detail)) return 'the issuance budget is spent for now';
  if (/cannot be reached|unreachable|ECONNREFUSED|ETIMEDOUT|ENOTFOUND/i.test(detail)) return 'the certificate authority could not be reached';
  if (/challenge|could not (resolve|reach)|CAA|expected|validat|unauthorized|incorrect/i.test(detail))
    return 'the certificate authority could not validate this name';
  if (/no longer retried|failed \d+ times/i.test(detail)) return 'the earlier attempts failed, and it waits for the operator';
  return 'the certificate authority refused the request';
}

function standInPage(name: string, s: StandIn): { title: string; detail: string; retryAfter: number } {
  const host = excerpt(name);
  if (s.kind === 'pending')
    return { title: 'Certificate on its way', detail: `certgate is obtaining a certificate for ${host} right now. Reload in a few seconds.`, retryAfter: 5 };
  // A budget's detail is certgate's own sentence, written for the visitor.
  if (s.kind === 'budget') return { title: 'Certificate not available yet', detail: `No certificate for ${host} yet: ${s.detail}.`, retryAfter: 60 };
  return {
    title: 'Certificate not available',
    detail: `certgate could not obtain a certificate for ${host}: ${failureReason(s.detail)}. It will try again; the operator can run certgate logs ${host}.`,
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
  /** Listens on the HTTPS port and hands TLS connections to #https: plain HTTP there gets an answer. */
  #http: Server | null = null;
  readonly #sessions = new Set<Http2Session>();
  readonly #sockets = new Set<Socket>();
  readonly #certs: HandshakeCertificates;
  #defaultName: string | null = null;
  #defaultNotAfter = 0;
  #defaultTimer: NodeJS.Timeout | null = null;
  #closing = false;
  /** The shared ticket key in use (its id), and the timer that switches to the next one. */
  #ticketId: string | null = null;
  #ticketTimer: NodeJS.Timeout | null = null;
  readonly #agent: ReturnType<typeof upstreamAgent>;
  readonly ports: { https: number | null; http: number | null } = { https: null, http: null };

  constructor(options: EdgeOptions) {
    // Checked here, with the option's name, rather than failing later inside Node's socket code.
    for (const [key, v] of [
      ['httpsPort', options.httpsPort],
      ['httpPort', options.httpPort],
    ] as const)
      if (v !== null && (!Number.isInteger(v) || v < 0 || v > 65535))
        throw new CertgateError('E_OPTION', `${key} ${String(v)} is not a port (0-65535) or null`, 'give a port, 0 for any free one, or null for no listener', {
          option: key,
        });
    for (const [key, v] of Object.entries({
      headersTimeoutMs: options.headersTimeoutMs,
      requestTimeoutMs: options.requestTimeoutMs,
      keepAliveTimeoutMs: options.keepAliveTimeoutMs,
      drainMs: options.drainMs,
      upstreamTimeoutMs: options.upstreamTimeoutMs,
      onDemandTimeoutMs: options.onDemandTimeoutMs,
    }))
      if (v !== undefined && (!Number.isFinite(v) || v < 0 || v > 2_147_483_647))
        throw new CertgateError('E_OPTION', `${key} ${String(v)} is not a duration in ms (0 to 24 days)`, `omit ${key} for the default`, { option: key });
    this.#o = { redirect: true, drainMs: 10_000, ...options };
    this.#agent = upstreamAgent(options.upstreamTimeoutMs);
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
      sharedBudget: options.sharedBudget,
      log: (level, msg, extra) => this.#log(level, msg, extra),
      onDecision: options.observer?.onDemand?.bind(options.observer),
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

  /**
   * A request's handling, guarded: whatever goes wrong in one request becomes that request's
   * error page and a log line, never the end of the process.
   */
  #request(req: IncomingMessage | Http2ServerRequest, res: ServerResponse | Http2ServerResponse, tls: boolean): void {
    try {
      this.#handle(req, res, tls);
    } catch (err) {
      this.#log('error', `handling a request failed: ${excerpt((err as Error).message, 200)}`, { code: 'E_INTERNAL' });
      if (res.headersSent) {
        res.destroy();
        return;
      }
      try {
        (res as ServerResponse).writeHead(502, { 'content-type': 'text/html; charset=utf-8', connection: 'close' });
        res.end(errorPage(502, 'Bad Gateway', 'certgate could not handle this request. The operator finds the reason in its log.'));
      } catch {
        res.destroy();
      }
    }
  }

  #handle(req: IncomingMessage | Http2ServerRequest, res: ServerResponse | Http2ServerResponse, tls: boolean): void {
    const raw = (req.headers[':authority'] as string | undefined) ?? req.headers.host;
    const host = requestHost(raw);
    const logged = this.#o.accessLog ? this.#logAccess(req, res, host, tls) : null;
    const send = (status: number, title: string, detail: string, extra: Record<string, string> = {}, refresh?: number) => {
      (res as ServerResponse).writeHead(status, { 'content-type': 'text/html; charset=utf-8', ...extra });
      res.end(errorPage(status, title, detail, refresh));
    };
    if (!isHttp2(req) && req.httpVersionMajor !== 1) {
      // Node's HTTP/1 parser takes any version in the request line; only 1.x is HTTP/1.
      send(505, 'HTTP Version Not Supported', 'This server speaks HTTP/1.1 here (and HTTP/2 over TLS, negotiated by ALPN).', { connection: 'close' });
      return;
    }
    if (!host || ambiguousHost(req)) {
      send(400, 'Bad Request', host ? 'The request has more than one Host.' : 'The Host header is missing or malformed.');
      return;
    }
    const url = req.url ?? '';
    if (url.charCodeAt(0) !== 47 /* "/" */) {
      const target = readTarget(url, req.method, raw as string);
      if (target.kind === 'asterisk') {
        // A question about the server as a whole, not about a resource of the app.
        (res as ServerResponse).writeHead(200, { allow: ALLOW, 'content-length': '0' });
        res.end();
        return;
      }
      if (target.kind === 'refused') {
        send(400, 'Bad Request', `${target.reason}: ${excerpt(url)}`);
        return;
      }
      req.url = target.path;
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
      res.end(`Redirecting to ${excerpt(target, 200)}\n`);
      return;
    }
    const standIn = tls ? this.#certs.standInFor(tlsSocketOf(req)) : undefined;
    if (standIn) {
      const page = standInPage(host, standIn);
      // This connection holds the stand-in certificate for good: close it after the page, so that
      // the reload comes over a new handshake, which gets the real certificate once it is there.
      const h2 = isHttp2(req);
      // (The session is taken now: a stream that has ended no longer points to it.)
      const session = h2 ? req.stream?.session : undefined;
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
        `<!doctype html><html><head><meta charset="utf-8"><title>certgate</title></head><body style="font:16px system-ui,sans-serif;max-width:40em;margin:4em auto"><h1>certgate is serving HTTPS for ${excerpt(host)}</h1><p>Protocol: ${req.httpVersion === '2.0' ? 'HTTP/2' : `HTTP/${req.httpVersion}`} over ${info.proto.toUpperCase()}. No upstream is configured: start certgate with <code>--upstream http://127.0.0.1:3000</code> to put your app behind it.</p><p>Trust the local CA with <code>certgate local-ca export</code>.</p></body></html>\n`,
      );
      return;
    }
    if (logged) logged.upstream = upstream.host;
    const observer = this.#o.observer;
    if (observer?.request) {
      const started = performance.now();
      res.once('close', () => observer.request?.(res.headersSent ? res.statusCode : 0, (performance.now() - started) / 1000));
    }
    proxyRequest(req, res, upstream, info, hsts, this.#agent, (err) => this.#log('error', `upstream ${upstream.host} failed: ${err.message}`, { host }));
  }

  /** Writes the request's entry when its response is over; the upstream is named once the request is proxied there. */
  #logAccess(
    req: IncomingMessage | Http2ServerRequest,
    res: ServerResponse | Http2ServerResponse,
    host: string | null,
    tls: boolean,
  ): { upstream: string | null } {
    const write = this.#o.accessLog as (entry: AccessEntry) => void;
    const info = host ? this.#trusted.read(req, host, tls) : null;
    const via: { upstream: string | null } = { upstream: null };
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
        upstream: via.upstream,
      }),
    );
    return via;
  }

  /** An access entry for an exchange outside a request/response pair: an upgrade, or a request the parser refused. */
  #logRaw(
    socket: Duplex,
    fields: Pick<AccessEntry, 'method' | 'host' | 'path' | 'protocol' | 'status' | 'bytes' | 'upstream'> & { client?: string; started: number },
  ): void {
    const write = this.#o.accessLog;
    if (!write) return;
    const { started, client, ...rest } = fields;
    write({
      time: new Date().toISOString(),
      client: client ?? ((socket as Socket).remoteAddress ?? '').replace(/^::ffff:/, ''),
      ...rest,
      ms: Math.round((performance.now() - started) * 10) / 10,
    });
  }

  /** An upgrade's handling, guarded like a request's. */
  #upgradeGuarded(req: IncomingMessage, socket: Duplex, head: Buffer, tls: boolean): void {
    try {
      this.#upgrade(req, socket, head, tls);
    } catch (err) {
      this.#log('error', `handling an upgrade failed: ${excerpt((err as Error).message, 200)}`, { code: 'E_INTERNAL' });
      closeAfter(socket, 'HTTP/1.1 502 Bad Gateway\r\nConnection: close\r\nContent-Length: 0\r\n\r\n');
    }
  }

  #upgrade(req: IncomingMessage, socket: Duplex, head: Buffer, tls: boolean): void {
    const started = performance.now();
    const host = requestHost(req.headers.host);
    const upstream = host ? this.#upstreamFor(host) : null;
    const entry = (status: number, bytes: number, via: string | null, client?: string) =>
      this.#logRaw(socket, {
        method: req.method ?? '',
        host,
        path: (req.url ?? '').slice(0, 2048),
        protocol: `${tls ? 'https' : 'http'}/${req.httpVersion}`,
        status,
        bytes,
        upstream: via,
        started,
        ...(client ? { client } : {}),
      });
    const refuse = () => {
      closeAfter(socket, 'HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\nConnection: close\r\n\r\n');
      entry(400, 0, null);
    };
    const cl = req.headers['content-length'];
    if (
      !host ||
      !upstream ||
      req.httpVersionMajor !== 1 ||
      ambiguousHost(req) ||
      req.headers['transfer-encoding'] !== undefined ||
      (cl !== undefined && cl !== '0')
    ) {
      refuse();
      return;
    }
    const url = req.url ?? '';
    if (url.charCodeAt(0) !== 47) {
      const target = readTarget(url, req.method, req.headers.host as string);
      if (target.kind !== 'origin') {
        refuse();
        return;
      }
      req.url = target.path;
    }
    const info = this.#trusted.read(req, host, tls);
    // h2c is never passed on (certgate speaks HTTP/1.1 to upstreams): the request is served as HTTP/1.1.
    const asked = upgradeTokens(req.headers.upgrade);
    const upgrade = asked.includes('h2c') ? null : String(req.headers.upgrade);
    proxyUpgrade(req, socket, head, upstream, info, upgrade, {
      timeoutMs: this.#o.upstreamTimeoutMs ?? 120_000,
      extraHeaders: this.#hstsFor(host, info.proto),
      onError: (err) => this.#log('error', `upstream upgrade failed: ${err.message}`, { host }),
      onDone: ({ status, bytes }) => entry(status, bytes, upstream.host, info.clientIp),
    });
  }

  /**
   * Plain HTTP sent to the HTTPS port: OpenSSL recognises a request line before any handshake
   * (ERR_SSL_HTTP_REQUEST), and the raw TCP socket under the TLS socket can still answer in plain
   * text: the 400 that Go's net/http sends, instead of a reset its client shows as an empty reply.
   * This costs nothing per TLS connection (a front server that read the first bytes of every
   * connection cost 5-10% of full and resumed handshakes in bench/edge).
   */
  #plainHttp(err: NodeJS.ErrnoException, tlsSocket: Socket): void {
    if (err.code !== 'ERR_SSL_HTTP_REQUEST') return;
    const raw = (tlsSocket as Socket & { _parent?: Socket | null })._parent;
    if (!raw?.writable) return;
    const address = raw.localAddress?.replace(/^::ffff:/, '') ?? 'this-host';
    const host = address.includes(':') ? `[${address}]` : address;
    const port = this.ports.https === 443 ? '' : `:${this.ports.https}`;
    const body = `Client sent an HTTP request to an HTTPS server. This is an HTTPS port: use https://${host}${port}/ (with the host name you meant) instead.\n`;
    closeAfter(
      raw,
      `HTTP/1.0 400 Bad Request\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: ${body.length}\r\nConnection: close\r\n\r\n${body}`,
    );
  }

  /** A request Node's HTTP/1 parser gave up on (malformed, too large, too slow): its status, then the connection closes for good. */
  #clientError(err: NodeJS.ErrnoException, socket: Duplex, tls: boolean): void {
    // Never in the middle of a response already going out: that would corrupt what the client reads.
    const inFlight = (socket as { _httpMessage?: { headersSent?: boolean } })._httpMessage;
    if (err.code === 'ECONNRESET' || !socket.writable || inFlight?.headersSent) {
      socket.destroy();
      return;
    }
    const status = clientErrorStatus(err.code);
    closeAfter(socket, `HTTP/1.1 ${status}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n`);
    this.#logRaw(socket, {
      method: '',
      host: null,
      path: '',
      protocol: `${tls ? 'https' : 'http'}/1.1`,
      status: Number(status.slice(0, 3)),
      bytes: 0,
      upstream: null,
      started: performance.now(),
    });
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
    // Said, not silent: until the name's certificate is there, clients without SNI get localhost's.
    if (defaultSni && !isLocalName(defaultSni.toLowerCase()))
      this.#log('warn', `default SNI ${excerpt(defaultSni)} has no certificate yet: clients without SNI get the local localhost certificate until it has one`);
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
    // (Node carries the ticket key over to the new context; said again so that it never depends on that.)
    if (this.#ticketId !== null) {
      const cur = this.#o.ticketKeys?.current();
      if (cur) this.#https.setTicketKeys(cur.key);
    }
  }

  /**
   * Reads the shared ticket keys again and uses the current one (the runtime calls this on a
   * timer and when told that they changed). A failure keeps the key in use.
   */
  async refreshTickets(): Promise<void> {
    const keys = this.#o.ticketKeys;
    if (!keys || !this.#https) return;
    try {
      await keys.load();
    } catch (err) {
      this.#log('error', `TLS session ticket keys could not be read, the one in use stays: ${(err as Error).message}`);
      return;
    }
    this.#applyTicketKey();
  }

  /** Puts the current shared key in place and sets a timer for the moment the next one takes over. */
  #applyTicketKey(): void {
    const keys = this.#o.ticketKeys;
    if (!keys || !this.#https || this.#closing) return;
    const now = keys.now();
    const cur = keys.current(now);
    if (cur && cur.id !== this.#ticketId) {
      this.#https.setTicketKeys(cur.key);
      this.#ticketId = cur.id;
      this.#log('info', `TLS session ticket key ${cur.id} in use`, { ticketKey: cur.id });
    } else if (!cur && this.#ticketId === null) {
      this.#log('warn', 'no shared TLS session ticket key in the store yet: tickets resume on this process only');
    }
    if (this.#ticketTimer) clearTimeout(this.#ticketTimer);
    this.#ticketTimer = null;
    const next = keys.nextChangeAt(now);
    if (next !== null) {
      this.#ticketTimer = setTimeout(() => this.#applyTicketKey(), Math.min(Math.max(0, next - now) + 10, 2_147_483_647));
      this.#ticketTimer.unref();
    }
  }

  #tlsOptions(): Record<string, unknown> {
    return TLS_OPTIONS;
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
        // A connection that never starts its handshake is cut at the header deadline, as a slow
        // HTTP client is, not after Node's default two minutes.
        handshakeTimeout: this.#slowClientLimits().headersTimeout,
        settings: { maxConcurrentStreams: 250 },
        // The http2 server (allowHTTP1) does not turn Nagle off as http.Server does: without
        // this, a response's last small write waits for the client's delayed ACK (~40 ms). Set on
        // the accepted handle, before the TLS socket wraps it (a per-connection setNoDelay call
        // goes through the TLS socket's proxy, a few µs of every handshake).
        noDelay: true,
      } as Parameters<typeof createSecureServer>[0]);
      // http2's server replaces the ALPN list with h2 and http/1.1: without acme-tls/1 the CA's
      // TLS-ALPN-01 connection ends in no_application_protocol. The list goes back on the server
      // (each connection takes it from there, in OpenSSL's wire format); such a connection only
      // needs its handshake, so it is closed once done.
      (https as unknown as { ALPNProtocols: Buffer }).ALPNProtocols = alpnWire(TLS_OPTIONS.ALPNProtocols);
      https.on('unknownProtocol', (s: Socket) => s.destroy());
      https.on('request', (req: Http2ServerRequest, res: Http2ServerResponse) => this.#request(req, res, true));
      https.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => this.#upgradeGuarded(req, socket, head, true));
      https.on('session', (s: Http2Session) => {
        this.#sessions.add(s);
        s.on('close', () => this.#sessions.delete(s));
      });
      // Tracked from the accept on, so that close() also ends connections that never sent a byte.
      https.on('connection', track);
      https.on('tlsClientError', (err: NodeJS.ErrnoException, tlsSocket: Socket) => {
        this.#o.observer?.handshake?.('failed');
        this.#plainHttp(err, tlsSocket);
      });
      const observer = o.observer;
      if (observer?.handshake) https.on('secureConnection', (s: TLSSocket) => observer.handshake?.(s.isSessionReused() ? 'resumed' : 'full'));
      https.on('clientError', (err: NodeJS.ErrnoException, socket: Duplex) => this.#clientError(err, socket, true));
      https.setTimeout(o.requestTimeoutMs ?? 120_000);
      // HTTP/1.1 over TLS goes through the http2 server (allowHTTP1), which checks these like http.Server does.
      Object.assign(https, { ...this.#slowClientLimits(), keepAliveTimeout: o.keepAliveTimeoutMs ?? 5000 });
      this.#https = https;
      // Before the first connection: a ticket issued under a process-local key would not resume elsewhere.
      await this.refreshTickets();
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
        this.#request(req, res, false),
      );
      http.on('upgrade', (req, socket, head) => this.#upgradeGuarded(req, socket, head, false));
      http.on('connection', track);
      http.on('clientError', (err: NodeJS.ErrnoException, socket: Duplex) => this.#clientError(err, socket, false));
      this.#http = http;
      try {
        this.ports.http = await listen(http, o.httpPort, 'HTTP');
      } catch (err) {
        // The HTTPS port is already listening: a start that fails leaves nothing bound.
        const https = this.#https;
        if (https) await new Promise<void>((r) => https.close(() => r()));
        this.#https = null;
        this.ports.https = null;
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
    if (this.#ticketTimer) clearTimeout(this.#ticketTimer);
    const closed = Promise.all([this.#https, this.#http].filter(Boolean).map((s) => new Promise<void>((r) => (s as NetServer).close(() => r()))));
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
