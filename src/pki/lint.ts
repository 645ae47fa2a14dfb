/**
 * @module pki/lint
 * Lints one certificate and the shape of a chain. Pure: the clock is passed in.
 */
import type { Certificate } from './certificate.ts';
import { type ChainAnalysis, isCertgateLocalCaName, isSelfSignedServerCert } from './chain.ts';
import type { CsrInfo } from './csr.ts';
import type { Finding } from './findings.ts';

export const EXPIRY_WARNING_DAYS = 30;

export function label(cert: Certificate, index: number): string {
  const name = cert.info.subjectCommonName ?? cert.info.subject ?? '(no subject)';
  return `#${index} "${name || '(empty subject)'}"`;
}

function day(iso: string): string {
  return iso.slice(0, 10);
}

function ago(ms: number): string {
  const minutes = Math.round(Math.abs(ms) / 60_000);
  if (minutes < 120) return `${minutes} minute${minutes === 1 ? '' : 's'}`;
  const hours = Math.round(minutes / 60);
  if (hours < 48) return `${hours} hours`;
  return `${Math.round(hours / 24)} days`;
}

export interface LintOptions {
  now: Date;
  /** Whether the certificate is used as the server's own (leaf checks apply). */
  endEntity: boolean;
}

export function lintCertificate(cert: Certificate, index: number, options: LintOptions): Finding[] {
  const { info } = cert;
  const out: Finding[] = [];
  const now = options.now.getTime();
  const notBefore = Date.parse(info.notBefore);
  const notAfter = Date.parse(info.notAfter);
  const who = label(cert, index);
  if (now > notAfter) {
    const recent = now - notAfter < 2 * 86_400_000;
    out.push({
      code: 'CERT_EXPIRED',
      severity: 'error',
      certificate: index,
      message: `certificate ${who} expired on ${info.notAfter} (${ago(now - notAfter)} ago)`,
      fix: recent
        ? `renew it and reload the server; if it should still be valid, check this machine's clock (it reads ${options.now.toISOString()})`
        : info.kind === 'leaf' || info.kind === 'self-signed-leaf'
          ? 'renew the certificate (certgate issue NAME) and reload the server so it serves the new one'
          : 'the server still sends an expired CA certificate: replace it in the server chain file with the current one from the CA',
    });
  } else if (now < notBefore) {
    out.push({
      code: 'CERT_NOT_YET_VALID',
      severity: 'error',
      certificate: index,
      message: `certificate ${who} is not valid until ${info.notBefore} (${ago(notBefore - now)} from now)`,
      fix:
        notBefore - now < 86_400_000
          ? `a clock is off: this machine reads ${options.now.toISOString()}; sync it (NTP) or wait, and check the server's clock too`
          : 'the certificate was issued for a future date: reissue it with a correct notBefore, or check the clock of the machine that issued it',
    });
  } else if (notAfter - now < EXPIRY_WARNING_DAYS * 86_400_000) {
    out.push({
      code: 'CERT_EXPIRING_SOON',
      severity: 'warning',
      certificate: index,
      message: `certificate ${who} expires on ${day(info.notAfter)}, in ${info.daysLeft} day${info.daysLeft === 1 ? '' : 's'}`,
      fix: 'renew it now; with certgate serving it, renewal is automatic',
    });
  }
  const pk = info.publicKey;
  if ((pk.algorithm === 'RSA' || pk.algorithm === 'RSA-PSS' || pk.algorithm === 'DSA') && pk.bits !== null && pk.bits < 2048) {
    out.push({
      code: 'WEAK_KEY',
      severity: 'warning',
      certificate: index,
      message: `certificate ${who} has a ${pk.bits}-bit ${pk.algorithm} key; OpenSSL at security level 2 (Debian, RHEL, curl) refuses keys under 2048 bits`,
      fix: 'reissue it with an ECDSA P-256 or RSA 2048+ key',
    });
  }
  if (/sha1|md5|md2/i.test(info.signatureAlgorithm) && info.kind !== 'root') {
    out.push({
      code: 'WEAK_SIGNATURE',
      severity: 'warning',
      certificate: index,
      message: `certificate ${who} is signed with ${info.signatureAlgorithm}; browsers and OpenSSL 3 at security level 1+ reject SHA-1 and MD5 signatures`,
      fix: 'reissue it signed with SHA-256 (every CA does this by default now)',
    });
  }
  if (options.endEntity) {
    const sans = info.subjectAltNames;
    if (sans.dns.length + sans.ip.length === 0 && info.kind !== 'root' && info.kind !== 'intermediate') {
      out.push({
        code: 'NO_SAN',
        severity: 'warning',
        certificate: index,
        message: `certificate ${who} has no subjectAltName; browsers, Go and Python ignore the CN and will reject it`,
        fix: `reissue it with the names in subjectAltName (e.g. DNS:${info.subjectCommonName ?? 'your.host'})`,
      });
    }
    const eku = info.extendedKeyUsage;
    if (eku && !eku.includes('serverAuth') && !eku.includes('anyExtendedKeyUsage')) {
      out.push({
        code: 'NOT_FOR_SERVER_AUTH',
        severity: 'warning',
        certificate: index,
        message: `certificate ${who} is limited to ${eku.join(', ')}, not serverAuth: TLS clients refuse it for a server`,
        fix: 'reissue it with extendedKeyUsage serverAuth',
      });
    }
  }
  if (info.basicConstraints?.ca && info.keyUsage && !info.keyUsage.includes('keyCertSign')) {
    out.push({
      code: 'CA_WITHOUT_KEYCERTSIGN',
      severity: 'warning',
      certificate: index,
      message: `CA certificate ${who} has keyUsage ${info.keyUsage.join(', ') || '(none)'} without keyCertSign; it cannot sign certificates`,
      fix: 'reissue the CA certificate with keyUsage keyCertSign, cRLSign',
    });
  }
  return out;
}

export interface ChainLintOptions {
  /** `server`: the list is what a server sent; `file`: certificates read from files. */
  context: 'server' | 'file';
}

function shortName(c: Certificate): string {
  return `"${c.info.subjectCommonName ?? c.info.subject}"`;
}

/** Findings about the shape of a chain. Trust is decided elsewhere. */
export function lintChain(certs: readonly Certificate[], analysis: ChainAnalysis, options: ChainLintOptions): Finding[] {
  const out: Finding[] = [];
  const first = analysis.path[0] ?? 0;
  const leaf = certs[first];
  if (!leaf) return out;
  const sent = options.context === 'server' ? 'the server sent' : 'the file holds';
  const { missingIssuer } = analysis;
  if (analysis.path.length === 1 && isSelfSignedServerCert(leaf, { position: 0, others: certs })) {
    out.push({
      code: 'SELF_SIGNED_LEAF',
      severity: options.context === 'server' ? 'error' : 'info',
      certificate: first,
      message: `certificate #${first} "${leaf.info.subjectCommonName ?? leaf.info.subject}" is self-signed: it is its own issuer and no CA vouches for it`,
      fix: 'pin this exact certificate on the resource that connects to it (mode pinned); do not add it to ca-certs. Better: issue the server a certificate from a CA (certgate local-ca)',
    });
  }
  const lastIdx = analysis.path[analysis.path.length - 1] as number;
  // A chain that ends in a CA may well end where the client's store takes over; only the
  // TLS verdict can say it is short. A chain that ends in a leaf is short for everyone.
  // certgate's local CA sends the leaf alone on purpose: the client trusts the root or not.
  // A last certificate that is a non-CA issuer is ISSUER_NOT_CA below, not a missing intermediate.
  const lastIsBadIssuer = analysis.issuerNotCa.some(([, issuer]) => issuer === lastIdx);
  // A sent certificate with the missing issuer's name that did not link: wrong key or bad signature, not a gap.
  const namesake = missingIssuer ? certs.findIndex((c, i) => !analysis.path.includes(i) && c.info.subject === missingIssuer.name) : -1;
  if (missingIssuer && namesake >= 0) {
    const other = certs[namesake] as Certificate;
    const aki = missingIssuer.authorityKeyId;
    const ski = other.info.subjectKeyId;
    out.push(
      aki && ski && aki !== ski
        ? {
            code: 'AKI_SKI_MISMATCH',
            severity: 'error',
            certificate: namesake,
            message: `#${namesake} ${shortName(other)} has the right name but not the key that signed #${lastIdx}: #${lastIdx} names the issuer key ${aki}, #${namesake} has ${ski} (a re-keyed or renewed intermediate)`,
            fix: `serve the intermediate ${shortName(other)} whose subjectKeyIdentifier is ${aki}; replace #${namesake} in the chain file (or reissue the certificate from the new intermediate)`,
          }
        : {
            code: 'SIGNATURE_INVALID',
            severity: 'error',
            certificate: lastIdx,
            message: `the signature of #${lastIdx} ${shortName(certs[lastIdx] as Certificate)} does not verify with the key of #${namesake} ${shortName(other)}, its issuer by name: the certificate was altered, or #${namesake} is another CA with the same name`,
            fix: `download #${lastIdx} and its intermediate again from the CA; serve the intermediate that really issued it`,
          },
    );
  }
  if (
    missingIssuer &&
    options.context === 'server' &&
    !lastIsBadIssuer &&
    namesake < 0 &&
    certs[lastIdx]?.info.basicConstraints?.ca !== true &&
    !isCertgateLocalCaName(missingIssuer.name)
  ) {
    const where = missingIssuer.caIssuersUrls[0];
    const name = missingIssuer.commonName ?? missingIssuer.name;
    const onlyLeaf = analysis.path.length === 1;
    out.push({
      code: 'CHAIN_INCOMPLETE',
      severity: 'warning',
      certificate: lastIdx,
      message: onlyLeaf
        ? `${options.context === 'server' ? 'the server sent only its own certificate' : 'the file holds only the end-entity certificate'} (#${first}); its issuer "${name}" is missing`
        : `the chain stops at #${lastIdx}; its issuer "${name}" was not sent`,
      fix: `the server must send its intermediate: configure the full chain (certificate + intermediates) as the server certificate file${
        where ? `; the missing certificate is published at ${where}` : ''
      }`,
    });
  }
  if (analysis.wrongOrder) {
    out.push({
      code: 'CHAIN_WRONG_ORDER',
      severity: 'warning',
      certificate: null,
      message: `${sent} the chain out of order: found ${certs.map((c, i) => `#${i} ${shortName(c)}`).join(', ')}; the issuing order is ${analysis.path
        .map((i) => `#${i} ${shortName(certs[i] as Certificate)}`)
        .join(' → ')}`,
      fix: `put the certificates in this order in the chain file: ${analysis.path.map((i) => `#${i}`).join(', ')}${
        analysis.extra.length ? ` (and drop ${analysis.extra.map((i) => `#${i}`).join(', ')})` : ''
      }: the server certificate first, then each issuer; some clients (Java, older OpenSSL) fail otherwise`,
    });
  }
  for (const i of analysis.extra) {
    if (i === namesake) continue;
    const c = certs[i] as Certificate;
    out.push({
      code: 'CHAIN_EXTRA_CERT',
      severity: 'warning',
      certificate: i,
      message: `certificate #${i} "${c.info.subjectCommonName ?? c.info.subject}" is not part of the chain of #${first}`,
      fix: 'remove it from the chain file; it only makes clients and people guess',
    });
  }
  for (const [child, issuer] of analysis.issuerNotCa) {
    const c = certs[issuer] as Certificate;
    out.push({
      code: 'ISSUER_NOT_CA',
      severity: 'error',
      certificate: issuer,
      message: `certificate #${issuer} "${c.info.subjectCommonName ?? c.info.subject}" signed #${child} but is not a CA (basicConstraints CA:FALSE or absent); every client rejects this`,
      fix: 'issue the server certificate from a real CA certificate (CA:TRUE, keyCertSign), e.g. certgate local-ca or your internal CA',
    });
  }
  if (options.context === 'server' && analysis.path.length > 1) {
    const lastIdx = analysis.path[analysis.path.length - 1] as number;
    const last = certs[lastIdx] as Certificate;
    if (last.info.kind === 'root') {
      out.push({
        code: 'CHAIN_ROOT_SENT',
        severity: 'info',
        certificate: lastIdx,
        message: `the server also sends the root "${last.info.subjectCommonName ?? last.info.subject}"; clients ignore it (trust comes from their own store)`,
        fix: 'optional: drop the root from the chain file to save bytes in every handshake',
      });
    }
  }
  return out;
}

/** Findings about a certificate signing request: what a CA will refuse or silently change. */
export function lintCsr(info: CsrInfo, index: number): Finding[] {
  const out: Finding[] = [];
  const who = `request #${index} "${info.subjectCommonName ?? info.subject}"`;
  if (info.signatureValid === false) {
    out.push({
      code: 'CSR_SIGNATURE_INVALID',
      severity: 'error',
      certificate: null,
      message: `${who} is not signed by the key it carries: it was altered, or assembled from another key`,
      fix: 'generate the CSR again from the private key (openssl req -new -key KEY); every CA refuses this one',
    });
  }
  const sans = info.subjectAltNames;
  if (sans.dns.length + sans.ip.length + sans.email.length + sans.uri.length === 0) {
    out.push({
      code: 'NO_SAN',
      severity: 'warning',
      certificate: null,
      message: `${who} requests no subjectAltName; certificates without one are rejected by browsers, Go and Python`,
      fix: `generate it with the names: openssl req -new -key KEY -subj "/CN=${info.subjectCommonName ?? 'host'}" -addext "subjectAltName=DNS:${info.subjectCommonName ?? 'host'}"`,
    });
  }
  const { algorithm, bits } = info.publicKey;
  if ((algorithm === 'RSA' || algorithm === 'DSA') && bits !== null && bits < 2048) {
    out.push({
      code: 'WEAK_KEY',
      severity: 'error',
      certificate: null,
      message: `${who} carries a ${bits}-bit ${algorithm} key; CAs refuse keys under 2048 bits`,
      fix: 'make a new key (openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256) and a new CSR',
    });
  }
  if (/md5|sha1/i.test(info.signatureAlgorithm)) {
    out.push({
      code: 'WEAK_SIGNATURE',
      severity: 'warning',
      certificate: null,
      message: `${who} is signed with ${info.signatureAlgorithm}; some CAs refuse SHA-1/MD5 requests`,
      fix: 'generate it again with -sha256',
    });
  }
  if (info.basicConstraints?.ca) {
    out.push({
      code: 'CSR_REQUESTS_CA',
      severity: 'warning',
      certificate: null,
      message: `${who} asks for CA:TRUE; a public CA ignores or refuses that for a server certificate`,
      fix: 'drop basicConstraints CA:TRUE from the request (openssl req uses the v3_req section, not v3_ca)',
    });
  }
  return out;
}
