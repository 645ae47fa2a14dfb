/**
 * @module doctor/probe
 * One HTTP(S) request to this host's own listener for a name (Host and SNI set to it), and a
 * redirect follower that emulates the path a visitor's requests take: https through certgate's
 * TLS listener, or, when TLS ends at a load balancer, through the HTTP port with
 * `X-Forwarded-Proto: https` as the load balancer would send it.
 */
import { request as httpRequest, type IncomingHttpHeaders } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { isIP, connect as netConnect } from 'node:net';

export interface Answer {
  status: number;
  headers: IncomingHttpHeaders;
  body: string;
}

export interface ProbeTarget {
  host: string;
  port: number;
  tls: boolean;
  /** The name asked for (Host, SNI). */
  name: string;
  path: string;
  headers?: Record<string, string>;
  ca: string[];
  timeoutMs: number;
}

/** A request that fails says why with a Node error code (ECONNREFUSED, CERT_HAS_EXPIRED, ...). */
export function fetchOnce(t: ProbeTarget): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const options = {
      host: t.host,
      port: t.port,
      path: t.path,
      method: 'GET',
      agent: false as const,
      headers: { host: t.name, 'user-agent': 'certgate-doctor', ...t.headers },
      timeout: t.timeoutMs,
      ...(t.tls ? { ca: t.ca, ...(isIP(t.name) ? {} : { servername: t.name }) } : {}),
    };
    const req = (t.tls ? httpsRequest : httpRequest)(options, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => {
        if (body.length < 4096) body += d;
      });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(Object.assign(new Error(`no answer within ${t.timeoutMs} ms`), { code: 'ETIMEDOUT' })));
    req.on('error', reject);
    req.end();
  });
}

/** Raw bytes written to a port, the first bytes of the answer (or why there was none). */
export function rawExchange(host: string, port: number, payload: string, timeoutMs: number): Promise<{ data: Buffer; closed: string }> {
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    const s = netConnect({ host, port });
    const done = (closed: string) => {
      clearTimeout(timer);
      s.destroy();
      resolve({ data: Buffer.concat(chunks), closed });
    };
    const timer = setTimeout(() => done('timeout'), timeoutMs);
    s.on('connect', () => s.write(payload));
    s.on('data', (d) => {
      chunks.push(d);
      if (Buffer.concat(chunks).length > 4096) done('enough');
    });
    s.on('end', () => done('closed'));
    s.on('error', (err: NodeJS.ErrnoException) => done(err.code ?? err.message));
  });
}

export const MAX_HOPS = 10;

export interface Hop {
  url: string;
  forwardedProto: 'https' | null;
  status: number | null;
  location: string | null;
  error: string | null;
}

export interface Chain {
  hops: Hop[];
  outcome: 'answered' | 'loop' | 'too-many' | 'error' | 'left';
}

export interface FollowOptions {
  name: string;
  host: string;
  httpPort: number | null;
  /** certgate's own HTTPS port; null: TLS ends at a load balancer (emulated on the HTTP port). */
  httpsPort: number | null;
  /** Send `X-Forwarded-Proto: https` with plain-HTTP requests (a proxy in front that says so). */
  forwardedProto: boolean;
  ca: string[];
  timeoutMs: number;
}

/** Follows redirects within the name, at most MAX_HOPS; a URL asked twice the same way is a loop. */
export async function followRedirects(o: FollowOptions): Promise<Chain> {
  const hops: Hop[] = [];
  const seen = new Set<string>();
  let url = new URL(`http://${o.name}/`);
  for (let i = 0; i < MAX_HOPS; i++) {
    const viaTls = url.protocol === 'https:' && o.httpsPort !== null;
    // https without certgate's TLS listener: the load balancer's hop, which says https.
    const xfp = !viaTls && (o.forwardedProto || url.protocol === 'https:') ? ('https' as const) : null;
    const port = viaTls ? o.httpsPort : o.httpPort;
    const key = `${url.href} ${xfp}`;
    const hop: Hop = { url: url.href, forwardedProto: xfp, status: null, location: null, error: null };
    if (seen.has(key)) {
      hops.push(hop);
      return { hops, outcome: 'loop' };
    }
    seen.add(key);
    hops.push(hop);
    if (port === null) {
      hop.error = 'no listener for this scheme';
      return { hops, outcome: 'error' };
    }
    try {
      const a = await fetchOnce({
        host: o.host,
        port,
        tls: viaTls,
        name: o.name,
        path: `${url.pathname}${url.search}`,
        headers: xfp ? { 'x-forwarded-proto': xfp } : {},
        ca: o.ca,
        timeoutMs: o.timeoutMs,
      });
      hop.status = a.status;
      const location = a.status >= 300 && a.status < 400 ? (a.headers.location ?? null) : null;
      if (!location) return { hops, outcome: 'answered' };
      hop.location = location;
      const next = new URL(location, url);
      if (next.hostname.toLowerCase() !== o.name.toLowerCase()) return { hops, outcome: 'left' };
      // The port in a Location is the public one; the probe always reaches this host's listeners.
      next.port = '';
      url = next;
    } catch (err) {
      const e = err as NodeJS.ErrnoException;
      hop.error = e.code ?? e.message;
      return { hops, outcome: 'error' };
    }
  }
  return { hops, outcome: 'too-many' };
}

export function describeChain(c: Chain): string {
  return c.hops
    .map((h) => `${h.url}${h.forwardedProto ? ' (X-Forwarded-Proto: https)' : ''} → ${h.error ?? (h.status === null ? 'asked again' : `${h.status}`)}`)
    .join(', ');
}
