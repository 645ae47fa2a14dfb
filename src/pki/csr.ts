/**
 * @module pki/csr
 * PKCS#10 certificate signing requests: who asks, for which names and key, with which
 * extensions, and whether the request is signed by the key it carries (proof of possession).
 * Read with pki/der and verified with node:crypto: no ASN.1 library at start-up.
 */
import { createHash, createPublicKey, verify } from 'node:crypto';
import { CertgateError } from '../errors.ts';
import { type CertificateInfo, decodeExtensions, type ExtensionFields, emptyExtensions, type PublicKeyInfo, renderName } from './certificate.ts';
import { children, encoded, expectTag, readOid, readOne, readSmallInteger, TAG, type Tlv, value } from './der.ts';
import { CURVES, PUBLIC_KEY_ALGORITHMS, SIGNATURE_ALGORITHMS } from './oids.ts';

const EXTENSION_REQUEST = '1.2.840.113549.1.9.14';
const CHALLENGE_PASSWORD = '1.2.840.113549.1.9.7';

/** The digest node:crypto needs to check a signature by this algorithm; null when the key implies it (EdDSA). */
const DIGESTS: Record<string, string | null> = {
  '1.2.840.113549.1.1.4': 'md5',
  '1.2.840.113549.1.1.5': 'sha1',
  '1.2.840.113549.1.1.11': 'sha256',
  '1.2.840.113549.1.1.12': 'sha384',
  '1.2.840.113549.1.1.13': 'sha512',
  '1.2.840.113549.1.1.14': 'sha224',
  '1.2.840.10045.4.1': 'sha1',
  '1.2.840.10045.4.3.1': 'sha224',
  '1.2.840.10045.4.3.2': 'sha256',
  '1.2.840.10045.4.3.3': 'sha384',
  '1.2.840.10045.4.3.4': 'sha512',
  '1.3.101.112': null,
  '1.3.101.113': null,
};

export interface CsrInfo extends ExtensionFields {
  version: number;
  subject: string;
  subjectCommonName: string | null;
  publicKey: PublicKeyInfo;
  signatureAlgorithm: string;
  /** The request is signed by the key it carries; null when the algorithm is not checked here (RSA-PSS). */
  signatureValid: boolean | null;
  /** A challengePassword attribute is present (its value is never shown). */
  challengePassword: boolean;
  /** Attribute OIDs other than extensionRequest and challengePassword. */
  otherAttributes: string[];
  spkiSha256: string;
}

export interface CertificateRequest {
  readonly der: Buffer;
  readonly info: CsrInfo;
}

/** True when the DER is a CertificationRequest: its info holds INTEGER, Name, SPKI and [0] attributes. */
export function looksLikeCsr(der: Uint8Array): boolean {
  try {
    const [cri, alg, sig] = children(readOne(der));
    if (cri?.tag !== TAG.SEQUENCE || alg?.tag !== TAG.SEQUENCE || sig?.tag !== TAG.BIT_STRING) return false;
    const parts = children(cri);
    return parts.length === 4 && parts[0]?.tag === TAG.INTEGER && parts[1]?.tag === TAG.SEQUENCE && parts[2]?.tag === TAG.SEQUENCE && parts[3]?.tag === 0xa0;
  } catch {
    return false;
  }
}

function keyInfo(spki: Tlv): PublicKeyInfo {
  const algParts = children(expectTag(children(spki)[0], TAG.SEQUENCE, 'public key algorithm'));
  const oid = readOid(algParts[0] as Tlv);
  const algorithm = PUBLIC_KEY_ALGORITHMS[oid] ?? oid;
  let curve: string | null = algorithm === 'ECDSA' && algParts[1]?.tag === TAG.OID ? (CURVES[readOid(algParts[1])] ?? readOid(algParts[1])) : null;
  let bits: number | null = null;
  try {
    const details = createPublicKey({ key: Buffer.from(encoded(spki)), format: 'der', type: 'spki' }).asymmetricKeyDetails;
    if (details?.modulusLength) bits = details.modulusLength;
    if (details?.namedCurve && !curve) curve = CURVES[details.namedCurve] ?? details.namedCurve;
  } catch {
    // an exotic key OpenSSL cannot load; the algorithm from the DER still stands
  }
  if (curve === 'P-256') bits = 256;
  else if (curve === 'P-384') bits = 384;
  else if (curve === 'P-521') bits = 521;
  else if (algorithm === 'Ed25519') bits = 256;
  return { algorithm, bits, curve };
}

function checkSignature(cri: Tlv, spki: Tlv, sigOid: string, sig: Tlv): boolean | null {
  if (!(sigOid in DIGESTS)) return null;
  const bits = value(sig);
  try {
    const key = createPublicKey({ key: Buffer.from(encoded(spki)), format: 'der', type: 'spki' });
    return verify(DIGESTS[sigOid] ?? null, encoded(cri), key, bits.subarray(1));
  } catch {
    return false;
  }
}

/**
 * Decodes the DER of a PKCS#10 request.
 * @example decodeCsr(der).info.subjectAltNames.dns
 */
export function decodeCsr(der: Uint8Array): CertificateRequest {
  const buf = Buffer.from(der.buffer, der.byteOffset, der.byteLength);
  try {
    const [cri, sigAlg, sig] = children(expectTag(readOne(buf), TAG.SEQUENCE, 'certification request'));
    const [version, subjectTlv, spki, attributes] = children(expectTag(cri, TAG.SEQUENCE, 'certification request info'));
    const sigOid = readOid(children(expectTag(sigAlg, TAG.SEQUENCE, 'signature algorithm'))[0] as Tlv);
    const subject = renderName(expectTag(subjectTlv, TAG.SEQUENCE, 'subject'));
    const fields: ExtensionFields = emptyExtensions();
    let challengePassword = false;
    const otherAttributes: string[] = [];
    for (const attr of attributes ? children(attributes) : []) {
      const [type, values] = children(expectTag(attr, TAG.SEQUENCE, 'attribute'));
      const oid = readOid(type as Tlv);
      if (oid === EXTENSION_REQUEST) {
        for (const exts of children(expectTag(values, TAG.SET, 'extensionRequest'))) decodeExtensions(exts, fields);
      } else if (oid === CHALLENGE_PASSWORD) {
        challengePassword = true;
      } else {
        otherAttributes.push(oid);
      }
    }
    const spkiTlv = expectTag(spki, TAG.SEQUENCE, 'subject public key info');
    const info: CsrInfo = {
      version: readSmallInteger(version as Tlv) + 1,
      subject: subject.text,
      subjectCommonName: subject.cn,
      publicKey: keyInfo(spkiTlv),
      signatureAlgorithm: SIGNATURE_ALGORITHMS[sigOid] ?? sigOid,
      signatureValid: checkSignature(cri as Tlv, spkiTlv, sigOid, expectTag(sig, TAG.BIT_STRING, 'signature')),
      challengePassword,
      otherAttributes,
      spkiSha256: createHash('sha256').update(encoded(spkiTlv)).digest('base64'),
      ...fields,
    };
    return { der: buf, info };
  } catch (err) {
    if (err instanceof CertgateError && err.code !== 'E_DER_MALFORMED') throw err;
    throw new CertgateError(
      'E_CSR_MALFORMED',
      `the certificate signing request could not be decoded: ${(err as Error).message}`,
      'generate the CSR again (openssl req -new)',
      {
        cause: err,
      },
    );
  }
}

/** Facts a CSR shares with a certificate, for the lints that read both. */
export type CsrFacts = Pick<CertificateInfo, 'subjectAltNames' | 'publicKey' | 'signatureAlgorithm'>;
