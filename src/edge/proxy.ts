/**
 * @module edge/proxy
 * The reverse proxy: requests (HTTP/1.1 or HTTP/2) and WebSocket upgrades to an HTTP/1.1
 * upstream, with X-Forwarded-For/-Proto/-Host and Forwarded set, and a clean 502 page when
 * the upstream is down.
 */
import { request as httpRequest, type IncomingHttpHeaders, type IncomingMessage, type ServerResponse } from 'node:http';
import { Http2ServerRequest, type Http2ServerResponse } from 'node:http2';
import type { Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import { Agent, type Dispatcher } from 'undici';
import { excerpt } from './excerpt.ts';

const HOP_BY_HOP = new Set([
  'connection',
  'keep-alive',
  'proxy-connection',
  'transfer-encoding',
  'upgrade',
  'te',
  'trailer',
  'proxy-authorization',
  'http2-settings',
  'host',
  // Node's server has already answered "Expect: 100-continue"; undici refuses the header.
  'expect',
]);

export interface ForwardInfo {
  clientIp: string;
  /** The address that connected to the edge (the load balancer, or the client itself). */
  peerIp: string;
  proto: 'http' | 'https';
  /** The host name the request was routed by: lower-case, without port. */
  host: string;
  /** The Host header as the client sent it, port included: what the app builds its absolute URLs from. */
  authority: string;
  /** The port the visitor connected to (a trusted hop's X-Forwarded-Port behind a load balancer). */
  port: string;
  /** An X-Forwarded-For chain from trusted hops to keep (behind a load balancer). */
  priorForwardedFor: string | null;
  /** The direct peer is a trusted proxy: the client-address headers it sets are kept. */
  trusted: boolean;
}

/** Set by the edge alone: whatever a client (or a hop) sent under these names is dropped. */
const SET_HERE = new Set(['x-forwarded-for', 'x-forwarded-proto', 'x-forwarded-host', 'x-forwarded-port', 'forwarded', 'x-real-ip']);
/** Rewrite the path the edge has already routed: never passed on. */
const NEVER = new Set(['x-original-url', 'x-rewrite-url']);
/** What a load balancer may say about the visitor: kept from a trusted hop only. */
const FROM_TRUSTED = new Set([
  'x-forwarded-scheme',
  'x-forwarded-ssl',
  'x-forwarded-prefix',
  'x-forwarded-server',
  'true-client-ip',
  'x-client-ip',
  'cf-connecting-ip',
  'client-ip',
]);

/**
 * An underscore spelling of a forwarded header (`X_Forwarded_For`): CGI, WSGI and PHP read it as the
 * dash form, so it would forge one. Dropped whoever sent it.
 */
function forgesForwarded(name: string): boolean {
  const dashed = name.replaceAll('_', '-');
  return SET_HERE.has(dashed) || NEVER.has(dashed) || FROM_TRUSTED.has(dashed);
}

/**
 * Connections to the upstreams. undici rather than http.request: its dispatcher costs a
 * third of the CPU per proxied request (measured in bench/edge), which is most of the edge's
 * per-request cost once TLS is set up.
 */
export function upstreamAgent(timeoutMs = 120_000): Agent {
  return new Agent({ connections: 256, pipelining: 1, keepAliveTimeout: 4_000, headersTimeout: timeoutMs, bodyTimeout: timeoutMs });
}

export function forwardHeaders(headers: IncomingHttpHeaders, info: ForwardInfo): Record<string, string | string[]> {
  const out: Record<string, string | string[]> = {};
  const connectionListed = new Set(
    String(headers.connection ?? '')
      .toLowerCase()
      .split(',')
      .map((s) => s.trim()),
  );
  for (const [k, v] of Object.entries(headers)) {
    if (v === undefined || k.startsWith(':') || HOP_BY_HOP.has(k) || connectionListed.has(k)) continue;
    if (SET_HERE.has(k) || NEVER.has(k) || (!info.trusted && FROM_TRUSTED.has(k))) continue;
    if (k.includes('_') && forgesForwarded(k)) continue;
    out[k] = v;
  }
  out.host = info.authority;
  // Each proxy appends the address it was connected from: the chain the trusted hops sent, then them.
  out['x-forwarded-for'] = info.priorForwardedFor ? `${info.priorForwardedFor}, ${info.peerIp}` : info.peerIp;
  out['x-forwarded-proto'] = info.proto;
  out['x-forwarded-host'] = info.authority;
  out['x-forwarded-port'] = info.port;
  out['x-real-ip'] = info.clientIp;
  const forIp = info.clientIp.includes(':') ? `"[${info.clientIp}]"` : info.clientIp;
  out.forwarded = `for=${forIp};proto=${info.proto};host="${info.authority}"`;
  return out;
}

function responseHeaders(headers: IncomingHttpHeaders, http2: boolean): Record<string, string | string[]> {
  const out: Record<string, string | string[]> = {};
  for (const [k, v] of Object.entries(headers)) {
    if (v === undefined) continue;
    if (http2 && (HOP_BY_HOP.has(k) || k === 'connection')) continue;
    if (!http2 && (k === 'connection' || k === 'keep-alive')) continue;
    out[k] = v;
  }
  return out;
}

export function errorPage(status: number, title: string, detail: string, refreshSeconds?: number): string {
  const esc = (s: string) => s.replace(/[&<>"]/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;' })[c] as string);
  return `<!doctype html><html><head><meta charset="utf-8"><title>${status} ${esc(title)}</title>${refreshSeconds ? `<meta http-equiv="refresh" content="${refreshSeconds}">` : ''}<style>body{font:16px system-ui,sans-serif;max-width:40em;margin:4em auto;color:#222}code{background:#eee;padding:.1em .3em}</style></head><body><h1>${status} ${esc(title)}</h1><p>${esc(detail)}</p><p><small>certgate</small></p></body></html>\n`;
}

type AnyReq = IncomingMessage | Http2ServerRequest;
type AnyRes = ServerResponse | Http2ServerResponse;

/**
 * True for a request that came over HTTP/2. Decided by the request's type: an HTTP/1 request line
 * may claim any version (`GET / HTTP/2.0`), and such a request has no stream.
 */
export function isHttp2(req: AnyReq): req is Http2ServerRequest {
  return req instanceof Http2ServerRequest;
}

/** True when the request carries a body (HTTP/1 framing headers, or an HTTP/2 stream left open). */
function hasBody(req: AnyReq): boolean {
  if (isHttp2(req)) return !req.stream.endAfterHeaders;
  const cl = req.headers['content-length'];
  return req.headers['transfer-encoding'] !== undefined || (cl !== undefined && cl !== '0');
}

export function proxyRequest(
  req: AnyReq,
  res: AnyRes,
  upstream: URL,
  info: ForwardInfo,
  extraHeaders: Record<string, string>,
  agent: Dispatcher,
  onError: (err: Error) => void,
): void {
  const isH2 = isHttp2(req);
  const out = res as ServerResponse;
  let controller: Dispatcher.DispatchController | null = null;
  let done = false;
  let gone = false;
  const onClientGone = () => {
    gone = true;
    if (!done) controller?.abort(new Error('the client went away'));
  };
  // An HTTP/2 stream reset before its body was complete (a content-length that DATA frames
  // contradict, a client that gave up) is no request at all: the app must not get it, not even
  // as an empty one.
  if (isH2 && (req.stream.destroyed || req.stream.rstCode)) return;
  res.on('close', onClientGone);
  req.on('aborted', onClientGone);
  agent.dispatch(
    {
      origin: upstream.origin,
      method: req.method as Dispatcher.HttpMethod,
      path: req.url ?? '/',
      headers: forwardHeaders(req.headers, info),
      body: hasBody(req) ? (req as IncomingMessage) : null,
    },
    {
      onRequestStart(c) {
        controller = c;
        if (gone) c.abort(new Error('the client went away'));
      },
      onResponseStart(c, status, headers) {
        try {
          out.writeHead(status, { ...responseHeaders(headers as IncomingHttpHeaders, isH2), ...extraHeaders });
        } catch (err) {
          // A status or header the client's protocol cannot carry: this request's 502, not the process's end.
          c.abort(err as Error);
          return;
        }
        out.on('drain', () => c.resume());
      },
      onResponseData(c, chunk) {
        if (!out.write(chunk)) c.pause();
      },
      onResponseEnd() {
        done = true;
        res.off('close', onClientGone);
        out.end();
      },
      onResponseError(_c, err) {
        done = true;
        res.off('close', onClientGone);
        if (out.destroyed) return;
        onError(err);
        if (!out.headersSent) {
          // The upstream accepted the request but did not start its answer in time: a 504, as documented.
          if ((err as NodeJS.ErrnoException).code === 'UND_ERR_HEADERS_TIMEOUT') {
            out.writeHead(504, { 'content-type': 'text/html; charset=utf-8', ...extraHeaders });
            out.end(
              errorPage(
                504,
                'Gateway Timeout',
                `The application behind this site (${upstream.host}) did not answer in time. certgate is running; the app is slow.`,
              ),
            );
            return;
          }
          out.writeHead(502, { 'content-type': 'text/html; charset=utf-8', ...extraHeaders });
          out.end(errorPage(502, 'Bad Gateway', `The application behind this site (${upstream.host}) is not answering. certgate is running; the app is not.`));
        } else out.destroy();
      },
    },
  );
}

/** The tokens of an Upgrade header, lower-case ("websocket", "h2c", ...). */
export function upgradeTokens(value: string | string[] | undefined): string[] {
  return String(value ?? '')
    .toLowerCase()
    .split(',')
    .map((t) => t.trim())
    .filter(Boolean);
}

const RELAY_SKIP = new Set(['connection', 'keep-alive', 'transfer-encoding', 'upgrade', 'proxy-connection']);

/** A response head for a raw client socket, from a parsed upstream response. */
function rawHead(res: IncomingMessage, extra: Record<string, string>, close: boolean): string {
  let text = `HTTP/1.1 ${res.statusCode} ${res.statusMessage ?? ''}\r\n`;
  const raw = res.rawHeaders;
  for (let i = 0; i + 1 < raw.length; i += 2) {
    const k = raw[i] as string;
    if (close && RELAY_SKIP.has(k.toLowerCase())) continue;
    text += `${k}: ${raw[i + 1]}\r\n`;
  }
  for (const [k, v] of Object.entries(extra)) text += `${k}: ${v}\r\n`;
  if (close) text += 'Connection: close\r\n';
  return `${text}\r\n`;
}

export interface UpgradeOptions {
  /** How long the upstream may take to answer (then 504). */
  timeoutMs: number;
  /** Headers for a response relayed instead of an upgrade (HSTS). */
  extraHeaders: Record<string, string>;
  onError: (err: Error) => void;
  /** Once, when the exchange is over: the status the client got and the bytes sent to it after the head. */
  onDone: (r: { status: number; bytes: number }) => void;
}

/**
 * An HTTP/1.1 upgrade (WebSocket and the like): the request goes to the upstream, and the sockets
 * are spliced only once the upstream has answered 101 for the protocol the client asked for. Any
 * other answer is relayed as a normal response and the client's connection closed: a splice on a
 * 200 would let every later request on that connection reach the upstream raw, with forged
 * forwarded headers and unlogged. `upgrade: null` sends the request without one (h2c, which the
 * edge does not speak to upstreams, is served as plain HTTP/1.1).
 */
export function proxyUpgrade(
  req: IncomingMessage,
  socket: Duplex,
  head: Buffer,
  upstream: URL,
  info: ForwardInfo,
  upgrade: string | null,
  o: UpgradeOptions,
): void {
  let finished = false;
  const done = (status: number, bytes: number) => {
    if (finished) return;
    finished = true;
    o.onDone({ status, bytes });
  };
  const headers = forwardHeaders(req.headers, info);
  if (upgrade) {
    headers.connection = 'Upgrade';
    headers.upgrade = upgrade;
  } else headers.connection = 'close';
  const asked = upgrade ? upgradeTokens(upgrade) : [];
  const up = httpRequest({
    host: upstream.hostname,
    port: Number(upstream.port || 80),
    method: req.method,
    path: req.url,
    headers,
    agent: false,
    timeout: o.timeoutMs,
  });
  let answered = false;
  const fail = (status: number, text: string) => {
    if (answered) {
      socket.destroy();
      return;
    }
    answered = true;
    closeAfter(
      socket,
      `HTTP/1.1 ${status} ${status === 504 ? 'Gateway Timeout' : 'Bad Gateway'}\r\nContent-Type: text/plain\r\nContent-Length: ${text.length}\r\nConnection: close\r\n\r\n${text}`,
    );
    done(status, text.length);
  };
  const clientGone = () => {
    if (!answered) {
      answered = true;
      done(0, 0);
    }
    up.destroy();
  };
  socket.on('error', clientGone);
  socket.once('close', clientGone);
  up.on('timeout', () => {
    o.onError(new Error(`the application did not answer within ${o.timeoutMs / 1000} s`));
    fail(504, 'the application did not answer in time\n');
    up.destroy();
  });
  up.on('error', (err) => {
    if (answered) return;
    o.onError(err);
    fail(502, 'the application is not answering\n');
  });
  up.on('response', (res) => {
    // Not an upgrade: an ordinary response, relayed; this connection ends with it.
    answered = true;
    socket.write(rawHead(res, o.extraHeaders, true));
    let bytes = 0;
    res.on('data', (chunk: Buffer) => {
      bytes += chunk.length;
      if (!socket.write(chunk)) res.pause();
    });
    socket.on('drain', () => res.resume());
    res.on('end', () => {
      closeAfter(socket, '');
      done(res.statusCode ?? 0, bytes);
    });
    res.on('error', () => socket.destroy());
  });
  up.on('upgrade', (res, upSocket: Socket, upHead: Buffer) => {
    const offered = upgradeTokens(res.headers.upgrade);
    if (!offered.length || !offered.every((p) => asked.includes(p))) {
      upSocket.destroy();
      o.onError(new Error(`the application switched to "${excerpt(String(res.headers.upgrade ?? ''), 40)}", not to the protocol asked for`));
      fail(502, 'the application switched to a protocol the client did not ask for\n');
      return;
    }
    answered = true;
    upSocket.setTimeout(0);
    socket.off('close', clientGone);
    socket.off('error', clientGone);
    // A tunnel has its own close handshake: a side that ends or goes away takes the other along
    // (HTTP servers keep half-open sockets, which would otherwise leak here).
    const both = () => {
      upSocket.destroy();
      socket.destroy();
      done(101, upSocket.bytesRead);
    };
    socket.on('close', both);
    socket.on('end', both);
    socket.on('error', both);
    upSocket.on('close', both);
    upSocket.on('end', both);
    upSocket.on('error', both);
    socket.write(rawHead(res, {}, false));
    if (upHead.length) socket.write(upHead);
    if (head.length) upSocket.write(head);
    upSocket.pipe(socket);
    socket.pipe(upSocket);
  });
  up.end();
}

/** Ends a raw socket (after `last`) and destroys it after a short grace: end() alone only half-closes. */
export function closeAfter(socket: Duplex, last: string, graceMs = 1000): void {
  if (socket.destroyed) return;
  if (socket.writable) socket.end(last);
  const timer = setTimeout(() => socket.destroy(), graceMs);
  timer.unref();
  socket.once('close', () => clearTimeout(timer));
}
