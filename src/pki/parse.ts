/**
 * @module pki/parse
 * Reads whatever an operator has: PEM (any blocks, any surrounding text), DER, PKCS#7,
 * PKCS#12 and private keys. The bytes decide the format, never the file name.
 */
import { CertgateError } from '../errors.ts';
import { type Certificate, decodeCertificate } from './certificate.ts';
import { type CertificateRequest, decodeCsr, looksLikeCsr } from './csr.ts';
import { children, readOne, readTlv, TAG } from './der.ts';
import type { Keystore } from './jks.ts';
import { looksLikeJks } from './jks-magic.ts';
import { type PrivateKey, readEncryptedDerKey, readPemKey, tryDerKey } from './keys.ts';
import { MAX_INPUT_BYTES } from './limits.ts';
import { hasPem, isBareBase64, parsePem } from './pem.ts';
import { looksLikeContentInfo, pkcs7Certificates } from './pkcs7.ts';
import { looksLikePkcs12, readPkcs12 } from './pkcs12.ts';

export { MAX_INPUT_BYTES };

export type InputFormat = 'pem' | 'der' | 'pkcs7' | 'pkcs12' | 'jks' | 'key' | 'csr';

/** The Java keystore reader (pki/jks), loaded on demand: `await loadKeystoreReader()` before parseInput reads a keystore. */
let jksReader: ((bytes: Uint8Array, password: string | undefined, source?: string) => Keystore) | null = null;

/** Loads pki/jks for parseInput; decode calls it when a file starts with the JKS/JCEKS magic. */
export async function loadKeystoreReader(): Promise<void> {
  jksReader ??= (await import('./jks.ts')).readJks;
}

export { looksLikeJks };

export interface ParseOptions {
  /** Password for PKCS#12 or passphrase for an encrypted key. */
  password?: string;
  /** Where the bytes came from, for messages. */
  source?: string;
  now?: Date;
}

export interface ParsedInput {
  source: string;
  format: InputFormat;
  certificates: Certificate[];
  keys: PrivateKey[];
  /** PKCS#10 certificate signing requests. */
  csrs: CertificateRequest[];
  /** Keystore entry aliases (JKS, PKCS#12 friendly names), in the order of `certificates`, when known. */
  aliases?: Array<string | null>;
  /** Blocks recognised but not decoded (CRLs, public keys), by label. */
  skipped: string[];
}

const KEY_LABELS = new Set(['PRIVATE KEY', 'RSA PRIVATE KEY', 'EC PRIVATE KEY', 'ENCRYPTED PRIVATE KEY', 'DSA PRIVATE KEY']);
const CSR_LABELS = new Set(['CERTIFICATE REQUEST', 'NEW CERTIFICATE REQUEST']);
const CERT_LABELS = new Set(['CERTIFICATE', 'X509 CERTIFICATE', 'TRUSTED CERTIFICATE']);

function looksLikeCertificate(der: Uint8Array): boolean {
  try {
    const [tbs, alg, sig] = children(readOne(der));
    return tbs?.tag === TAG.SEQUENCE && alg?.tag === TAG.SEQUENCE && sig?.tag === TAG.BIT_STRING;
  } catch {
    return false;
  }
}

function looksLikeEncryptedPkcs8(der: Uint8Array): boolean {
  try {
    const parts = children(readOne(der));
    return parts.length === 2 && parts[0]?.tag === TAG.SEQUENCE && parts[1]?.tag === TAG.OCTET_STRING;
  } catch {
    return false;
  }
}

function isText(bytes: Uint8Array): boolean {
  const n = Math.min(bytes.length, 4096);
  for (let i = 0; i < n; i++) {
    const b = bytes[i] as number;
    if (b === 0 || (b < 0x20 && b !== 0x09 && b !== 0x0a && b !== 0x0d)) return false;
  }
  return true;
}

/**
 * Parses one input.
 * @example parseInput(fs.readFileSync('chain.p7b')).certificates.map((c) => c.info.subject)
 */
export function parseInput(bytes: Uint8Array, options: ParseOptions = {}): ParsedInput {
  const source = options.source ?? 'input';
  if (bytes.length === 0) {
    throw new CertgateError('E_INPUT_EMPTY', `${source} is empty`, 'pass a file that holds a certificate, chain or key');
  }
  if (bytes.length > MAX_INPUT_BYTES) {
    throw new CertgateError(
      'E_INPUT_TOO_LARGE',
      `${source} is ${bytes.length} bytes; certgate reads at most ${MAX_INPUT_BYTES} bytes (10 MiB)`,
      'split the bundle, or check that this is the file you meant',
    );
  }
  const result: ParsedInput = { source, format: 'pem', certificates: [], keys: [], csrs: [], skipped: [] };
  const now = options.now ?? new Date();
  if (isText(bytes)) {
    const text = Buffer.from(bytes).toString('utf8');
    if (hasPem(text)) {
      for (const block of parsePem(text)) {
        const where = `${source} line ${block.line}`;
        if (CERT_LABELS.has(block.label)) {
          // TRUSTED CERTIFICATE carries OpenSSL trust settings after the certificate.
          const der = block.label === 'TRUSTED CERTIFICATE' ? firstElement(block.der) : block.der;
          result.certificates.push(withSource(() => decodeCertificate(der, now), where));
        } else if (block.label === 'PKCS7' || block.label === 'CMS') {
          for (const der of pkcs7Certificates(block.der)) result.certificates.push(withSource(() => decodeCertificate(der, now), where));
        } else if (CSR_LABELS.has(block.label)) {
          result.csrs.push(withSource(() => decodeCsr(block.der), where));
        } else if (KEY_LABELS.has(block.label)) {
          result.keys.push(withSource(() => readPemKey(block.label, block.text, block.headers, options.password, block.der), where));
        } else if (block.label !== 'EC PARAMETERS') {
          result.skipped.push(block.label);
        }
      }
      return result;
    }
    if (isBareBase64(text)) {
      const der = Buffer.from(text.replace(/\s+/g, ''), 'base64');
      return parseDer(der, result, options, now);
    }
    throw new CertgateError(
      'E_INPUT_FORMAT',
      `${source} is text without any -----BEGIN ... ----- block`,
      'pass a PEM file, or the DER/PKCS#7/PKCS#12 file itself; `openssl s_client -showcerts` output works too',
    );
  }
  return parseDer(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength), result, options, now);
}

function firstElement(der: Buffer): Buffer {
  const tlv = readTlv(der, 0);
  return der.subarray(tlv.start, tlv.end);
}

function withSource<T>(fn: () => T, where: string): T {
  try {
    return fn();
  } catch (err) {
    if (err instanceof CertgateError && !err.message.includes(where)) {
      throw new CertgateError(err.code, `${where}: ${err.message}`, err.fix, { cause: err.cause });
    }
    throw err;
  }
}

function parseDer(der: Buffer, result: ParsedInput, options: ParseOptions, now: Date): ParsedInput {
  const { source } = result;
  if (looksLikeJks(der)) {
    result.format = 'jks';
    if (!jksReader) {
      throw new CertgateError(
        'E_INPUT_FORMAT',
        `${source} is a Java keystore, which only certgate decode reads`,
        `decode it (certgate decode ${source} --password-file FILE), or export a certificate: keytool -exportcert -rfc -keystore ${source} -alias ALIAS`,
      );
    }
    const store = jksReader(der, options.password, source);
    result.aliases = [];
    for (const entry of store.certificates) {
      result.certificates.push(withSource(() => decodeCertificate(entry.der, now), `${source} entry "${entry.alias}"`));
      result.aliases.push(entry.alias);
    }
    result.keys.push(...store.keys);
    return result;
  }
  let top: ReturnType<typeof readOne>;
  try {
    top = readOne(der);
  } catch {
    if (der[0] === TAG.SEQUENCE) {
      throw new CertgateError(
        'E_DER_MALFORMED',
        `${source} is DER that is truncated or has trailing bytes`,
        'download or export the file again; it was cut short',
      );
    }
    throw new CertgateError(
      'E_INPUT_FORMAT',
      `${source} is binary data that is not PEM, DER, PKCS#7 or PKCS#12`,
      'pass a certificate, chain (.pem/.crt/.der/.p7b) or PKCS#12 (.p12/.pfx) file',
    );
  }
  if (top.tag !== TAG.SEQUENCE) {
    throw new CertgateError('E_INPUT_FORMAT', `${source} is binary data that is not PEM, DER, PKCS#7 or PKCS#12`, 'pass a certificate, chain or key file');
  }
  if (looksLikeCsr(der)) {
    result.format = 'csr';
    result.csrs.push(withSource(() => decodeCsr(der), source));
    return result;
  }
  if (looksLikeCertificate(der)) {
    result.format = 'der';
    result.certificates.push(withSource(() => decodeCertificate(der, now), source));
    return result;
  }
  if (looksLikeContentInfo(der)) {
    result.format = 'pkcs7';
    for (const c of pkcs7Certificates(der)) result.certificates.push(withSource(() => decodeCertificate(c, now), source));
    return result;
  }
  if (looksLikePkcs12(der)) {
    result.format = 'pkcs12';
    const p12 = readPkcs12(der, options.password);
    for (const c of p12.certificates) result.certificates.push(withSource(() => decodeCertificate(c, now), source));
    result.keys.push(...p12.keys);
    return result;
  }
  const key = tryDerKey(der);
  if (key) {
    result.format = 'key';
    result.keys.push(key);
    return result;
  }
  if (looksLikeEncryptedPkcs8(der)) {
    result.format = 'key';
    result.keys.push(readEncryptedDerKey(der, options.password));
    return result;
  }
  throw new CertgateError(
    'E_INPUT_FORMAT',
    `${source} is DER but not a certificate, PKCS#7, PKCS#12 or private key`,
    'if it is a CRL, certgate decode does not read those yet; otherwise export the certificate again',
  );
}

/** Parses and insists on at least one certificate (for --ca and similar options). */
export function parseCertificates(bytes: Uint8Array, options: ParseOptions = {}): Certificate[] {
  const parsed = parseInput(bytes, options);
  if (parsed.certificates.length === 0) {
    const what = parsed.keys.length ? 'a private key' : parsed.skipped.length ? parsed.skipped.join(', ') : 'nothing usable';
    throw new CertgateError(
      'E_NOT_CERTIFICATE',
      `${parsed.source} holds ${what}, not a certificate`,
      parsed.keys.length ? 'pass the certificate file here; keep the private key where only the server reads it' : 'pass a PEM/DER/PKCS#7 certificate file',
    );
  }
  return parsed.certificates;
}
