/**
 * @module edge/proxy
 * The reverse proxy: requests (HTTP/1.1 or HTTP/2) and WebSocket upgrades to an HTTP/1.1
 * upstream, with X-Forwarded-For/-Proto/-Host and Forwarded set, and a clean 502 page when
 * the upstream is down.
 */
import type { IncomingHttpHeaders, IncomingMessage, ServerResponse } from 'node:http';
import { Http2ServerRequest, type Http2ServerResponse } from 'node:http2';
import { connect as netConnect, type Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import { Agent, type Dispatcher } from 'undici';

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
  host: string;
  /** An X-Forwarded-For chain from trusted hops to keep (behind a load balancer). */
  priorForwardedFor: string | null;
}

/**
 * Connections to the upstreams. undici rather than http.request: its dispatcher costs a
 * third of the CPU per proxied request (measured in bench/edge), which is most of the edge's
 * per-request cost once TLS is set up.
 */
export function upstreamAgent(): Agent {
  return new Agent({ connections: 256, pipelining: 1, keepAliveTimeout: 4_000, headersTimeout: 120_000, bodyTimeout: 120_000 });
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
    if (k === 'x-forwarded-for' || k === 'x-forwarded-proto' || k === 'x-forwarded-host' || k === 'forwarded' || k === 'x-real-ip') continue;
    out[k] = v;
  }
  out.host = info.host;
  // Each proxy appends the address it was connected from: the chain the trusted hops sent, then them.
  out['x-forwarded-for'] = info.priorForwardedFor ? `${info.priorForwardedFor}, ${info.peerIp}` : info.peerIp;
  out['x-forwarded-proto'] = info.proto;
  out['x-forwarded-host'] = info.host;
  out['x-real-ip'] = info.clientIp;
  const forIp = info.clientIp.includes(':') ? `"[${info.clientIp}]"` : info.clientIp;
  out.forwarded = `for=${forIp};proto=${info.proto};host="${info.host}"`;
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
  const onClientGone = () => {
    if (!done) controller?.abort(new Error('the client went away'));
  };
  res.on('close', onClientGone);
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
          out.writeHead(502, { 'content-type': 'text/html; charset=utf-8', ...extraHeaders });
          out.end(errorPage(502, 'Bad Gateway', `The application behind this site (${upstream.host}) is not answering. certgate is running; the app is not.`));
        } else out.destroy();
      },
    },
  );
}

/** WebSocket (any HTTP/1.1 upgrade): replay the request upstream, then splice the sockets. */
export function proxyUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer, upstream: URL, info: ForwardInfo, onError: (err: Error) => void): void {
  const upstreamSocket: Socket = netConnect({ host: upstream.hostname, port: Number(upstream.port || 80) });
  socket.on('error', () => upstreamSocket.destroy());
  // A WebSocket has its own close handshake: a side that ends or goes away takes the other along
  // (HTTP servers keep half-open sockets, which would otherwise leak here).
  const both = () => {
    upstreamSocket.destroy();
    socket.destroy();
  };
  socket.on('close', both);
  socket.on('end', both);
  upstreamSocket.on('close', both);
  upstreamSocket.on('end', both);
  upstreamSocket.on('error', (err) => {
    onError(err);
    socket.end('HTTP/1.1 502 Bad Gateway\r\nContent-Type: text/plain\r\nConnection: close\r\n\r\nthe application is not answering\n');
  });
  upstreamSocket.on('connect', () => {
    const headers = forwardHeaders(req.headers, info);
    headers.connection = 'Upgrade';
    headers.upgrade = String(req.headers.upgrade ?? 'websocket');
    let text = `${req.method} ${req.url} HTTP/1.1\r\n`;
    for (const [k, v] of Object.entries(headers)) for (const one of Array.isArray(v) ? v : [v]) text += `${k}: ${one}\r\n`;
    upstreamSocket.write(`${text}\r\n`);
    if (head.length) upstreamSocket.write(head);
    upstreamSocket.pipe(socket);
    socket.pipe(upstreamSocket);
  });
}
