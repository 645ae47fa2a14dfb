/**
 * @module pki/generate
 * Issues certificates with @peculiar/x509 over WebCrypto: the local CA and the tests' PKIs
 * (built at test time, never committed). Loaded lazily; the decode path never imports it.
 */
import 'reflect-metadata';
import { webcrypto } from 'node:crypto';
import * as x509 from '@peculiar/x509';
import { toPemText } from './pem.ts';

x509.cryptoProvider.set(webcrypto as unknown as Crypto);
const subtle = webcrypto.subtle as unknown as SubtleCrypto;

export type KeySpec = 'ec-p256' | 'ec-p384' | 'rsa-1024' | 'rsa-2048' | 'rsa-3072' | 'rsa-4096' | 'ed25519';
export type HashSpec = 'SHA-1' | 'SHA-256' | 'SHA-384' | 'SHA-512';
export type KeyUsageName = keyof typeof x509.KeyUsageFlags;

export interface CertificateSpec {
  /** RFC 4514 order, most specific first: `CN=app.test, O=Example`. */
  subject: string;
  /** The signer; omitted for a self-signed certificate. */
  issuer?: IssuedCertificate;
  /** Default `ec-p256`. */
  key?: KeySpec;
  /** Reuse an existing key pair (e.g. a renewed certificate with the same key). */
  keyPair?: CryptoKeyPair;
  /** A CA certificate (basicConstraints CA:TRUE), optionally with a path length. */
  ca?: boolean | { pathLength: number };
  /** Omit basicConstraints entirely (legacy and broken certificates). */
  omitBasicConstraints?: boolean;
  dns?: string[];
  ip?: string[];
  email?: string[];
  notBefore?: Date;
  notAfter?: Date;
  keyUsage?: KeyUsageName[];
  extendedKeyUsage?: Array<'serverAuth' | 'clientAuth' | 'codeSigning' | 'emailProtection'>;
  /** Signature hash; default SHA-256. */
  hash?: HashSpec;
  caIssuersUrl?: string;
  ocspUrl?: string;
  crlUrl?: string;
  serialNumber?: string;
}

export interface IssuedCertificate {
  certPem: string;
  keyPem: string;
  der: Buffer;
  keys: CryptoKeyPair;
  key: KeySpec;
  subject: string;
}

const EKU: Record<string, string> = {
  serverAuth: x509.ExtendedKeyUsage.serverAuth,
  clientAuth: x509.ExtendedKeyUsage.clientAuth,
  codeSigning: x509.ExtendedKeyUsage.codeSigning,
  emailProtection: x509.ExtendedKeyUsage.emailProtection,
};

function keyAlgorithm(key: KeySpec, hash: HashSpec): RsaHashedKeyGenParams | EcKeyGenParams | Algorithm {
  if (key.startsWith('rsa-')) {
    return { name: 'RSASSA-PKCS1-v1_5', modulusLength: Number(key.slice(4)), publicExponent: new Uint8Array([1, 0, 1]), hash };
  }
  if (key === 'ed25519') return { name: 'Ed25519' };
  return { name: 'ECDSA', namedCurve: key === 'ec-p384' ? 'P-384' : 'P-256' };
}

export async function generateKeyPair(key: KeySpec = 'ec-p256', hash: HashSpec = 'SHA-256'): Promise<CryptoKeyPair> {
  return (await subtle.generateKey(keyAlgorithm(key, hash) as EcKeyGenParams, true, ['sign', 'verify'])) as CryptoKeyPair;
}

/** The signer's private key, re-imported with the hash this signature needs (WebCrypto binds RSA keys to one hash). */
async function signingKey(issuerKeys: CryptoKeyPair, key: KeySpec, hash: HashSpec): Promise<{ key: CryptoKey; algorithm: Algorithm }> {
  if (key.startsWith('rsa-')) {
    const pkcs8 = await subtle.exportKey('pkcs8', issuerKeys.privateKey);
    const alg = { name: 'RSASSA-PKCS1-v1_5', hash };
    return { key: await subtle.importKey('pkcs8', pkcs8, alg, false, ['sign']), algorithm: alg };
  }
  if (key === 'ed25519') return { key: issuerKeys.privateKey, algorithm: { name: 'Ed25519' } };
  return { key: issuerKeys.privateKey, algorithm: { name: 'ECDSA', hash } as Algorithm };
}

/** Turns RFC 4514 order into the encoding order @peculiar/x509 expects. */
function encodeName(rfc4514: string): string {
  return rfc4514
    .split(/,\s*(?=[A-Za-z][A-Za-z0-9.]*=)/)
    .reverse()
    .join(', ');
}

/**
 * Issues one certificate.
 * @example
 * const root = await createCertificate({ subject: 'CN=Test Root', ca: true });
 * const leaf = await createCertificate({ subject: 'CN=app.test', issuer: root, dns: ['app.test'] });
 */
export async function createCertificate(spec: CertificateSpec): Promise<IssuedCertificate> {
  const key = spec.key ?? 'ec-p256';
  const hash = spec.hash ?? 'SHA-256';
  const keys = spec.keyPair ?? (await generateKeyPair(key, hash));
  const isCa = spec.ca !== undefined && spec.ca !== false;
  const now = Date.now();
  const notBefore = spec.notBefore ?? new Date(now - 3_600_000);
  const notAfter = spec.notAfter ?? new Date(now + 90 * 86_400_000);
  const extensions: x509.Extension[] = [];
  if (!spec.omitBasicConstraints) {
    const pathLength = typeof spec.ca === 'object' ? spec.ca.pathLength : undefined;
    extensions.push(new x509.BasicConstraintsExtension(isCa, pathLength, true));
  }
  const usages =
    spec.keyUsage ??
    (isCa ? ['keyCertSign', 'cRLSign', 'digitalSignature'] : key.startsWith('rsa-') ? ['digitalSignature', 'keyEncipherment'] : ['digitalSignature']);
  if (usages.length) {
    const flags = usages.reduce((acc, u) => acc | x509.KeyUsageFlags[u], 0);
    extensions.push(new x509.KeyUsagesExtension(flags, true));
  }
  const eku = spec.extendedKeyUsage ?? (isCa ? [] : ['serverAuth', 'clientAuth']);
  if (eku.length) extensions.push(new x509.ExtendedKeyUsageExtension(eku.map((u) => EKU[u] as string)));
  const names: Array<{ type: 'dns' | 'ip' | 'email'; value: string }> = [
    ...(spec.dns ?? []).map((value) => ({ type: 'dns' as const, value })),
    ...(spec.ip ?? []).map((value) => ({ type: 'ip' as const, value })),
    ...(spec.email ?? []).map((value) => ({ type: 'email' as const, value })),
  ];
  if (names.length) extensions.push(new x509.SubjectAlternativeNameExtension(names));
  extensions.push(await x509.SubjectKeyIdentifierExtension.create(keys.publicKey));
  if (spec.issuer) extensions.push(await x509.AuthorityKeyIdentifierExtension.create(spec.issuer.keys.publicKey));
  if (spec.caIssuersUrl || spec.ocspUrl) {
    extensions.push(
      new x509.AuthorityInfoAccessExtension({
        ...(spec.caIssuersUrl ? { caIssuers: spec.caIssuersUrl } : {}),
        ...(spec.ocspUrl ? { ocsp: spec.ocspUrl } : {}),
      }),
    );
  }
  if (spec.crlUrl) extensions.push(new x509.CRLDistributionPointsExtension([spec.crlUrl]));
  const signer = spec.issuer ? await signingKey(spec.issuer.keys, spec.issuer.key, hash) : await signingKey(keys, key, hash);
  const serialNumber =
    spec.serialNumber ??
    Buffer.from(webcrypto.getRandomValues(new Uint8Array(16)))
      .toString('hex')
      .replace(/^[89a-f]/, '1');
  const cert = await x509.X509CertificateGenerator.create({
    serialNumber,
    subject: encodeName(spec.subject),
    issuer: spec.issuer ? encodeName(spec.issuer.subject) : encodeName(spec.subject),
    notBefore,
    notAfter,
    publicKey: keys.publicKey,
    signingKey: signer.key,
    signingAlgorithm: signer.algorithm,
    extensions,
  });
  const der = Buffer.from(cert.rawData);
  const pkcs8 = await subtle.exportKey('pkcs8', keys.privateKey);
  return {
    certPem: toPemText('CERTIFICATE', der),
    keyPem: toPemText('PRIVATE KEY', new Uint8Array(pkcs8)),
    der,
    keys,
    key,
    subject: spec.subject,
  };
}
