/**
 * @module edge/request-target
 * The request target as the edge passes it on (RFC 9112 §3.2): origin-form (`/path?query`) as is;
 * absolute-form (`http://host/path`, which a server must accept) turned into origin-form when its
 * authority is the Host the request is routed by; `*` for OPTIONS only. Anything else is refused.
 */

export type Target = { kind: 'origin'; path: string } | { kind: 'asterisk' } | { kind: 'refused'; reason: string };

const ABSOLUTE = /^https?:\/\//i;

/** An authority compared case-insensitively and without the scheme's default port. */
function sameAuthority(a: string, b: string, scheme: string): boolean {
  const norm = (s: string) => {
    const l = s.toLowerCase();
    const dflt = scheme === 'https' ? ':443' : ':80';
    return l.endsWith(dflt) ? l.slice(0, -dflt.length) : l;
  };
  return norm(a) === norm(b);
}

/**
 * The target to pass on. `url` is not origin-form (the caller checks its first character: the
 * common case costs nothing); `host` is the Host header the request is routed by.
 */
export function readTarget(url: string, method: string | undefined, host: string): Target {
  if (url === '*') return method === 'OPTIONS' ? { kind: 'asterisk' } : { kind: 'refused', reason: 'the target "*" is for OPTIONS only' };
  if (!ABSOLUTE.test(url)) return { kind: 'refused', reason: 'the request target is not a path' };
  const scheme = url.slice(0, url.indexOf(':')).toLowerCase();
  const from = scheme.length + 3;
  let end = from;
  while (end < url.length && url[end] !== '/' && url[end] !== '?' && url[end] !== '#') end++;
  const authority = url.slice(from, end);
  if (!authority || authority.includes('@')) return { kind: 'refused', reason: 'the request target has no usable authority' };
  // RFC 9112 §3.2.2 lets the target's authority override Host; the edge routed by Host, so the
  // two must agree, or the app would be asked about a site other than the one that was routed.
  if (!sameAuthority(authority, host, scheme)) return { kind: 'refused', reason: 'the request target names another host than the Host header' };
  const rest = url.slice(end);
  return { kind: 'origin', path: rest === '' ? '/' : rest.startsWith('/') ? rest : `/${rest}` };
}
