/**
 * @module trust/validate
 * Decides, before anything is stored, which certificates may join ca-certs: CAs yes, a
 * server's own certificate never (it belongs pinned on its resource), keys never.
 */
import { rootCertificates } from 'node:tls';
import type { Certificate } from '../pki/certificate.ts';
import { isSelfSignedServerCert } from '../pki/chain.ts';

export interface Judgement {
  cert: Certificate;
  source: string;
  action: 'add' | 'skip' | 'refuse';
  /** Why, in the operator's words. */
  reason: string;
  code: 'OK' | 'E_TRUST_LEAF' | 'E_TRUST_EXPIRED' | 'DUPLICATE' | 'IN_SYSTEM_ROOTS' | 'DUPLICATE_INPUT';
  fix: string | null;
  warnings: string[];
}

let systemDer: Set<string> | null = null;
function systemRootSet(): Set<string> {
  systemDer ??= new Set(rootCertificates.map((pem) => pem.replace(/-----[^-]+-----|\s+/g, '')));
  return systemDer;
}

export function isSystemRoot(cert: Certificate): boolean {
  return systemRootSet().has(cert.der.toString('base64'));
}

function name(cert: Certificate): string {
  return cert.info.subjectCommonName ?? cert.info.subject;
}

export interface JudgeOptions {
  /** Certificates already in ca-certs. */
  existing: readonly Certificate[];
  /** Whether Node's bundled roots are trusted too. */
  systemRoots: boolean;
  now?: Date;
}

export function judge(candidates: ReadonlyArray<{ cert: Certificate; source: string }>, options: JudgeOptions): Judgement[] {
  const now = (options.now ?? new Date()).getTime();
  const existing = new Set(options.existing.map((c) => c.info.fingerprints.sha256));
  const seen = new Set<string>();
  const trustedSubjects = new Set([...options.existing, ...candidates.map((c) => c.cert)].filter((c) => c.info.kind === 'root').map((c) => c.info.subject));
  return candidates.map(({ cert, source }) => {
    const base = { cert, source, fix: null, warnings: [] as string[] };
    const fp = cert.info.fingerprints.sha256;
    const { kind } = cert.info;
    const sameSource = candidates.filter((c) => c.source === source).map((c) => c.cert);
    if (isSelfSignedServerCert(cert, { others: sameSource })) {
      const ca = cert.info.basicConstraints?.ca === true ? ' (it says CA:TRUE, as openssl req -x509 writes by default, but it names a host)' : '';
      return {
        ...base,
        action: 'refuse',
        code: 'E_TRUST_LEAF',
        reason: `"${name(cert)}" is a server's own self-signed certificate${ca}, not a CA: pin it, do not add it to ca-certs`,
        fix: 'pin it on the resource that connects to this server instead (certgate resources pin NAME --from HOST:PORT, or tls.mode: pinned with tls.pinnedCert)',
      };
    }
    if (kind === 'leaf') {
      return {
        ...base,
        action: 'refuse',
        code: 'E_TRUST_LEAF',
        reason: `"${name(cert)}" is a server's own certificate (issued by "${cert.info.issuerCommonName ?? cert.info.issuer}"), not a CA`,
        fix: `add its issuing CA "${cert.info.issuerCommonName ?? cert.info.issuer}" instead; certgate trust add --from HOST:PORT picks it from the live chain`,
      };
    }
    if (Date.parse(cert.info.notAfter) < now) {
      return {
        ...base,
        action: 'refuse',
        code: 'E_TRUST_EXPIRED',
        reason: `"${name(cert)}" expired on ${cert.info.notAfter.slice(0, 10)}: it can verify nothing`,
        fix: 'get the current CA certificate from whoever runs this CA',
      };
    }
    if (seen.has(fp)) return { ...base, action: 'skip', code: 'DUPLICATE_INPUT', reason: `"${name(cert)}" appears twice in the input` };
    seen.add(fp);
    if (existing.has(fp)) return { ...base, action: 'skip', code: 'DUPLICATE', reason: `"${name(cert)}" is already in ca-certs` };
    if (options.systemRoots && isSystemRoot(cert)) {
      return { ...base, action: 'skip', code: 'IN_SYSTEM_ROOTS', reason: `"${name(cert)}" is already trusted: it is one of Node's bundled roots` };
    }
    const warnings: string[] = [];
    if (Date.parse(cert.info.notBefore) > now) warnings.push(`it is not valid until ${cert.info.notBefore}`);
    if (cert.info.daysLeft < 30) warnings.push(`it expires in ${cert.info.daysLeft} day${cert.info.daysLeft === 1 ? '' : 's'}`);
    if (cert.info.keyUsage && !cert.info.keyUsage.includes('keyCertSign')) warnings.push('its keyUsage lacks keyCertSign, so it cannot sign certificates');
    if (kind === 'intermediate' && !trustedSubjects.has(cert.info.issuer)) {
      warnings.push(`Node and OpenSSL verify only up to a self-signed root: add its root "${cert.info.issuerCommonName ?? cert.info.issuer}" too`);
    }
    return { ...base, warnings, action: 'add', code: 'OK', reason: `"${name(cert)}" is ${kind === 'root' ? 'a root' : 'an intermediate'} CA` };
  });
}

export interface IssuerPick {
  /** The CA to add, or null when none can be taken from the chain. */
  cert: Certificate | null;
  index: number | null;
  why: string;
  /** When no root was sent: the top of the chain and what it names as its issuer (CN, and the whole name). */
  missing: { name: string; fullName: string; caIssuersUrls: string[] } | null;
  selfSignedLeaf: boolean;
}

/**
 * Picks the certificate to trust from a live chain: the root the server sent (never #0, the
 * server's own); when no root was sent, says which issuer is missing and where it is published.
 */
export function pickIssuingCa(chain: readonly Certificate[], path: readonly number[]): IssuerPick {
  const leaf = chain[0];
  if (!leaf) return { cert: null, index: null, why: 'the server sent no certificate', missing: null, selfSignedLeaf: false };
  if (isSelfSignedServerCert(leaf, { position: 0, others: chain })) {
    return {
      cert: null,
      index: 0,
      why: `the server's certificate "${name(leaf)}" is self-signed: there is no CA to trust`,
      missing: null,
      selfSignedLeaf: true,
    };
  }
  const topIdx = path[path.length - 1] ?? 0;
  const top = chain[topIdx] as Certificate;
  if (top.info.kind === 'root') {
    return {
      cert: top,
      index: topIdx,
      why: `#${topIdx} "${name(top)}" is the root CA at the top of the chain the server sent; #0 "${name(leaf)}" is the server's own certificate and is not added`,
      missing: null,
      selfSignedLeaf: false,
    };
  }
  return {
    cert: null,
    index: topIdx,
    why: `the server does not send its root: #${topIdx} "${name(top)}" was issued by "${top.info.issuerCommonName ?? top.info.issuer}", which it left out`,
    missing: { name: top.info.issuerCommonName ?? top.info.issuer, fullName: top.info.issuer, caIssuersUrls: top.info.authorityInfoAccess.caIssuers },
    selfSignedLeaf: false,
  };
}
