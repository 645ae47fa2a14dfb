/**
 * @module pki/pkcs7
 * Certificates out of a PKCS#7 / CMS SignedData bundle (.p7b, .p7c): the format Windows and
 * many CAs hand out for "the chain".
 */
import { CertgateError } from '../errors.ts';
import { children, encoded, readOid, readOne, TAG, type Tlv } from './der.ts';
import { CONTENT_TYPE } from './oids.ts';

/** True when the DER looks like a ContentInfo (OID first, then [0]). */
export function looksLikeContentInfo(der: Uint8Array): boolean {
  try {
    const top = readOne(der);
    if (top.tag !== TAG.SEQUENCE) return false;
    const [oid, content] = children(top);
    return oid?.tag === TAG.OID && content?.tag === 0xa0;
  } catch {
    return false;
  }
}

/** The DER of every certificate in a SignedData ContentInfo. */
export function pkcs7Certificates(der: Uint8Array): Uint8Array[] {
  try {
    const [oid, explicit] = children(readOne(der));
    const type = readOid(oid as Tlv);
    if (type !== CONTENT_TYPE.SIGNED_DATA) {
      throw new CertgateError(
        'E_PKCS7_MALFORMED',
        `the PKCS#7 content is of type ${type}, not SignedData: it holds no certificates`,
        'export the chain as "PKCS #7 certificates (.p7b)" or as PEM',
      );
    }
    const signedData = children(explicit as Tlv)[0] as Tlv;
    const out: Uint8Array[] = [];
    for (const field of children(signedData)) {
      if (field.tag !== 0xa0) continue; // certificates [0] IMPLICIT SET OF CertificateChoices
      for (const c of children(field)) if (c.tag === TAG.SEQUENCE) out.push(encoded(c));
    }
    return out;
  } catch (err) {
    if (err instanceof CertgateError && err.code === 'E_PKCS7_MALFORMED') throw err;
    throw new CertgateError('E_PKCS7_MALFORMED', 'the PKCS#7 bundle is damaged or truncated', 'export the chain again (.p7b or PEM)', {
      cause: err,
    });
  }
}
