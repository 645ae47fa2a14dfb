/**
 * @module pki/keys
 * Private keys in every container operators meet: PKCS#1, PKCS#8, SEC1, encrypted PKCS#8 and
 * legacy encrypted PEM. The key material stays inside a KeyObject; only public facts leave.
 */
import { createHash, createPrivateKey, createPublicKey, type KeyObject } from 'node:crypto';
import { CertgateError } from '../errors.ts';
import { CURVES } from './oids.ts';
import { checkIterations } from './pbe.ts';

export type KeyContainer = 'pkcs1' | 'pkcs8' | 'sec1' | 'pkcs8-encrypted' | 'pem-encrypted' | 'pkcs12';

/** Public facts about a private key. Never the key itself. */
export interface PrivateKeyInfo {
  algorithm: string;
  bits: number | null;
  curve: string | null;
  container: KeyContainer;
  /** base64 SHA-256 of the matching public key's SubjectPublicKeyInfo: compare with a certificate's. */
  spkiSha256: string;
}

export interface PrivateKey {
  readonly info: PrivateKeyInfo;
  readonly key: KeyObject;
}

const ALGORITHMS: Record<string, string> = {
  rsa: 'RSA',
  'rsa-pss': 'RSA-PSS',
  ec: 'ECDSA',
  ed25519: 'Ed25519',
  ed448: 'Ed448',
  dsa: 'DSA',
  x25519: 'X25519',
  x448: 'X448',
};

export function describeKey(key: KeyObject, container: KeyContainer): PrivateKey {
  const details = key.asymmetricKeyDetails ?? {};
  const curve = details.namedCurve ? (CURVES[details.namedCurve] ?? details.namedCurve) : null;
  const spki = createPublicKey(key).export({ type: 'spki', format: 'der' });
  const bits = details.modulusLength ?? (curve === 'P-256' ? 256 : curve === 'P-384' ? 384 : curve === 'P-521' ? 521 : null);
  const info: PrivateKeyInfo = {
    algorithm: ALGORITHMS[key.asymmetricKeyType ?? ''] ?? String(key.asymmetricKeyType),
    bits,
    curve,
    container,
    spkiSha256: createHash('sha256').update(spki).digest('base64'),
  };
  return { info, key };
}

function keyError(err: unknown, where: string): CertgateError {
  const code = (err as { code?: string }).code ?? '';
  const msg = (err as Error).message ?? '';
  if (code === 'ERR_MISSING_PASSPHRASE' || /passphrase required|interrupted or cancelled/i.test(msg)) {
    return new CertgateError(
      'E_KEY_ENCRYPTED',
      `${where} is an encrypted private key and no passphrase was given`,
      'pass the passphrase with --password-file FILE or the CERTGATE_PASSWORD environment variable',
      { cause: err },
    );
  }
  if (/bad decrypt|wrong password|unsupported|DECODER routines/i.test(msg) && where.includes('encrypted')) {
    return new CertgateError('E_KEY_PASSPHRASE', `${where}: the passphrase is wrong`, 'check the passphrase; it is case-sensitive', { cause: err });
  }
  return new CertgateError('E_KEY_MALFORMED', `${where} is not a readable private key`, 'export the key again (PEM, PKCS#8)', { cause: err });
}

/**
 * Reads one PEM private-key block. `der` is the block's content: for encrypted PKCS#8 its
 * PBKDF2 cost is checked before OpenSSL derives anything (legacy PEM encryption has no count).
 */
export function readPemKey(label: string, text: string, headers: Record<string, string>, passphrase?: string, der?: Uint8Array): PrivateKey {
  const encrypted = label === 'ENCRYPTED PRIVATE KEY' || /ENCRYPTED/.test(headers['Proc-Type'] ?? '');
  const container: KeyContainer =
    label === 'ENCRYPTED PRIVATE KEY'
      ? 'pkcs8-encrypted'
      : encrypted
        ? 'pem-encrypted'
        : label === 'RSA PRIVATE KEY'
          ? 'pkcs1'
          : label === 'EC PRIVATE KEY'
            ? 'sec1'
            : 'pkcs8';
  if (encrypted && passphrase === undefined) throw keyError({ code: 'ERR_MISSING_PASSPHRASE' }, `the ${label} block`);
  if (label === 'ENCRYPTED PRIVATE KEY' && der) checkIterations(der, 'the encrypted private key');
  try {
    return describeKey(createPrivateKey({ key: text, format: 'pem', passphrase }), container);
  } catch (err) {
    // The label may already say ENCRYPTED: "the encrypted ENCRYPTED PRIVATE KEY block" reads like a stutter.
    throw keyError(
      err,
      label === 'ENCRYPTED PRIVATE KEY' ? 'the encrypted PKCS#8 private key' : encrypted ? `the encrypted ${label} block` : `the ${label} block`,
    );
  }
}

/** Tries the DER key containers in turn; undefined when the bytes are no key. */
export function tryDerKey(der: Buffer): PrivateKey | undefined {
  const attempts: Array<['pkcs8' | 'pkcs1' | 'sec1', KeyContainer]> = [
    ['pkcs8', 'pkcs8'],
    ['pkcs1', 'pkcs1'],
    ['sec1', 'sec1'],
  ];
  for (const [type, container] of attempts) {
    try {
      return describeKey(createPrivateKey({ key: der, format: 'der', type }), container);
    } catch {
      // not this container
    }
  }
  return undefined;
}

/** Reads DER encrypted PKCS#8. */
export function readEncryptedDerKey(der: Buffer, passphrase?: string): PrivateKey {
  if (passphrase === undefined) throw keyError({ code: 'ERR_MISSING_PASSPHRASE' }, 'the input');
  checkIterations(der, 'the encrypted private key');
  try {
    return describeKey(createPrivateKey({ key: der, format: 'der', type: 'pkcs8', passphrase }), 'pkcs8-encrypted');
  } catch (err) {
    throw keyError(err, 'the encrypted PKCS#8 key');
  }
}
