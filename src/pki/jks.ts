/**
 * @module pki/jks
 * Java keystores: JKS (magic 0xFEEDFEED) and JCEKS (0xCECECECE), as keytool writes them.
 * The store's integrity is a SHA-1 over the password (UTF-16BE), the words "Mighty Aphrodite"
 * and every byte before it; JKS private keys are hidden by Sun's SHA-1 keystream
 * (1.3.6.1.4.1.42.2.17.1.1), JCEKS keys by PBEWithMD5AndTripleDES (1.3.6.1.4.1.42.2.19.1).
 * Small enough to read here, with node:crypto, rather than pull in a converter that only
 * hands back PEM text per alias (see the README's note on jks-js).
 */
import { createDecipheriv, createHash, createPrivateKey, timingSafeEqual } from 'node:crypto';
import { CertgateError } from '../errors.ts';
import { children, readOid, readOne, TAG, type Tlv, value } from './der.ts';
import { JKS_MAGIC } from './jks-magic.ts';
import { describeKey, type PrivateKey } from './keys.ts';

const SUN_JKS_KEY_PROTECTOR = '1.3.6.1.4.1.42.2.17.1.1';
const SUN_JCE_KEY_PROTECTOR = '1.3.6.1.4.1.42.2.19.1';
/** A bound on entries and chain lengths, so a damaged count cannot make us loop for long. */
const MAX_ENTRIES = 10_000;

export interface KeystoreCertificate {
  alias: string;
  /** `trusted` for a trustedCertEntry; `key` for the chain of a PrivateKeyEntry (position 0 = its own). */
  entry: 'trusted' | 'key';
  position: number;
  der: Uint8Array;
}

export interface Keystore {
  type: 'JKS' | 'JCEKS';
  certificates: KeystoreCertificate[];
  keys: PrivateKey[];
  /** Aliases of the keys, in the order of `keys`. */
  keyAliases: string[];
}

function damaged(source: string, what: string): CertgateError {
  return new CertgateError(
    'E_JKS_MALFORMED',
    `${source} is a damaged Java keystore: ${what}`,
    'copy the keystore again, or export it with keytool -exportcert / -importkeystore',
  );
}

function passwordError(source: string, given: boolean, what = 'keystore'): CertgateError {
  return new CertgateError(
    'E_JKS_PASSWORD',
    given ? `the ${what} password of ${source} is wrong` : `${source} is a Java keystore whose private keys need its password`,
    'pass the keystore password with --password-file FILE or CERTGATE_PASSWORD (keytool -list -keystore FILE checks it)',
  );
}

class Cursor {
  pos = 0;
  private readonly b: Buffer;
  private readonly source: string;
  constructor(b: Buffer, source: string) {
    this.b = b;
    this.source = source;
  }
  need(n: number): void {
    if (n < 0 || this.pos + n > this.b.length) throw damaged(this.source, 'it ends in the middle of an entry');
  }
  u16(): number {
    this.need(2);
    const v = this.b.readUInt16BE(this.pos);
    this.pos += 2;
    return v;
  }
  u32(): number {
    this.need(4);
    const v = this.b.readUInt32BE(this.pos);
    this.pos += 4;
    return v;
  }
  bytes(n: number): Buffer {
    this.need(n);
    const v = this.b.subarray(this.pos, this.pos + n);
    this.pos += n;
    return v;
  }
  /** Java's DataOutput.writeUTF: a 2-byte length, then modified UTF-8 (the same as UTF-8 for aliases). */
  utf(): string {
    return this.bytes(this.u16()).toString('utf8');
  }
}

function utf16be(password: string): Buffer {
  const le = Buffer.from(password, 'utf16le');
  const out = Buffer.alloc(le.length);
  for (let i = 0; i + 1 < le.length; i += 2) {
    out[i] = le[i + 1] as number;
    out[i + 1] = le[i] as number;
  }
  return out;
}

/** Sun's JKS key protector: salt(20) || data XOR SHA-1 keystream || SHA-1(password || plaintext). */
function jksKey(encrypted: Uint8Array, password: string): Buffer | null {
  if (encrypted.length < 41) return null;
  const pw = utf16be(password);
  const salt = encrypted.subarray(0, 20);
  const data = encrypted.subarray(20, encrypted.length - 20);
  const check = encrypted.subarray(encrypted.length - 20);
  const out = Buffer.alloc(data.length);
  let digest: Buffer = Buffer.from(salt);
  for (let i = 0; i < data.length; i += 20) {
    digest = createHash('sha1').update(pw).update(digest).digest();
    for (let j = 0; j < 20 && i + j < data.length; j++) out[i + j] = (data[i + j] as number) ^ (digest[j] as number);
  }
  const ok = createHash('sha1').update(pw).update(out).digest();
  return timingSafeEqual(ok, Buffer.from(check)) ? out : null;
}

/** PBEWithMD5AndTripleDES as SunJCE does it: two MD5 chains over the salt halves give key and IV. */
function jceKey(params: Tlv | undefined, encrypted: Uint8Array, password: string): Buffer | null {
  if (!params) return null;
  const [saltTlv, iterTlv] = children(params);
  if (!saltTlv || !iterTlv) return null;
  const salt = Buffer.from(value(saltTlv));
  const iterations = value(iterTlv).reduce((a, b) => a * 256 + b, 0);
  if (salt.length !== 8 || iterations < 1 || iterations > 10_000_000) return null;
  const pw = Buffer.from(Array.from(password, (c) => c.charCodeAt(0) & 0xff));
  const halves = [salt.subarray(0, 4), salt.subarray(4)];
  if (halves[0]?.equals(halves[1] as Buffer)) halves[0] = Buffer.from((halves[0] as Buffer).reverse());
  const derived = Buffer.concat(
    halves.map((half) => {
      let d: Buffer = Buffer.from(half);
      for (let i = 0; i < iterations; i++) d = createHash('md5').update(d).update(pw).digest();
      return d;
    }),
  );
  try {
    const decipher = createDecipheriv('des-ede3-cbc', derived.subarray(0, 24), derived.subarray(24, 32));
    return Buffer.concat([decipher.update(encrypted), decipher.final()]);
  } catch {
    return null;
  }
}

function decryptKey(epki: Buffer, password: string, source: string, alias: string): PrivateKey {
  let alg: Tlv | undefined;
  let data: Tlv | undefined;
  try {
    [alg, data] = children(readOne(epki));
  } catch {
    throw damaged(source, `the key of "${alias}" is not an EncryptedPrivateKeyInfo`);
  }
  if (alg?.tag !== TAG.SEQUENCE || data?.tag !== TAG.OCTET_STRING) throw damaged(source, `the key of "${alias}" is not an EncryptedPrivateKeyInfo`);
  const [oidTlv, params] = children(alg);
  const oid = readOid(oidTlv as Tlv);
  let plain: Buffer | null;
  if (oid === SUN_JKS_KEY_PROTECTOR) plain = jksKey(value(data), password);
  else if (oid === SUN_JCE_KEY_PROTECTOR) plain = jceKey(params, value(data), password);
  else
    throw new CertgateError(
      'E_JKS_MALFORMED',
      `the key of "${alias}" in ${source} is protected by ${oid}, which certgate does not read`,
      `convert the keystore to PKCS#12: keytool -importkeystore -srckeystore ${source} -destkeystore out.p12 -deststoretype PKCS12`,
    );
  if (!plain) throw passwordError(source, true, `key "${alias}"`);
  try {
    return describeKey(createPrivateKey({ key: plain, format: 'der', type: 'pkcs8' }), 'pkcs8');
  } catch {
    // A JCEKS key decrypts to garbage (and fails padding or parsing) under a wrong key password.
    throw passwordError(source, true, `key "${alias}"`);
  }
}

/**
 * Reads a JKS or JCEKS keystore. Without a password the certificates are read (as `keytool
 * -list` does, unchecked); a store with private keys then fails with E_JKS_PASSWORD.
 * @example readJks(fs.readFileSync('server.jks'), 'changeit', 'server.jks').certificates
 */
export function readJks(bytes: Uint8Array, password: string | undefined, source = 'the keystore'): Keystore {
  const b = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const c = new Cursor(b, source);
  const type = c.u32() === JKS_MAGIC ? 'JKS' : 'JCEKS';
  const version = c.u32();
  const count = c.u32();
  if (count > MAX_ENTRIES) throw damaged(source, `it claims ${count} entries`);
  const store: Keystore = { type, certificates: [], keys: [], keyAliases: [] };
  const pendingKeys: Array<{ alias: string; epki: Buffer }> = [];
  const readCert = (): Buffer => {
    if (version === 2) {
      const certType = c.utf();
      if (certType !== 'X.509') throw damaged(source, `it holds a "${certType}" certificate`);
    }
    return Buffer.from(c.bytes(c.u32()));
  };
  for (let i = 0; i < count; i++) {
    const tag = c.u32();
    const alias = c.utf();
    c.bytes(8); // creation date, ms since 1970
    if (tag === 1) {
      pendingKeys.push({ alias, epki: Buffer.from(c.bytes(c.u32())) });
      const chain = c.u32();
      if (chain > 100) throw damaged(source, `"${alias}" claims a chain of ${chain} certificates`);
      for (let p = 0; p < chain; p++) store.certificates.push({ alias, entry: 'key', position: p, der: readCert() });
    } else if (tag === 2) {
      store.certificates.push({ alias, entry: 'trusted', position: 0, der: readCert() });
    } else if (tag === 3 && type === 'JCEKS') {
      // A serialized Java object (SealedObject): listed, never decoded.
      throw new CertgateError(
        'E_JKS_MALFORMED',
        `${source} holds a secret-key entry "${alias}" (a serialized Java object), which certgate does not read`,
        'export the certificates and keys you need with keytool -importkeystore -deststoretype PKCS12',
      );
    } else {
      throw damaged(source, `entry ${i + 1} has the unknown type ${tag}`);
    }
  }
  const signed = c.pos;
  const digest = c.bytes(20);
  if (c.pos !== b.length) throw damaged(source, `${b.length - c.pos} bytes follow the integrity check`);
  if (password === undefined) {
    if (pendingKeys.length) throw passwordError(source, false);
    return store;
  }
  const expect = createHash('sha1').update(utf16be(password)).update('Mighty Aphrodite', 'utf8').update(b.subarray(0, signed)).digest();
  if (!timingSafeEqual(expect, digest)) throw passwordError(source, true);
  for (const { alias, epki } of pendingKeys) {
    store.keys.push(decryptKey(epki, password, source, alias));
    store.keyAliases.push(alias);
  }
  return store;
}
