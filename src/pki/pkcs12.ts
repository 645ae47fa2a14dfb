/**
 * @module pki/pkcs12
 * PKCS#12 (.p12/.pfx) through node-forge, loaded only when such a file is read. Handles the
 * legacy (3DES/RC2) and the OpenSSL 3 default (PBES2 AES-256) encryptions.
 */
import { createPrivateKey, pbkdf2Sync } from 'node:crypto';
import { createRequire } from 'node:module';
import { CertgateError } from '../errors.ts';
import { children, readOne, readSmallInteger, TAG } from './der.ts';
import { describeKey, type PrivateKey } from './keys.ts';
import { checkIterations, iterationsError, MAX_PBE_ITERATIONS } from './pbe.ts';

/** True when the DER is a PFX: SEQUENCE { INTEGER 3, ContentInfo, ... }. */
export function looksLikePkcs12(der: Uint8Array): boolean {
  try {
    const [version, authSafe] = children(readOne(der));
    return version?.tag === TAG.INTEGER && readSmallInteger(version) === 3 && authSafe?.tag === TAG.SEQUENCE;
  } catch {
    return false;
  }
}

export interface Pkcs12Contents {
  certificates: Uint8Array[];
  keys: PrivateKey[];
}

type Forge = typeof import('node-forge');

const WHAT = 'the PKCS#12 file';

/** MacData ::= SEQUENCE { mac DigestInfo, macSalt OCTET STRING, iterations INTEGER DEFAULT 1 }. */
function macIterations(der: Uint8Array): number {
  try {
    const macData = children(readOne(der))[2];
    const iterations = macData ? children(macData)[2] : undefined;
    if (!iterations || iterations.tag !== TAG.INTEGER) return 1;
    return iterations.end - iterations.valueStart > 6 ? Number.POSITIVE_INFINITY : readSmallInteger(iterations);
  } catch {
    return 1;
  }
}

/**
 * Runs fn with forge's two key derivations refusing counts above the cap. The visible counts
 * are checked before; this catches bags inside encrypted content, seen only once decrypted.
 * Swapped for the duration of one synchronous call only, so nothing else sees the guard.
 */
function guarded<T>(forge: Forge, fn: () => T): T {
  const f = forge as unknown as { pkcs5: Record<string, unknown>; pkcs12: Record<string, unknown> };
  const pbkdf2 = f.pkcs5.pbkdf2 as (...a: unknown[]) => unknown;
  const generateKey = f.pkcs12.generateKey as (...a: unknown[]) => unknown;
  f.pkcs5.pbkdf2 = (...a: unknown[]) => {
    const [password, salt, iterations, keyLength, md] = a as [string, string, number, number, { algorithm?: string } | undefined];
    if (Number(iterations) > MAX_PBE_ITERATIONS) throw iterationsError(Number(iterations), WHAT);
    // forge derives in pure JS when given a digest object (PBES2 always does): 10x slower than OpenSSL.
    if (md && typeof md === 'object' && typeof md.algorithm === 'string') {
      return pbkdf2Sync(Buffer.from(password, 'binary'), Buffer.from(salt, 'binary'), iterations, keyLength, md.algorithm).toString('binary');
    }
    return pbkdf2(...a);
  };
  f.pkcs12.generateKey = (...a: unknown[]) => {
    if (Number(a[3]) > MAX_PBE_ITERATIONS) throw iterationsError(Number(a[3]), WHAT);
    return generateKey(...a);
  };
  try {
    return fn();
  } finally {
    f.pkcs5.pbkdf2 = pbkdf2;
    f.pkcs12.generateKey = generateKey;
  }
}

export function readPkcs12(der: Uint8Array, password: string | undefined): Pkcs12Contents {
  const mac = macIterations(der);
  if (mac > MAX_PBE_ITERATIONS) throw iterationsError(mac, WHAT);
  checkIterations(der, WHAT);
  const forge = createRequire(import.meta.url)('node-forge') as Forge;
  let asn1: ReturnType<Forge['asn1']['fromDer']>;
  try {
    asn1 = forge.asn1.fromDer(forge.util.createBuffer(Buffer.from(der).toString('binary')));
  } catch (err) {
    throw new CertgateError('E_PKCS12_MALFORMED', 'the PKCS#12 file is damaged or truncated', 'export it again (.p12/.pfx)', { cause: err });
  }
  let p12: ReturnType<Forge['pkcs12']['pkcs12FromAsn1']> | undefined;
  let lastErr: unknown;
  // Many tools write an empty password; try it (and its NUL-less twin) when none was given.
  const tries = password === undefined ? ['', undefined] : [password];
  for (const pw of tries) {
    try {
      p12 = guarded(forge, () => forge.pkcs12.pkcs12FromAsn1(asn1, false, pw as string));
      break;
    } catch (err) {
      if (err instanceof CertgateError) throw err;
      lastErr = err;
    }
  }
  if (!p12) {
    const msg = (lastErr as Error)?.message ?? '';
    if (/MAC could not be verified|Invalid password|bad decrypt/i.test(msg) || password === undefined) {
      throw new CertgateError(
        'E_PKCS12_PASSWORD',
        password === undefined ? 'the PKCS#12 file is protected by a password' : 'the PKCS#12 password is wrong',
        'pass the password with --password-file FILE or CERTGATE_PASSWORD',
        { cause: lastErr },
      );
    }
    throw new CertgateError('E_PKCS12_MALFORMED', `the PKCS#12 file could not be read: ${msg}`, 'export it again with AES-256 or 3DES encryption', {
      cause: lastErr,
    });
  }
  const certificates: Uint8Array[] = [];
  const keys: PrivateKey[] = [];
  for (const safe of p12.safeContents) {
    for (const bag of safe.safeBags) {
      if (bag.type === forge.pki.oids.certBag) {
        const node = bag.cert ? forge.pki.certificateToAsn1(bag.cert) : bag.asn1;
        if (node) certificates.push(Buffer.from(forge.asn1.toDer(node).getBytes(), 'binary'));
      } else if (bag.type === forge.pki.oids.pkcs8ShroudedKeyBag || bag.type === forge.pki.oids.keyBag) {
        const node = bag.key ? forge.pki.wrapRsaPrivateKey(forge.pki.privateKeyToAsn1(bag.key)) : bag.asn1;
        if (!node) continue;
        const keyDer = Buffer.from(forge.asn1.toDer(node).getBytes(), 'binary');
        keys.push(describeKey(createPrivateKey({ key: keyDer, format: 'der', type: 'pkcs8' }), 'pkcs12'));
      }
    }
  }
  return { certificates, keys };
}
