/**
 * @module edge/forwarded
 * Who the visitor is and how they came: from the connection, or, behind a load balancer, from
 * X-Forwarded-For / X-Forwarded-Proto, believed only when the direct peer is a trusted proxy.
 */
import type { IncomingMessage } from 'node:http';
import type { Http2ServerRequest } from 'node:http2';
import { BlockList, isIP } from 'node:net';
import { CertgateError } from '../errors.ts';
import type { ForwardInfo } from './proxy.ts';

export type Forwarded = ForwardInfo & {
  /** What a trusted hop said the visitor's scheme was (null: it said nothing, or it is not trusted). */
  statedProto: string | null;
};

const plain = (ip: string) => (ip.startsWith('::ffff:') ? ip.slice(7) : ip);
const PORT = /^\d{1,5}$/;

/**
 * The port in a Host header, else the scheme's default. A browser names every port but the
 * default, so this is the port the visitor connected to, also behind a port mapping (Docker's
 * 443 to 8443), where the port the edge listens on is not.
 */
function portOf(authority: string, proto: 'http' | 'https'): string {
  const colon = authority.lastIndexOf(':');
  if (colon > authority.lastIndexOf(']')) {
    const p = authority.slice(colon + 1);
    if (PORT.test(p)) return p;
  }
  return proto === 'https' ? '443' : '80';
}

export class TrustedProxies {
  readonly #list = new BlockList();
  readonly #any: boolean;
  readonly #warned = new Set<string>();
  readonly #onUntrusted: (ip: string) => void;

  /** Throws E_OPTION for an entry that is not an address or CIDR. */
  constructor(cidrs: string[] | null, onUntrusted: (ip: string) => void = () => {}) {
    this.#any = cidrs !== null;
    this.#onUntrusted = onUntrusted;
    for (const cidr of cidrs ?? []) {
      const [addr = '', bits] = cidr.split('/');
      const type = isIP(addr) === 6 ? 'ipv6' : 'ipv4';
      const max = type === 'ipv6' ? 128 : 32;
      if (!isIP(addr) || (bits !== undefined && !(/^\d+$/.test(bits) && Number(bits) <= max)))
        throw new CertgateError('E_OPTION', `trusted proxy "${cidr}" is not an address or CIDR`, 'e.g. 10.0.0.0/8 or 127.0.0.1');
      if (bits === undefined) this.#list.addAddress(addr, type);
      else this.#list.addSubnet(addr, Number(bits), type);
    }
  }

  trusts(ip: string | undefined): boolean {
    if (!ip) return false;
    const p = plain(ip);
    return this.#list.check(p, isIP(p) === 6 ? 'ipv6' : 'ipv4');
  }

  /** The visitor's address and scheme for a request that arrived over `tls` or not; `host` is the name it is routed by. */
  read(req: IncomingMessage | Http2ServerRequest, host: string, tls: boolean): Forwarded {
    const peerIp = plain(req.socket.remoteAddress ?? '');
    const authority = (req.headers[':authority'] as string | undefined) ?? req.headers.host ?? host;
    if (this.#any && this.trusts(peerIp)) {
      const xff = String(req.headers['x-forwarded-for'] ?? '')
        .split(',')
        .map((s) => s.trim())
        .filter(Boolean);
      // The visitor is the rightmost address that is not one of our proxies.
      let client = peerIp;
      for (let i = xff.length - 1; i >= 0; i--) {
        client = xff[i] as string;
        if (!this.trusts(client)) break;
      }
      const stated =
        String(req.headers['x-forwarded-proto'] ?? '')
          .split(',')[0]
          ?.trim()
          .toLowerCase() || null;
      const proto = stated === 'https' || stated === 'http' ? stated : tls ? 'https' : 'http';
      const statedPort = String(req.headers['x-forwarded-port'] ?? '')
        .split(',')[0]
        ?.trim();
      const port = statedPort && PORT.test(statedPort) ? statedPort : portOf(authority, proto);
      return {
        clientIp: client,
        peerIp,
        proto,
        host,
        authority,
        port,
        priorForwardedFor: xff.length ? xff.join(', ') : null,
        trusted: true,
        statedProto: stated,
      };
    }
    if (this.#any && !tls && req.headers['x-forwarded-proto'] !== undefined) this.#warnOnce(peerIp);
    const proto = tls ? 'https' : 'http';
    return { clientIp: peerIp, peerIp, proto, host, authority, port: portOf(authority, proto), priorForwardedFor: null, trusted: false, statedProto: null };
  }

  /** Once per address (at most 100): forwarded headers from a peer that is not a trusted proxy were ignored. */
  #warnOnce(ip: string): void {
    if (this.#warned.has(ip) || this.#warned.size > 100) return;
    this.#warned.add(ip);
    this.#onUntrusted(ip);
  }
}
