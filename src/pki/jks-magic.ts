/**
 * @module pki/jks-magic
 * Recognises a Java keystore from its first bytes. Kept apart from pki/jks so that reading a PEM
 * file does not load the keystore reader (decode's cold start is measured, bench/decode).
 */

export const JKS_MAGIC = 0xfeedfeed;
export const JCEKS_MAGIC = 0xcececece;

/** True when the bytes start with the JKS or JCEKS magic and a known version. */
export function looksLikeJks(bytes: Uint8Array): boolean {
  if (bytes.length < 12) return false;
  const b = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const magic = b.readUInt32BE(0);
  const version = b.readUInt32BE(4);
  return (magic === JKS_MAGIC || magic === JCEKS_MAGIC) && (version === 1 || version === 2);
}
