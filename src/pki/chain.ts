/**
 * @module pki/chain
 * Orders a bag of certificates into a chain by names, key identifiers and real signature
 * checks, and says what is missing, extra or out of order.
 */
import { type Certificate, isIssuerOf } from './certificate.ts';

export interface MissingIssuer {
  /** The issuer name the last certificate names. */
  name: string;
  commonName: string | null;
  authorityKeyId: string | null;
  /** Where the CA publishes it (AIA CA Issuers). */
  caIssuersUrls: string[];
}

/**
 * A certificate name (RFC 4514 text) of certgate's own local CA (src/localca: "CN=certgate local
 * CA <date> <id>, O=certgate development CA"). Its leaves go out alone and carry no AIA URL, so
 * a client can only trust it from `certgate local-ca export`.
 */
export function isCertgateLocalCaName(name: string): boolean {
  return /(?:^|, )CN=certgate local CA\b/.test(name) || /(?:^|, )O=certgate development CA(?:,|$)/.test(name);
}

export interface ChainAnalysis {
  /** Indices into the input, from the first certificate up to the last issuer found. */
  path: number[];
  /** The path ends in a self-signed certificate. */
  endsInSelfSigned: boolean;
  missingIssuer: MissingIssuer | null;
  /** The path does not follow the order given (the server sent the chain shuffled). */
  wrongOrder: boolean;
  /** Indices of certificates that are not on the path. */
  extra: number[];
  /** Links where the issuer is not a CA: [child index, issuer index]. */
  issuerNotCa: Array<[number, number]>;
  /** links[i] is the index of the certificate that issued certificate i, when present. */
  issuerOf: Array<number | null>;
}

const HOST_NAME = /^(?:localhost|(?:[a-z0-9_](?:[a-z0-9_-]*[a-z0-9])?\.)+[a-z0-9](?:[a-z0-9-]*[a-z0-9])?\.?)$/i;
const IP = /^(?:\d{1,3}(?:\.\d{1,3}){3}|[0-9a-f:]*:[0-9a-f:.]+)$/i;

export interface SelfSignedContext {
  /** Where it stands in a chain a server sent; only #0 is the server's own. */
  position?: number;
  /** The certificates it came with (a chain, a file): one it issued makes it a CA. */
  others?: readonly Certificate[];
}

/**
 * The one rule for a self-signed certificate: the server's own (pin it on the resource) or a
 * root (trust it in ca-certs). `openssl req -x509` sets CA:TRUE by default, so the CA bit alone
 * cannot tell. A self-signed certificate is a server's own when it
 * - has CA:FALSE (or no basicConstraints in a v3 certificate), or else
 * - names a host (a DNS or IP subjectAltName; without SANs, a CN that is a host name or an IP),
 *   may serve TLS (no extendedKeyUsage or one with serverAuth; no keyUsage or one with
 *   digitalSignature or keyEncipherment), issued none of the certificates it came with, and,
 *   from a live server, is #0, the certificate the server presents.
 * Anything else self-signed is a root. trust add, trust add --from, the ca-certs loader,
 * inspect and decode all ask this function.
 */
export function isSelfSignedServerCert(cert: Certificate, context: SelfSignedContext = {}): boolean {
  const { info } = cert;
  if (!info.selfSigned) return false;
  if (info.kind === 'self-signed-leaf') return true;
  if (context.position !== undefined && context.position > 0) return false;
  const sans = info.subjectAltNames;
  const cn = info.subjectCommonName ?? '';
  const namesHost = sans.dns.length + sans.ip.length > 0 || HOST_NAME.test(cn) || IP.test(cn);
  if (!namesHost) return false;
  const eku = info.extendedKeyUsage;
  if (eku && !eku.includes('serverAuth') && !eku.includes('anyExtendedKeyUsage')) return false;
  const ku = info.keyUsage;
  if (ku && !ku.includes('digitalSignature') && !ku.includes('keyEncipherment')) return false;
  const fp = info.fingerprints.sha256;
  return !(context.others ?? []).some((other) => other.info.fingerprints.sha256 !== fp && !other.info.selfSigned && isIssuerOf(cert, other));
}

/** The kind to show: a self-signed server certificate with CA:TRUE is a self-signed leaf, not a root. */
export function kindOf(cert: Certificate, context: SelfSignedContext = {}): Certificate['info']['kind'] {
  return cert.info.kind === 'root' && isSelfSignedServerCert(cert, context) ? 'self-signed-leaf' : cert.info.kind;
}

/**
 * Where a chain read from files starts: the first end-entity (not a CA, by the rule above) that
 * issued none of the others. Null for a bag of CA certificates (a root bundle is not a chain).
 */
export function endEntityIndex(certs: readonly Certificate[]): number | null {
  const issuers = new Set(certs.map((cert, i) => findIssuer(certs, cert, i)).filter((x): x is number => x !== null));
  const i = certs.findIndex((c, idx) => !issuers.has(idx) && (c.info.basicConstraints?.ca !== true || isSelfSignedServerCert(c, { others: certs })));
  return i < 0 ? null : i;
}

/**
 * Analyses certificates in the order given. The end-entity is the first (what a server sends)
 * unless `start` says where it is (a file may hold the chain in any order).
 */
export function analyzeChain(certs: readonly Certificate[], options: { start?: number } = {}): ChainAnalysis {
  const issuerOf: Array<number | null> = certs.map((cert, i) => findIssuer(certs, cert, i));
  const path: number[] = [];
  const seen = new Set<number>();
  let current: number | null = certs.length ? (options.start ?? 0) : null;
  while (current !== null && !seen.has(current)) {
    path.push(current);
    seen.add(current);
    const cert = certs[current] as Certificate;
    if (cert.info.selfSigned) break;
    current = issuerOf[current] ?? null;
  }
  const last = path.length ? (certs[path[path.length - 1] as number] as Certificate) : undefined;
  const endsInSelfSigned = last?.info.selfSigned ?? false;
  const missingIssuer: MissingIssuer | null =
    last && !endsInSelfSigned
      ? {
          name: last.info.issuer,
          commonName: last.info.issuerCommonName,
          authorityKeyId: last.info.authorityKeyId,
          caIssuersUrls: last.info.authorityInfoAccess.caIssuers,
        }
      : null;
  const wrongOrder = path.some((idx, pos) => idx !== pos);
  const extra = certs.map((_, i) => i).filter((i) => !seen.has(i));
  const issuerNotCa: Array<[number, number]> = [];
  for (let p = 0; p + 1 < path.length; p++) {
    const issuerIdx = path[p + 1] as number;
    const issuer = certs[issuerIdx] as Certificate;
    if (issuer.info.basicConstraints?.ca !== true && issuer.info.version !== 1) issuerNotCa.push([path[p] as number, issuerIdx]);
  }
  return { path, endsInSelfSigned, missingIssuer, wrongOrder, extra, issuerNotCa, issuerOf };
}

function findIssuer(certs: readonly Certificate[], cert: Certificate, self: number): number | null {
  if (cert.info.selfSigned) return null;
  let fallback: number | null = null;
  for (let j = 0; j < certs.length; j++) {
    if (j === self) continue;
    const candidate = certs[j] as Certificate;
    if (!isIssuerOf(candidate, cert)) continue;
    // Prefer a real CA when a cross-signed pair or a leaf-signed-by-leaf offers two.
    if (candidate.info.basicConstraints?.ca) return j;
    fallback ??= j;
  }
  return fallback;
}

/**
 * Splits a bag (several files, any order) into chains: each starts at a certificate that
 * issued nothing else in the bag. Returns chains as lists of indices, leaf first.
 */
export function orderChains(certs: readonly Certificate[]): number[][] {
  const issuerOf = certs.map((cert, i) => findIssuer(certs, cert, i));
  const isIssuer = new Set(issuerOf.filter((x): x is number => x !== null));
  const chains: number[][] = [];
  const placed = new Set<number>();
  for (let i = 0; i < certs.length; i++) {
    if (isIssuer.has(i)) continue;
    const chain: number[] = [];
    let cur: number | null = i;
    while (cur !== null && !chain.includes(cur)) {
      chain.push(cur);
      placed.add(cur);
      cur = issuerOf[cur] ?? null;
    }
    chains.push(chain);
  }
  // Cycles (two certificates cross-signing each other) leave members unplaced.
  for (let i = 0; i < certs.length; i++) if (!placed.has(i)) chains.push([i]);
  return chains;
}
