/**
 * @module pki/certificate
 * Decodes one X.509 certificate into the facts an operator needs. Signature checks and key
 * details come from Node's `crypto.X509Certificate` (OpenSSL); the extensions Node does not
 * expose are read from the DER with pki/der.
 */
import { createHash, X509Certificate } from 'node:crypto';
import { CertgateError } from '../errors.ts';
import {
  bytesEqual,
  children,
  encoded,
  expectTag,
  hex,
  readBoolean,
  readIntegerHex,
  readOid,
  readOne,
  readSmallInteger,
  readString,
  readTime,
  TAG,
  type Tlv,
  value,
} from './der.ts';
import {
  ACCESS_METHOD,
  CURVES,
  EXT,
  EXTENDED_KEY_USAGES,
  EXTENSION_NAMES,
  KEY_USAGE_BITS,
  NAME_ATTRIBUTES,
  PUBLIC_KEY_ALGORITHMS,
  SIGNATURE_ALGORITHMS,
} from './oids.ts';

export type CertificateKind = 'root' | 'intermediate' | 'leaf' | 'self-signed-leaf';

export interface PublicKeyInfo {
  /** `RSA`, `RSA-PSS`, `ECDSA`, `Ed25519`, `Ed448`, `DSA`, or the OID when unknown. */
  algorithm: string;
  /** Key size in bits (RSA, DSA, and the curve size for ECDSA). */
  bits: number | null;
  /** `P-256`, `P-384`, `P-521`, ... for ECDSA. */
  curve: string | null;
}

/** The decoded facts of one certificate; plain data, safe to print as JSON. */
export interface CertificateInfo {
  version: number;
  subject: string;
  subjectCommonName: string | null;
  issuer: string;
  issuerCommonName: string | null;
  serialNumber: string;
  notBefore: string;
  notAfter: string;
  /** Whole days from now until notAfter; negative once expired. */
  daysLeft: number;
  lifetimeDays: number;
  subjectAltNames: { dns: string[]; ip: string[]; email: string[]; uri: string[] };
  publicKey: PublicKeyInfo;
  signatureAlgorithm: string;
  signatureAlgorithmOid: string;
  basicConstraints: { ca: boolean; pathLength: number | null; critical: boolean } | null;
  keyUsage: string[] | null;
  extendedKeyUsage: string[] | null;
  subjectKeyId: string | null;
  authorityKeyId: string | null;
  authorityInfoAccess: { ocsp: string[]; caIssuers: string[] };
  crlDistributionPoints: string[];
  /** Every extension present, in order, with its criticality (a critical one a client does not know fails verification). */
  extensions: Array<{ oid: string; name: string; critical: boolean }>;
  /** nameConstraints of a CA: the subtrees below it, as `DNS:example.com`, `IP:10.0.0.0/8`, `email:...`, `DirName:...`. */
  nameConstraints: { permitted: string[]; excluded: string[]; critical: boolean } | null;
  /** certificatePolicies OIDs. */
  policies: string[];
  /** policyConstraints: requireExplicitPolicy / inhibitPolicyMapping skip counts. */
  policyConstraints: { requireExplicitPolicy: number | null; inhibitPolicyMapping: number | null } | null;
  /** Embedded signed certificate timestamps (Certificate Transparency). */
  sctCount: number;
  mustStaple: boolean;
  fingerprints: { sha256: string; sha1: string };
  /** base64 SHA-256 of the SubjectPublicKeyInfo: the `pin-sha256` / curl `--pinnedpubkey sha256//` value. */
  spkiSha256: string;
  selfSigned: boolean;
  kind: CertificateKind;
}

/** A certificate: its bytes, Node's view of it, and the decoded facts. */
export interface Certificate {
  readonly der: Buffer;
  readonly x509: X509Certificate;
  readonly info: CertificateInfo;
  /** DER of the subject and issuer names, for exact issuer matching. */
  readonly subjectName: Uint8Array;
  readonly issuerName: Uint8Array;
}

const DAY = 86_400_000;

export function renderName(name: Tlv): { text: string; cn: string | null } {
  expectTag(name, TAG.SEQUENCE, 'name');
  const rdns: string[] = [];
  let cn: string | null = null;
  for (const rdn of children(name)) {
    const parts: string[] = [];
    for (const atv of children(expectTag(rdn, TAG.SET, 'relative distinguished name'))) {
      const [type, val] = children(expectTag(atv, TAG.SEQUENCE, 'attribute'));
      const oid = readOid(type as Tlv);
      if (!val) throw new CertgateError('E_CERT_MALFORMED', 'a name attribute has no value', 'the certificate is damaged; export it again');
      const key = NAME_ATTRIBUTES[oid] ?? oid;
      const text = readString(val);
      if (key === 'CN') cn = text;
      parts.push(`${key}=${escapeRdnValue(text)}`);
    }
    rdns.push(parts.join('+'));
  }
  // RFC 4514 order (most specific first), as browsers show it: CN=..., O=..., C=...
  return { text: rdns.reverse().join(', '), cn };
}

function escapeRdnValue(v: string): string {
  let out = v.replace(/[\\,+"<>;=]/g, (c) => `\\${c}`);
  if (out.startsWith('#') || out.startsWith(' ')) out = `\\${out}`;
  if (out.endsWith(' ') && out.length > 1) out = `${out.slice(0, -1)}\\ `;
  // biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are exactly what must be escaped
  return out.replace(/[\x00-\x1f\x7f]/g, (c) => `\\${c.charCodeAt(0).toString(16).padStart(2, '0')}`);
}

function ipText(bytes: Uint8Array): string {
  if (bytes.length === 4) return Array.from(bytes).join('.');
  if (bytes.length === 16) {
    const groups: string[] = [];
    for (let i = 0; i < 16; i += 2) groups.push((((bytes[i] as number) << 8) | (bytes[i + 1] as number)).toString(16));
    // Compress the longest run of zero groups, as inet_ntop does.
    let best = -1;
    let bestLen = 0;
    for (let i = 0; i < 8; ) {
      if (groups[i] !== '0') {
        i++;
        continue;
      }
      let j = i;
      while (j < 8 && groups[j] === '0') j++;
      if (j - i > bestLen && j - i > 1) {
        best = i;
        bestLen = j - i;
      }
      i = j;
    }
    if (best < 0) return groups.join(':');
    return `${groups.slice(0, best).join(':')}::${groups.slice(best + bestLen).join(':')}`;
  }
  return hex(bytes, ':');
}

const latin1 = new TextDecoder('latin1');

export function readGeneralNames(seq: Tlv, into: CertificateInfo['subjectAltNames']): void {
  for (const gn of children(seq)) {
    const bytes = value(gn);
    switch (gn.tag) {
      case 0x81:
        into.email.push(latin1.decode(bytes));
        break;
      case 0x82:
        into.dns.push(latin1.decode(bytes));
        break;
      case 0x86:
        into.uri.push(latin1.decode(bytes));
        break;
      case 0x87:
        into.ip.push(ipText(bytes));
        break;
      default:
        break;
    }
  }
}

function colonHex(bytes: Uint8Array): string {
  return hex(bytes, ':');
}

/** The extension fields a certificate and a CSR's extensionRequest share. */
export type ExtensionFields = Pick<
  CertificateInfo,
  | 'subjectAltNames'
  | 'basicConstraints'
  | 'keyUsage'
  | 'extendedKeyUsage'
  | 'subjectKeyId'
  | 'authorityKeyId'
  | 'authorityInfoAccess'
  | 'crlDistributionPoints'
  | 'extensions'
  | 'nameConstraints'
  | 'policies'
  | 'policyConstraints'
  | 'sctCount'
  | 'mustStaple'
>;

function generalSubtrees(seq: Tlv): string[] {
  const out: string[] = [];
  for (const subtree of children(seq)) {
    const base = children(subtree)[0];
    if (!base) continue;
    const bytes = value(base);
    switch (base.tag) {
      case 0x81:
        out.push(`email:${latin1.decode(bytes)}`);
        break;
      case 0x82:
        out.push(`DNS:${latin1.decode(bytes)}`);
        break;
      case 0x86:
        out.push(`URI:${latin1.decode(bytes)}`);
        break;
      case 0x87: {
        const half = bytes.length / 2;
        const mask = bytes.subarray(half);
        let prefix = 0;
        for (const b of mask) prefix += (b.toString(2).match(/1/g) ?? []).length;
        out.push(`IP:${ipText(bytes.subarray(0, half))}/${prefix}`);
        break;
      }
      case 0xa4:
        out.push(`DirName:${renderName(children(base)[0] as Tlv).text}`);
        break;
      default:
        out.push(`other:[${base.tag & 0x1f}]`);
    }
  }
  return out;
}

/** The extension fields before any extension is read (a certificate's or a CSR's). */
export function emptyExtensions(): ExtensionFields {
  return {
    subjectAltNames: { dns: [], ip: [], email: [], uri: [] },
    basicConstraints: null,
    keyUsage: null,
    extendedKeyUsage: null,
    subjectKeyId: null,
    authorityKeyId: null,
    authorityInfoAccess: { ocsp: [], caIssuers: [] },
    crlDistributionPoints: [],
    extensions: [],
    nameConstraints: null,
    policies: [],
    policyConstraints: null,
    sctCount: 0,
    mustStaple: false,
  };
}

export function decodeExtensions(list: Tlv, info: ExtensionFields): void {
  for (const ext of children(list)) {
    const parts = children(expectTag(ext, TAG.SEQUENCE, 'extension'));
    const oid = readOid(parts[0] as Tlv);
    let critical = false;
    let octets = parts[1];
    if (octets && octets.tag === TAG.BOOLEAN) {
      critical = readBoolean(octets);
      octets = parts[2];
    }
    const inner = value(expectTag(octets, TAG.OCTET_STRING, `extension ${oid}`));
    info.extensions.push({ oid, name: EXTENSION_NAMES[oid] ?? oid, critical });
    switch (oid) {
      case EXT.NAME_CONSTRAINTS: {
        const nc = { permitted: [] as string[], excluded: [] as string[], critical };
        for (const part of children(readOne(inner))) {
          if (part.tag === 0xa0) nc.permitted.push(...generalSubtrees(part));
          else if (part.tag === 0xa1) nc.excluded.push(...generalSubtrees(part));
        }
        info.nameConstraints = nc;
        break;
      }
      case EXT.CERTIFICATE_POLICIES:
        info.policies = children(readOne(inner)).map((p) => readOid(children(p)[0] as Tlv));
        break;
      case EXT.POLICY_CONSTRAINTS: {
        const pc = { requireExplicitPolicy: null as number | null, inhibitPolicyMapping: null as number | null };
        for (const part of children(readOne(inner))) {
          const n = value(part).reduce((a, b) => a * 256 + b, 0);
          if (part.tag === 0x80) pc.requireExplicitPolicy = n;
          else if (part.tag === 0x81) pc.inhibitPolicyMapping = n;
        }
        info.policyConstraints = pc;
        break;
      }
      case EXT.SUBJECT_ALT_NAME:
        readGeneralNames(readOne(inner), info.subjectAltNames);
        break;
      case EXT.BASIC_CONSTRAINTS: {
        const items = children(readOne(inner));
        let ca = false;
        let pathLength: number | null = null;
        for (const item of items) {
          if (item.tag === TAG.BOOLEAN) ca = readBoolean(item);
          else if (item.tag === TAG.INTEGER) pathLength = readSmallInteger(item);
        }
        info.basicConstraints = { ca, pathLength, critical };
        break;
      }
      case EXT.KEY_USAGE: {
        const bits = value(expectTag(readOne(inner), TAG.BIT_STRING, 'key usage'));
        const names: string[] = [];
        for (let i = 0; i < KEY_USAGE_BITS.length; i++) {
          const byte = bits[1 + (i >> 3)];
          if (byte !== undefined && byte & (0x80 >> (i & 7))) names.push(KEY_USAGE_BITS[i] as string);
        }
        info.keyUsage = names;
        break;
      }
      case EXT.EXT_KEY_USAGE:
        info.extendedKeyUsage = children(readOne(inner)).map((o) => {
          const id = readOid(o);
          return EXTENDED_KEY_USAGES[id] ?? id;
        });
        break;
      case EXT.SUBJECT_KEY_ID:
        info.subjectKeyId = colonHex(value(expectTag(readOne(inner), TAG.OCTET_STRING, 'subject key identifier')));
        break;
      case EXT.AUTHORITY_KEY_ID:
        for (const item of children(readOne(inner))) {
          if (item.tag === 0x80) info.authorityKeyId = colonHex(value(item));
        }
        break;
      case EXT.AUTHORITY_INFO_ACCESS:
        for (const desc of children(readOne(inner))) {
          const [method, location] = children(desc);
          if (!method || !location || location.tag !== 0x86) continue;
          const url = latin1.decode(value(location));
          const m = readOid(method);
          if (m === ACCESS_METHOD.OCSP) info.authorityInfoAccess.ocsp.push(url);
          else if (m === ACCESS_METHOD.CA_ISSUERS) info.authorityInfoAccess.caIssuers.push(url);
        }
        break;
      case EXT.CRL_DISTRIBUTION_POINTS:
        for (const dp of children(readOne(inner))) {
          for (const field of children(dp)) {
            if (field.tag !== 0xa0) continue; // distributionPoint
            for (const name of children(field)) {
              if (name.tag !== 0xa0) continue; // fullName
              const uris = { dns: [], ip: [], email: [], uri: [] as string[] };
              readGeneralNames({ ...name, tag: 0x30 }, uris);
              info.crlDistributionPoints.push(...uris.uri);
            }
          }
        }
        break;
      case EXT.SCT_LIST: {
        const list = value(expectTag(readOne(inner), TAG.OCTET_STRING, 'SCT list'));
        let pos = 2;
        let count = 0;
        while (pos + 2 <= list.length) {
          const len = ((list[pos] as number) << 8) | (list[pos + 1] as number);
          pos += 2 + len;
          if (pos <= list.length) count++;
        }
        info.sctCount = count;
        break;
      }
      case EXT.TLS_FEATURE:
        info.mustStaple = children(readOne(inner)).some((f) => f.tag === TAG.INTEGER && readSmallInteger(f) === 5);
        break;
      default:
        break;
    }
  }
}

function readPublicKey(spki: Tlv, x509: X509Certificate): PublicKeyInfo {
  const [alg] = children(spki);
  const algParts = children(expectTag(alg, TAG.SEQUENCE, 'public key algorithm'));
  const oid = readOid(algParts[0] as Tlv);
  const algorithm = PUBLIC_KEY_ALGORITHMS[oid] ?? oid;
  let bits: number | null = null;
  let curve: string | null = null;
  if (algorithm === 'ECDSA' && algParts[1]?.tag === TAG.OID) {
    const curveOid = readOid(algParts[1]);
    curve = CURVES[curveOid] ?? curveOid;
  }
  try {
    const details = x509.publicKey.asymmetricKeyDetails;
    if (details?.modulusLength) bits = details.modulusLength;
    if (details?.namedCurve && !curve) curve = CURVES[details.namedCurve] ?? details.namedCurve;
  } catch {
    // OpenSSL may not load exotic keys; the algorithm from the DER is still right.
  }
  if (curve === 'P-256') bits = 256;
  else if (curve === 'P-384') bits = 384;
  else if (curve === 'P-521') bits = 521;
  else if (algorithm === 'Ed25519') bits = 256;
  else if (algorithm === 'Ed448') bits = 456;
  return { algorithm, bits, curve };
}

function classify(info: CertificateInfo): CertificateKind {
  const ca = info.basicConstraints?.ca === true;
  // A v1 self-signed certificate has no extensions; OpenSSL accepts it as a trust anchor.
  if (info.selfSigned && (ca || info.version === 1)) return 'root';
  if (ca) return 'intermediate';
  return info.selfSigned ? 'self-signed-leaf' : 'leaf';
}

/**
 * Decodes DER bytes of one certificate.
 * @example decodeCertificate(fs.readFileSync('leaf.der')).info.subjectAltNames.dns
 */
export function decodeCertificate(der: Uint8Array, now: Date = new Date()): Certificate {
  const buf = Buffer.from(der.buffer, der.byteOffset, der.byteLength);
  let x509: X509Certificate;
  try {
    x509 = new X509Certificate(buf);
  } catch (err) {
    throw new CertgateError(
      'E_CERT_MALFORMED',
      'the bytes are not a readable X.509 certificate',
      'export the certificate again; if this is a key or a CSR, pass it where a key or CSR is expected',
      { cause: err },
    );
  }
  try {
    return decodeParsed(buf, x509, now);
  } catch (err) {
    if (err instanceof CertgateError) throw err;
    throw new CertgateError('E_CERT_MALFORMED', `the certificate could not be decoded: ${(err as Error).message}`, 'export the certificate again', {
      cause: err,
    });
  }
}

function decodeParsed(buf: Buffer, x509: X509Certificate, now: Date): Certificate {
  const cert = readOne(buf);
  const [tbs, sigAlg] = children(expectTag(cert, TAG.SEQUENCE, 'certificate'));
  const fields = children(expectTag(tbs, TAG.SEQUENCE, 'tbsCertificate'));
  let i = 0;
  let version = 1;
  if (fields[0]?.tag === 0xa0) {
    version = readSmallInteger(children(fields[0])[0] as Tlv) + 1;
    i = 1;
  }
  const serialNumber = readIntegerHex(fields[i++] as Tlv);
  i++; // inner signature algorithm: the outer one is authoritative
  const issuerTlv = expectTag(fields[i++], TAG.SEQUENCE, 'issuer');
  const validity = children(expectTag(fields[i++], TAG.SEQUENCE, 'validity'));
  const subjectTlv = expectTag(fields[i++], TAG.SEQUENCE, 'subject');
  const spki = expectTag(fields[i++], TAG.SEQUENCE, 'subject public key info');
  const sigOid = readOid(children(expectTag(sigAlg, TAG.SEQUENCE, 'signature algorithm'))[0] as Tlv);
  const notBefore = readTime(validity[0] as Tlv);
  const notAfter = readTime(validity[1] as Tlv);
  const subject = renderName(subjectTlv);
  const issuer = renderName(issuerTlv);
  const subjectName = encoded(subjectTlv);
  const issuerName = encoded(issuerTlv);

  const info: CertificateInfo = {
    version,
    subject: subject.text,
    subjectCommonName: subject.cn,
    issuer: issuer.text,
    issuerCommonName: issuer.cn,
    serialNumber,
    notBefore: notBefore.toISOString(),
    notAfter: notAfter.toISOString(),
    daysLeft: Math.floor((notAfter.getTime() - now.getTime()) / DAY),
    lifetimeDays: Math.round((notAfter.getTime() - notBefore.getTime()) / DAY),
    publicKey: readPublicKey(spki, x509),
    signatureAlgorithm: SIGNATURE_ALGORITHMS[sigOid] ?? sigOid,
    signatureAlgorithmOid: sigOid,
    ...emptyExtensions(),
    fingerprints: {
      sha256: colonHex(createHash('sha256').update(buf).digest()),
      sha1: colonHex(createHash('sha1').update(buf).digest()),
    },
    spkiSha256: createHash('sha256').update(encoded(spki)).digest('base64'),
    selfSigned: false,
    kind: 'leaf',
  };
  for (let j = i; j < fields.length; j++) {
    const f = fields[j] as Tlv;
    if (f.tag === 0xa3) decodeExtensions(children(f)[0] as Tlv, info);
  }
  info.selfSigned = bytesEqual(subjectName, issuerName) && signatureVerifies(x509, x509);
  info.kind = classify(info);
  return { der: buf, x509, info, subjectName, issuerName };
}

function signatureVerifies(child: X509Certificate, issuer: X509Certificate): boolean {
  try {
    return child.verify(issuer.publicKey);
  } catch {
    return false;
  }
}

/**
 * True when `issuer` signed `child`: the names match, the key identifiers (when both are
 * present) match, and the signature verifies.
 */
export function isIssuerOf(issuer: Certificate, child: Certificate): boolean {
  if (!bytesEqual(issuer.subjectName, child.issuerName)) {
    // Names can differ in encoding only (PrintableString vs UTF8String); compare the text.
    if (issuer.info.subject.toLowerCase() !== child.info.issuer.toLowerCase()) return false;
  }
  const ski = issuer.info.subjectKeyId;
  const aki = child.info.authorityKeyId;
  if (ski && aki && ski !== aki) return false;
  return signatureVerifies(child.x509, issuer.x509);
}

/** PEM text of a certificate. */
export function toPem(cert: Certificate): string {
  const b64 = cert.der.toString('base64').replace(/.{64}/g, '$&\n').replace(/\n$/, '');
  return `-----BEGIN CERTIFICATE-----\n${b64}\n-----END CERTIFICATE-----\n`;
}

/** RFC 4514 text of a DER Name (e.g. a CA name from a TLS CertificateRequest). */
export function nameText(der: Uint8Array): string {
  return renderName(readOne(der)).text;
}
