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

/** Analyses certificates in the order given; the first is taken as the end-entity. */
export function analyzeChain(certs: readonly Certificate[]): ChainAnalysis {
  const issuerOf: Array<number | null> = certs.map((cert, i) => findIssuer(certs, cert, i));
  const path: number[] = [];
  const seen = new Set<number>();
  let current: number | null = certs.length ? 0 : null;
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
