/**
 * @module pki/path
 * Checks a certification path link by link, as OpenSSL's X509_verify_cert does, and says for
 * each defect which certificate it is and which extension: the cause Node does not name when it
 * reports UNSPECIFIED or a bare "unsuitable certificate purpose". Pure: no I/O, time given.
 */
import { type Certificate, isIssuerOf } from './certificate.ts';
import { children, encoded, readOne, type Tlv } from './der.ts';
import { OPENSSL_HANDLED_EXTENSIONS, WEAK_SIGNATURES } from './oids.ts';

export interface PathDefect {
  /** The OpenSSL verification code this defect produces (X509_V_ERR_ without the prefix). */
  openssl: string;
  /** Index of the certificate concerned in the list given. */
  certificate: number;
  /** The extension or field at fault, as `openssl x509 -text` names it (e.g. "extendedKeyUsage"). */
  field: string;
  /** What is wrong, in a clause ("allows 0 CAs below it, 1 follows"). */
  detail: string;
}

export interface PathCheckOptions {
  now: Date;
  /** The name the client checks, for name constraints. */
  host?: string;
  /** OpenSSL security level of the client (Node's default: 1; Debian's curl/Python: 2). */
  securityLevel?: number;
  /** The certificate at the end of the path is a trust anchor (its own validity and signature are not checked by OpenSSL's defaults, but its constraints are). */
  anchored?: boolean;
}

function name(c: Certificate): string {
  return c.info.subjectCommonName ?? c.info.subject;
}

/** RFC 5280 / OpenSSL DNS name constraint: ".corp.example" matches below it; "corp.example" matches it and below. */
export function dnsWithin(host: string, constraint: string): boolean {
  const h = host.toLowerCase().replace(/\.$/, '');
  const c = constraint.toLowerCase().replace(/\.$/, '');
  if (c === '') return true;
  if (c.startsWith('.')) return h.endsWith(c);
  return h === c || h.endsWith(`.${c}`);
}

function ipBytes(ip: string): number[] | null {
  if (/^\d+\.\d+\.\d+\.\d+$/.test(ip)) return ip.split('.').map(Number);
  if (!ip.includes(':')) return null;
  const [head = '', tail = ''] = ip.split('::');
  const h = head ? head.split(':') : [];
  const t = ip.includes('::') ? (tail ? tail.split(':') : []) : [];
  const groups = ip.includes('::') ? [...h, ...Array(8 - h.length - t.length).fill('0'), ...t] : h;
  if (groups.length !== 8) return null;
  return groups.flatMap((g) => {
    const n = Number.parseInt(g, 16);
    return [n >> 8, n & 0xff];
  });
}

export function ipWithin(ip: string, constraint: string): boolean {
  const [base = '', bitsText = ''] = constraint.split('/');
  const a = ipBytes(ip);
  const b = ipBytes(base);
  if (!a || !b || a.length !== b.length) return false;
  let bits = Number(bitsText);
  for (let i = 0; i < a.length && bits > 0; i++, bits -= 8) {
    const mask = bits >= 8 ? 0xff : (0xff << (8 - bits)) & 0xff;
    if (((a[i] as number) & mask) !== ((b[i] as number) & mask)) return false;
  }
  return true;
}

/** The names of a certificate that name constraints apply to (OpenSSL also checks a host-like CN when there is no DNS SAN). */
function constrainedNames(c: Certificate): { dns: string[]; ip: string[] } {
  const dns = [...c.info.subjectAltNames.dns];
  const cn = c.info.subjectCommonName;
  if (!dns.length && cn && /^[a-z0-9*_-]+(\.[a-z0-9_-]+)+$/i.test(cn)) dns.push(cn);
  return { dns, ip: [...c.info.subjectAltNames.ip] };
}

function nameConstraintDefects(certs: readonly Certificate[], path: readonly number[]): PathDefect[] {
  const out: PathDefect[] = [];
  for (let p = 1; p < path.length; p++) {
    const ca = certs[path[p] as number] as Certificate;
    const nc = ca.info.nameConstraints;
    if (!nc) continue;
    for (let q = 0; q < p; q++) {
      const idx = path[q] as number;
      const c = certs[idx] as Certificate;
      const names = constrainedNames(c);
      const check = (kind: 'DNS' | 'IP', value: string, within: (v: string, cons: string) => boolean) => {
        const permitted = nc.permitted.filter((x) => x.startsWith(`${kind}:`)).map((x) => x.slice(kind.length + 1));
        const excluded = nc.excluded.filter((x) => x.startsWith(`${kind}:`)).map((x) => x.slice(kind.length + 1));
        const hit = excluded.find((x) => within(value, x));
        if (hit !== undefined) {
          out.push({
            openssl: 'EXCLUDED_VIOLATION',
            certificate: idx,
            field: 'nameConstraints',
            detail: `${kind}:${value} of #${idx} "${name(c)}" is in the excluded subtree ${kind}:${hit} of #${path[p]} "${name(ca)}"`,
          });
        } else if (permitted.length && !permitted.some((x) => within(value, x))) {
          out.push({
            openssl: 'PERMITTED_VIOLATION',
            certificate: idx,
            field: 'nameConstraints',
            detail: `${kind}:${value} of #${idx} "${name(c)}" is outside the permitted subtrees (${permitted.map((x) => `${kind}:${x}`).join(', ')}) of #${path[p]} "${name(ca)}"`,
          });
        }
      };
      // A CA's own subject name is not constrained by the CA above, only end-entity and CA SANs are.
      for (const d of names.dns) check('DNS', d, dnsWithin);
      for (const ip of names.ip) check('IP', ip, ipWithin);
    }
  }
  return out;
}

function keyTooSmall(c: Certificate, level: number): boolean {
  const { algorithm, bits } = c.info.publicKey;
  if (bits === null) return false;
  const min = level >= 2 ? [2048, 224] : level === 1 ? [1024, 160] : [0, 0];
  if (algorithm === 'RSA' || algorithm === 'RSA-PSS' || algorithm === 'DSA') return bits < (min[0] as number);
  if (algorithm === 'ECDSA') return bits < (min[1] as number);
  return false;
}

/**
 * Defects along `path` (indices into `certs`, leaf first). Each names the certificate and the
 * extension at fault; the order follows OpenSSL's (validity and signatures, then constraints).
 */
export function checkPath(certs: readonly Certificate[], path: readonly number[], options: PathCheckOptions): PathDefect[] {
  const out: PathDefect[] = [];
  const level = options.securityLevel ?? 1;
  const now = options.now.getTime();
  const last = path.length - 1;
  path.forEach((idx, p) => {
    const c = certs[idx] as Certificate;
    const info = c.info;
    const anchor = p === last && info.selfSigned;
    if (!anchor) {
      if (Date.parse(info.notAfter) < now)
        out.push({ openssl: 'CERT_HAS_EXPIRED', certificate: idx, field: 'notAfter', detail: `#${idx} "${name(c)}" expired on ${info.notAfter}` });
      if (Date.parse(info.notBefore) > now)
        out.push({ openssl: 'CERT_NOT_YET_VALID', certificate: idx, field: 'notBefore', detail: `#${idx} "${name(c)}" is not valid before ${info.notBefore}` });
    }
    for (const ext of info.extensions) {
      if (ext.critical && !OPENSSL_HANDLED_EXTENSIONS.has(ext.oid)) {
        out.push({
          openssl: 'UNHANDLED_CRITICAL_EXTENSION',
          certificate: idx,
          field: ext.name,
          detail: `#${idx} "${name(c)}" carries the extension ${ext.name === ext.oid ? ext.oid : `${ext.name} (${ext.oid})`} marked critical, which OpenSSL does not know`,
        });
      }
    }
    if (p > 0) {
      const child = certs[path[p - 1] as number] as Certificate;
      const bc = info.basicConstraints;
      if (info.version >= 3 && !bc?.ca) {
        out.push({
          openssl: 'INVALID_CA',
          certificate: idx,
          field: 'basicConstraints',
          detail: `#${idx} "${name(c)}" issued #${path[p - 1]} "${name(child)}" but its basicConstraints ${bc ? 'say CA:FALSE' : 'are absent'}`,
        });
      } else if (info.keyUsage && !info.keyUsage.includes('keyCertSign')) {
        out.push({
          openssl: 'KEYUSAGE_NO_CERTSIGN',
          certificate: idx,
          field: 'keyUsage',
          detail: `#${idx} "${name(c)}" is a CA whose keyUsage (${info.keyUsage.join(', ') || 'empty'}) lacks keyCertSign`,
        });
      }
      // pathLength counts the CA certificates between this CA and the leaf (self-issued ones excepted).
      const below = path.slice(1, p).filter((i) => !(certs[i] as Certificate).info.selfSigned).length;
      if (bc?.ca && bc.pathLength !== null && below > bc.pathLength) {
        out.push({
          openssl: 'PATH_LENGTH_EXCEEDED',
          certificate: idx,
          field: 'basicConstraints',
          detail: `#${idx} "${name(c)}" has pathlen:${bc.pathLength} (at most ${bc.pathLength} CA${bc.pathLength === 1 ? '' : 's'} below it) but ${below} follow${below === 1 ? 's' : ''} before the leaf`,
        });
      }
      const eku = info.extendedKeyUsage;
      if (eku && !eku.includes('serverAuth') && !eku.includes('anyExtendedKeyUsage')) {
        out.push({
          openssl: 'INVALID_PURPOSE',
          certificate: idx,
          field: 'extendedKeyUsage',
          detail: `CA #${idx} "${name(c)}" restricts its extendedKeyUsage to ${eku.join(', ')}: nothing below it may serve TLS`,
        });
      }
      if (WEAK_SIGNATURES.has(child.info.signatureAlgorithmOid) && level >= 1) {
        out.push({
          openssl: 'CA_MD_TOO_WEAK',
          certificate: path[p - 1] as number,
          field: 'signatureAlgorithm',
          detail: `#${path[p - 1]} "${name(child)}" is signed with ${child.info.signatureAlgorithm}`,
        });
      }
      if (!isIssuerOf(c, child)) {
        const aki = child.info.authorityKeyId;
        const ski = info.subjectKeyId;
        out.push(
          aki && ski && aki !== ski
            ? {
                openssl: 'AKID_SKID_MISMATCH',
                certificate: idx,
                field: 'authorityKeyIdentifier',
                detail: `#${path[p - 1]} names the key ${aki} as its issuer's, but #${idx} "${name(c)}" has the key ${ski}`,
              }
            : {
                openssl: 'CERT_SIGNATURE_FAILURE',
                certificate: path[p - 1] as number,
                field: 'signature',
                detail: `the signature of #${path[p - 1]} does not verify with the key of #${idx}`,
              },
        );
      }
    }
    if (keyTooSmall(c, level)) {
      out.push({
        openssl: p === 0 ? 'EE_KEY_TOO_SMALL' : 'CA_KEY_TOO_SMALL',
        certificate: idx,
        field: 'subjectPublicKeyInfo',
        detail: `#${idx} "${name(c)}" has a ${info.publicKey.bits}-bit ${info.publicKey.algorithm} key (security level ${level} needs ${level >= 2 ? '2048' : '1024'}+)`,
      });
    }
  });
  const leafIdx = path[0];
  const leaf = leafIdx === undefined ? undefined : certs[leafIdx];
  if (leaf && leafIdx !== undefined) {
    const eku = leaf.info.extendedKeyUsage;
    if (eku && !eku.includes('serverAuth') && !eku.includes('anyExtendedKeyUsage')) {
      out.push({
        openssl: 'INVALID_PURPOSE',
        certificate: leafIdx,
        field: 'extendedKeyUsage',
        detail: `#${leafIdx} "${name(leaf)}" has extendedKeyUsage ${eku.join(', ')} without serverAuth`,
      });
    }
    const ku = leaf.info.keyUsage;
    if (ku && !ku.some((u) => u === 'digitalSignature' || u === 'keyEncipherment' || u === 'keyAgreement')) {
      out.push({
        openssl: 'INVALID_PURPOSE',
        certificate: leafIdx,
        field: 'keyUsage',
        detail: `#${leafIdx} "${name(leaf)}" has keyUsage ${ku.join(', ') || '(empty)'}: a TLS server key needs digitalSignature (ECDSA, RSA with TLS 1.3) or keyEncipherment (RSA key exchange)`,
      });
    }
    if (leaf.info.basicConstraints?.ca && path.length > 1) {
      // A CA certificate used as a server certificate is accepted by OpenSSL; not a defect.
    }
  }
  // The path stops short of a sent certificate that carries the issuer's name: its key or signature is the reason.
  const endIdx = path[path.length - 1];
  const end = endIdx === undefined ? undefined : certs[endIdx];
  if (end && !end.info.selfSigned) {
    const namesake = certs.findIndex((c, i) => !path.includes(i) && c.info.subject === end.info.issuer);
    const other = certs[namesake];
    if (other) {
      const aki = end.info.authorityKeyId;
      const ski = other.info.subjectKeyId;
      out.push(
        aki && ski && aki !== ski
          ? {
              openssl: 'AKID_SKID_MISMATCH',
              certificate: namesake,
              field: 'authorityKeyIdentifier',
              detail: `#${endIdx} names the issuer key ${aki}, but #${namesake} "${name(other)}" has the key ${ski}`,
            }
          : {
              openssl: 'CERT_SIGNATURE_FAILURE',
              certificate: endIdx as number,
              field: 'signature',
              detail: `the signature of #${endIdx} "${name(end)}" does not verify with the key of #${namesake} "${name(other)}", its issuer by name`,
            },
      );
    }
  }
  out.push(...nameConstraintDefects(certs, path));
  for (let p = 1; p < path.length; p++) {
    const ca = certs[path[p] as number] as Certificate;
    // A trust anchor's own policy constraints are not processed (RFC 5280 6.1.1; OpenSSL agrees).
    if (p === path.length - 1 && ca.info.selfSigned) continue;
    const required = ca.info.policyConstraints?.requireExplicitPolicy;
    if (required === null || required === undefined) continue;
    // requireExplicitPolicy n: from n certificates below this CA on, each must carry an acceptable policy.
    for (let q = p - 1 - required; q >= 0; q--) {
      const idx = path[q] as number;
      const c = certs[idx] as Certificate;
      if (!c.info.policies.length) {
        out.push({
          openssl: 'NO_EXPLICIT_POLICY',
          certificate: idx,
          field: 'certificatePolicies',
          detail: `#${path[p]} "${name(ca)}" has policyConstraints requireExplicitPolicy:${required}, and #${idx} "${name(c)}" carries no certificatePolicies`,
        });
        break;
      }
    }
  }
  return out;
}

/** The first defect that produces `openssl` (a code name), or the first defect at all when the code is UNSPECIFIED or null. */
export function defectFor(defects: readonly PathDefect[], openssl: string | null): PathDefect | undefined {
  if (!openssl || openssl === 'UNSPECIFIED') return defects[0];
  return defects.find((d) => d.openssl === openssl);
}

/** The DER subject Name of a certificate, read without decoding the rest (to index a trust store cheaply). */
export function subjectNameDer(der: Uint8Array): Uint8Array | null {
  try {
    const fields = children(children(readOne(der))[0] as Tlv);
    const i = fields[0]?.tag === 0xa0 ? 1 : 0;
    const subject = fields[i + 4];
    return subject ? encoded(subject) : null;
  } catch {
    return null;
  }
}

export interface BuiltPath {
  /** Sent certificates by index, then the trust-store certificate OpenSSL stops at, if any. */
  steps: Array<number | Certificate>;
  /** The trust-store certificate the path ends at (not sent by the server), or null. */
  anchor: Certificate | null;
}

/**
 * The path OpenSSL 3 builds from what was sent: at each step it looks in the trust store first
 * (X509_V_FLAG_TRUSTED_FIRST, on by default) and stops at a trusted issuer, and only then
 * takes the next certificate the server sent. With a cross-signed intermediate this is shorter
 * than the chain as sent. `trusted(issuerName)` returns the trust-store certificates with that subject.
 */
export function buildTrustedFirst(certs: readonly Certificate[], path: readonly number[], trusted: (issuerName: Uint8Array) => Certificate[]): BuiltPath {
  const steps: Array<number | Certificate> = [];
  for (const idx of path) {
    const c = certs[idx] as Certificate;
    // A sent certificate that is itself in the store is trusted as is.
    const same = trusted(c.subjectName).find((t) => t.info.fingerprints.sha256 === c.info.fingerprints.sha256);
    steps.push(idx);
    if (same && c.info.selfSigned) return { steps, anchor: null };
    if (c.info.selfSigned) return { steps, anchor: null };
    const anchor = trusted(c.issuerName).find((t) => isIssuerOf(t, c));
    if (anchor) {
      const sentAgain = certs.findIndex((x) => x.info.fingerprints.sha256 === anchor.info.fingerprints.sha256);
      if (sentAgain >= 0 && sentAgain === path[steps.length]) continue;
      steps.push(sentAgain >= 0 ? sentAgain : anchor);
      return { steps, anchor: sentAgain >= 0 ? null : anchor };
    }
  }
  return { steps, anchor: null };
}
