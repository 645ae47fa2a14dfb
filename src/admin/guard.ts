/**
 * @module admin/guard
 * What Caddy's admin endpoint checks, done here too: the Host header must name this listener (a
 * DNS-rebinding page in a browser sends its own host), a browser's Origin must be this
 * listener's, a state-changing request must not come from another site, and failed logins are
 * slowed per client. No CORS headers are ever sent: no other origin may read an answer.
 */
import { hostname, networkInterfaces } from 'node:os';
import { isLoopback } from './listen.ts';

export interface Listener {
  /** null for a Unix socket: no browser page can reach one, so Host carries no meaning. */
  host: string | null;
  port: number | null;
  tls: boolean;
}

/**
 * Host header values that name this listener. A wildcard bind (0.0.0.0, ::) answers to every
 * address of this machine, its host name and `names` (the TLS certificate's names).
 */
export function allowedHosts(l: Listener, names: readonly string[] = []): Set<string> | null {
  if (l.host === null || l.port === null) return null;
  const out = new Set<string>();
  const bare = l.host.replace(/^\[|\]$/g, '').toLowerCase();
  const add = (h: string) => out.add(`${h.includes(':') ? `[${h}]` : h}:${l.port}`);
  if (bare === '0.0.0.0' || bare === '::') {
    for (const list of Object.values(networkInterfaces())) for (const a of list ?? []) add(a.address.toLowerCase());
    add(hostname().toLowerCase());
  } else add(bare);
  for (const n of names) add(n.toLowerCase());
  if (isLoopback(bare) || bare === '0.0.0.0' || bare === '::') for (const h of ['localhost', '127.0.0.1', '::1']) add(h);
  // A default port may be left out of Host.
  if ((l.tls && l.port === 443) || (!l.tls && l.port === 80)) for (const h of [...out]) out.add(h.replace(/:\d+$/, ''));
  return out;
}

export type Verdict = { ok: true } | { ok: false; status: 403 | 421; code: string; message: string; fix: string };

/** Checks a request's Host, Origin and (for state-changing methods) Sec-Fetch-Site. */
export function checkRequest(method: string, headers: Headers, hosts: Set<string> | null, extraHosts: readonly string[] = []): Verdict {
  const host = (headers.get('host') ?? '').toLowerCase();
  if (hosts && !hosts.has(host) && !extraHosts.includes(host))
    return {
      ok: false,
      status: 421,
      code: 'E_ADMIN_HOST',
      message: `the Host header "${host.slice(0, 80)}" does not name the admin listener`,
      fix: `use the admin address itself (${[...hosts][0]}); a page from another site cannot reach it (DNS rebinding)`,
    };
  const origin = headers.get('origin');
  if (origin !== null && origin !== 'null') {
    let originHost = '';
    try {
      originHost = new URL(origin).host.toLowerCase();
    } catch {
      // an unparsable origin matches nothing
    }
    if (originHost !== host)
      return {
        ok: false,
        status: 403,
        code: 'E_ADMIN_CROSS_SITE',
        message: `a request from ${origin.slice(0, 80)} is refused: the admin API answers its own pages only`,
        fix: 'open the dashboard at the admin address itself, or call the API without a browser',
      };
  }
  const unsafe = !['GET', 'HEAD', 'OPTIONS'].includes(method);
  const site = headers.get('sec-fetch-site');
  // An opaque origin ("null": a sandboxed frame, or a form under a no-referrer policy) passes
  // only when the browser itself says the request is same-origin.
  const crossSite = site !== null ? site !== 'same-origin' && site !== 'none' : origin === 'null';
  if (unsafe && crossSite)
    return {
      ok: false,
      status: 403,
      code: 'E_ADMIN_CROSS_SITE',
      message: `a ${method} from another site (${site ?? 'opaque origin'}) is refused`,
      fix: 'change things from the dashboard at the admin address itself, or with a token from a script',
    };
  return { ok: true };
}

/** Failed authentications per client: after `max` in `windowMs`, refused until the window moves. */
export class FailureLimiter {
  readonly #max: number;
  readonly #windowMs: number;
  readonly #seen = new Map<string, number[]>();

  constructor(max = 10, windowMs = 60_000) {
    this.#max = max;
    this.#windowMs = windowMs;
  }

  #recent(client: string, now: number): number[] {
    const list = (this.#seen.get(client) ?? []).filter((t) => t > now - this.#windowMs);
    if (list.length) this.#seen.set(client, list);
    else this.#seen.delete(client);
    return list;
  }

  /** Seconds to wait before trying again, or 0. */
  blockedFor(client: string, now = Date.now()): number {
    const list = this.#recent(client, now);
    if (list.length < this.#max) return 0;
    return Math.max(1, Math.ceil(((list[0] as number) + this.#windowMs - now) / 1000));
  }

  fail(client: string, now = Date.now()): void {
    const list = this.#recent(client, now);
    list.push(now);
    this.#seen.set(client, list);
    // A flood of distinct addresses must not grow this without bound.
    if (this.#seen.size > 10_000) this.#seen.delete(this.#seen.keys().next().value as string);
  }
}
