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
import { BlockList, isIP, type Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import type { SecureContext } from 'node:tls';
import type { ChallengeAnswers } from '../acme/challenges.ts';
import type { CertCache } from '../cache/cache.ts';
import { CertgateError } from '../errors.ts';
import { listenOn } from '../listen.ts';
import { isLocalName, type LocalCa } from '../localca/local-ca.ts';
import type { CertManager } from '../manager/manager.ts';
import type { DomainRegistry } from '../manager/registry.ts';
import { canonicalName } from '../store/names.ts';
import { errorPage, type ForwardInfo, proxyRequest, proxyUpgrade, upstreamAgent } from './proxy.ts';

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
  /** How long the first handshake waits for its certificate (default 30 s). */
  onDemandTimeoutMs?: number;
  headersTimeoutMs?: number;
  requestTimeoutMs?: number;
  keepAliveTimeoutMs?: number;
  /** Drain time on close (default 10 s). */
  drainMs?: number;
  log?: (event: { level: 'info' | 'warn' | 'error'; msg: string; [k: string]: unknown }) => void;
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

export class Edge {
  readonly #o: EdgeOptions & { redirect: boolean; onDemandPerMinute: number; onDemandTimeoutMs: number; drainMs: number };
  readonly #trusted = new BlockList();
  #https: Http2SecureServer | null = null;
  #http: Server | null = null;
  readonly #sessions = new Set<Http2Session>();
  readonly #sockets = new Set<Socket>();
  readonly #pending = new Map<string, Promise<SecureContext | undefined>>();
  /** Names refused recently: refused again from memory, without asking anyone. */
  readonly #refused = new Map<string, number>();
  /** Names whose issuance failed: their visitors get an explaining error page. */
  readonly #failed = new Map<string, string>();
  #issuedThisMinute: { minute: number; count: number } = { minute: 0, count: 0 };
  #closing = false;
  readonly #agent = upstreamAgent();
  readonly ports: { https: number | null; http: number | null } = { https: null, http: null };

  constructor(options: EdgeOptions) {
    if (options.httpsPort === null && !options.behindProxy)
      throw new CertgateError(
        'E_OPTION',
        'without an HTTPS port the edge must be behind a TLS-terminating proxy',
        'set an HTTPS port, or --behind-proxy with the proxy addresses',
      );
    if (options.upstream) {
      try {
        const u = new URL(options.upstream);
        if (u.protocol !== 'http:') throw new Error('not http');
      } catch {
        throw new CertgateError('E_OPTION', `upstream "${options.upstream}" is not an http:// URL`, 'e.g. --upstream http://127.0.0.1:3000');
      }
    }
    this.#o = { redirect: true, onDemandPerMinute: 30, onDemandTimeoutMs: 30_000, drainMs: 10_000, ...options };
    for (const cidr of options.behindProxy?.trustedProxies ?? []) {
      const [addr, bits] = cidr.split('/');
      const type = isIP(addr ?? '') === 6 ? 'ipv6' : 'ipv4';
      if (!isIP(addr ?? '')) throw new CertgateError('E_OPTION', `trusted proxy "${cidr}" is not an address or CIDR`, 'e.g. 10.0.0.0/8 or 127.0.0.1');
      if (bits === undefined) this.#trusted.addAddress(addr as string, type);
      else this.#trusted.addSubnet(addr as string, Number(bits), type);
    }
  }

  #log(level: 'info' | 'warn' | 'error', msg: string, extra: Record<string, unknown> = {}): void {
    this.#o.log?.({ level, msg, ...extra });
  }

  #isTrustedHop(ip: string | undefined): boolean {
    if (!ip) return false;
    const plain = ip.startsWith('::ffff:') ? ip.slice(7) : ip;
    return this.#trusted.check(plain, isIP(plain) === 6 ? 'ipv6' : 'ipv4');
  }

  /** Client IP and original scheme: from forwarded headers only when the direct peer is a trusted proxy. */
  #forwardInfo(req: IncomingMessage | Http2ServerRequest, host: string, tls: boolean): ForwardInfo {
    const peer = req.socket.remoteAddress ?? '';
    const peerIp = peer.startsWith('::ffff:') ? peer.slice(7) : peer;
    if (!tls && this.#o.behindProxy && this.#isTrustedHop(peerIp)) {
      const xff = String(req.headers['x-forwarded-for'] ?? '')
        .split(',')
        .map((s) => s.trim())
        .filter(Boolean);
      // The client is the rightmost address that is not one of our proxies.
      let client = peerIp;
      const chain = [...xff];
      while (chain.length) {
        const candidate = chain.pop() as string;
        client = candidate;
        if (!this.#isTrustedHop(candidate)) break;
      }
      const proto = String(req.headers['x-forwarded-proto'] ?? '')
        .split(',')[0]
        ?.trim()
        .toLowerCase();
      return { clientIp: client, proto: proto === 'https' ? 'https' : 'http', host, priorForwardedFor: xff.length ? xff.join(', ') : null };
    }
    return { clientIp: peerIp, proto: tls ? 'https' : 'http', host, priorForwardedFor: null };
  }

  #hstsFor(host: string, proto: 'http' | 'https'): Record<string, string> {
    const h = this.#o.hsts;
    if (!h || proto !== 'https' || isLocalName(host)) return {};
    return { 'strict-transport-security': hstsValue(h) };
  }

  #upstreamFor(host: string): URL | null {
    const u = this.#o.routes?.[host] ?? this.#o.upstream;
    return u ? new URL(u) : null;
  }

  #handle(req: IncomingMessage | Http2ServerRequest, res: ServerResponse | Http2ServerResponse, tls: boolean): void {
    const raw = (req.headers[':authority'] as string | undefined) ?? req.headers.host;
    const host = requestHost(raw);
    const send = (status: number, title: string, detail: string, extra: Record<string, string> = {}) => {
      (res as ServerResponse).writeHead(status, { 'content-type': 'text/html; charset=utf-8', ...extra });
      res.end(errorPage(status, title, detail));
    };
    if (!host) {
      send(400, 'Bad Request', 'The Host header is missing or malformed.');
      return;
    }
    if (!tls && this.#o.answers.handleHttp(req as IncomingMessage, res as ServerResponse)) return;
    const info = this.#forwardInfo(req, host, tls);
    const hsts = this.#hstsFor(host, info.proto);
    if (!tls && info.proto === 'http' && this.#o.redirect && this.ports.https !== null) {
      const port = this.ports.https === 443 ? '' : `:${this.ports.https}`;
      const target = `https://${host.includes(':') ? `[${host}]` : host}${port}${req.url ?? '/'}`;
      (res as ServerResponse).writeHead(308, { location: target, 'content-type': 'text/plain' });
      res.end(`Redirecting to ${target}\n`);
      return;
    }
    const failed = tls ? this.#failed.get(host) : undefined;
    if (failed) {
      send(
        503,
        'Certificate not available yet',
        `certgate could not obtain a certificate for ${host}: ${failed}. It will try again; the operator can run certgate logs ${host}.`,
        { 'retry-after': '60' },
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

  #upgrade(req: IncomingMessage, socket: Duplex, head: Buffer, tls: boolean): void {
    const host = requestHost(req.headers.host);
    const upstream = host ? this.#upstreamFor(host) : null;
    if (!host || !upstream) {
      socket.end('HTTP/1.1 400 Bad Request\r\nConnection: close\r\n\r\n');
      return;
    }
    proxyUpgrade(req, socket, head, upstream, this.#forwardInfo(req, host, tls), (err) =>
      this.#log('error', `upstream upgrade failed: ${err.message}`, { host }),
    );
  }

  /** The secure context for a handshake. Reads memory; asks the CA only for registered names. */
  async contextFor(servername: string | undefined): Promise<SecureContext | undefined> {
    const name = (servername ?? '').toLowerCase();
    const alpn = name ? this.#o.answers.alpnContext(name) : undefined;
    if (alpn) return alpn;
    const { cache } = this.#o;
    const hit = cache.resolve(name);
    if (hit && !this.#localDue(hit)) return cache.context(hit);
    if (!name) return this.#fallback('localhost');
    // localhost, LAN and .internal names (single labels too) go to the local CA.
    if (isLocalName(name) && /^[a-z0-9]([a-z0-9.-]{0,251}[a-z0-9])?$/.test(name) && !name.includes('..')) return this.#local(name);
    let canonical: string;
    try {
      canonical = canonicalName(name);
    } catch {
      return undefined; // a garbage SNI: no certificate, the handshake fails fast
    }
    const running = this.#pending.get(canonical);
    if (running) return running;
    const p = this.#onDemand(canonical).finally(() => this.#pending.delete(canonical));
    this.#pending.set(canonical, p);
    return p;
  }

  #localDue(name: string): boolean {
    const b = this.#o.cache.get(name);
    if (b?.meta.directory !== 'local') return false;
    const nb = Date.parse(b.meta.notBefore);
    const na = Date.parse(b.meta.notAfter);
    return Date.now() > na - (na - nb) / 3;
  }

  async #local(name: string): Promise<SecureContext | undefined> {
    const bundle = await this.#o.localCa.issue([name]);
    this.#o.cache.put(name, bundle);
    return this.#o.cache.context(name);
  }

  /** A local-CA certificate so that a refused or failing name gets a page, not a bare reset. */
  async #fallback(name: string): Promise<SecureContext | undefined> {
    const key = `fallback:${name}`;
    if (!this.#o.cache.get(key)) this.#o.cache.put(key, await this.#o.localCa.issue([name]));
    return this.#o.cache.context(key);
  }

  async #onDemand(name: string): Promise<SecureContext | undefined> {
    const { registry, manager, cache } = this.#o;
    const refusedAt = this.#refused.get(name);
    if (refusedAt && Date.now() - refusedAt < 60_000) return undefined;
    if (!registry || !manager) return undefined;
    const decision = await registry.decide(name, { visit: true });
    if (!decision.allowed) {
      this.#refused.set(name, Date.now());
      if (this.#refused.size > 10_000) this.#refused.delete(this.#refused.keys().next().value as string);
      this.#log('info', `refused on-demand certificate for ${name}: ${decision.reason}`, { host: name });
      return undefined;
    }
    const stored = await manager.store.getBundle(name);
    if (stored && Date.parse(stored.meta.notAfter) > Date.now()) {
      cache.put(name, stored);
      return cache.context(name);
    }
    const minute = Math.floor(Date.now() / 60_000);
    if (this.#issuedThisMinute.minute !== minute) this.#issuedThisMinute = { minute, count: 0 };
    if (this.#issuedThisMinute.count >= this.#o.onDemandPerMinute) {
      this.#failed.set(name, 'too many new certificates were requested this minute');
      return this.#fallback(name);
    }
    this.#issuedThisMinute.count++;
    try {
      const result = await Promise.race([
        manager.obtain(name, { reason: 'on demand, first handshake' }),
        new Promise<never>((_, reject) => setTimeout(() => reject(new Error('the CA took too long')), this.#o.onDemandTimeoutMs).unref()),
      ]);
      cache.put(name, result.bundle);
      this.#failed.delete(name);
      this.#log('info', `obtained a certificate for ${name} on demand in ${Math.round(result.ms)} ms`, { host: name });
      return cache.context(name);
    } catch (err) {
      this.#failed.set(name, (err as Error).message);
      this.#log('error', `on-demand certificate for ${name} failed: ${(err as Error).message}`, { host: name });
      return this.#fallback(name);
    }
  }

  /** A renewed or new certificate: served from the next handshake on. */
  update(name: string, bundle: import('../store/store.ts').CertificateBundle): void {
    this.#o.cache.put(name, bundle);
    this.#failed.delete(name);
  }

  async start(): Promise<{ https: number | null; http: number | null }> {
    const o = this.#o;
    const listen = (server: Server | Http2SecureServer, port: number, what: string) => listenOn(server as Server, port, o.host, what);
    const track = (s: Socket) => {
      this.#sockets.add(s);
      s.on('close', () => this.#sockets.delete(s));
    };
    if (o.httpsPort !== null) {
      const https = createSecureServer({
        allowHTTP1: true,
        ALPNProtocols: ['h2', 'http/1.1', 'acme-tls/1'],
        SNICallback: (servername, cb) => {
          // The common case answers synchronously from memory: no promise per handshake.
          const name = servername.toLowerCase();
          const hit = this.#o.answers.alpn.size ? null : this.#o.cache.resolve(name);
          if (hit && !this.#localDue(hit)) {
            cb(null, this.#o.cache.context(hit));
            return;
          }
          this.contextFor(servername).then(
            (ctx) => (ctx ? cb(null, ctx) : cb(new Error(`no certificate for "${servername.slice(0, 100)}"`))),
            (err) => cb(err),
          );
        },
        settings: { maxConcurrentStreams: 250 },
      } as Parameters<typeof createSecureServer>[0]);
      https.on('request', (req: Http2ServerRequest, res: Http2ServerResponse) => this.#handle(req, res, true));
      https.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => this.#upgrade(req, socket, head, true));
      https.on('session', (s: Http2Session) => {
        this.#sessions.add(s);
        s.on('close', () => this.#sessions.delete(s));
      });
      https.on('connection', track);
      https.on('tlsClientError', () => {});
      https.setTimeout(o.requestTimeoutMs ?? 120_000);
      this.#https = https;
      this.ports.https = await listen(https, o.httpsPort, 'HTTPS');
    }
    if (o.httpPort !== null) {
      const http = createHttpServer(
        { headersTimeout: o.headersTimeoutMs ?? 30_000, requestTimeout: o.requestTimeoutMs ?? 120_000, keepAliveTimeout: o.keepAliveTimeoutMs ?? 5000 },
        (req, res) => this.#handle(req, res, false),
      );
      http.on('upgrade', (req, socket, head) => this.#upgrade(req, socket, head, false));
      http.on('connection', track);
      http.on('clientError', (err, socket) => {
        if (socket.writable)
          socket.end(
            `HTTP/1.1 ${(err as NodeJS.ErrnoException).code === 'HPE_HEADER_OVERFLOW' ? '431 Request Header Fields Too Large' : '400 Bad Request'}\r\nConnection: close\r\n\r\n`,
          );
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
    this.#agent.destroy();
  }
}
