/**
 * @module localca/local-ca
 * A local CA, like mkcert: created once under the data directory (key 0600), it issues
 * short-lived certificates for names no public CA can validate: localhost, 127.0.0.1, ::1,
 * LAN and .internal names. Clients trust it (`certgate local-ca export`) instead of turning
 * verification off, the seeds' `setSelfSigned()`.
 */
import { createPrivateKey, webcrypto } from 'node:crypto';
import { mkdir, readFile } from 'node:fs/promises';
import { isIP } from 'node:net';
import { join } from 'node:path';
import { CertgateError } from '../errors.ts';
import { atomicWrite } from '../fsutil.ts';
import type { IssueRequest, Issuer } from '../issuer.ts';
import { decodeCertificate } from '../pki/certificate.ts';
import { createCertificate, type IssuedCertificate } from '../pki/generate.ts';
import { certMeta } from '../store/meta.ts';
import type { CertificateBundle } from '../store/store.ts';

const DAY = 86_400_000;

export interface LocalCaOptions {
  /** Directory for the CA's certificate and key (`<data>/local-ca`). */
  dir: string;
  /** Lifetime of issued certificates (default 7 days; renewed by the edge in their last third). */
  lifetimeMs?: number;
}

/** Names that go to the local CA instead of a public one. */
export function isLocalName(name: string): boolean {
  const n = name.toLowerCase().replace(/\.$/, '');
  if (isIP(n)) return true;
  if (!n.includes('.')) return true;
  return /(^|\.)(localhost|local|internal|lan|home\.arpa|test|invalid|example)$/.test(n);
}

function unusable(dir: string, err: unknown): CertgateError {
  return new CertgateError(
    'E_STORE',
    `the local CA cannot be kept in ${dir}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`,
    'make the data directory writable by this user, or point CERTGATE_DATA (or --data) at one that is',
    { cause: err },
  );
}

/** The local CA as an Issuer: certificates for names no public CA can validate. */
export class LocalCa implements Issuer {
  readonly id = 'local';
  readonly dir: string;
  readonly #lifetime: number;
  #root: IssuedCertificate | null = null;

  constructor(options: LocalCaOptions) {
    if (!options?.dir) throw new CertgateError('E_OPTION', 'the local CA needs a directory', 'pass { dir }');
    this.dir = options.dir;
    this.#lifetime = options.lifetimeMs ?? 7 * DAY;
  }

  get certPath(): string {
    return join(this.dir, 'root.pem');
  }

  /** Loads the CA, creating it the first time. */
  async load(): Promise<{ certPem: string; created: boolean }> {
    if (this.#root) return { certPem: this.#root.certPem, created: false };
    try {
      const [certPem, keyPem] = await Promise.all([readFile(this.certPath, 'utf8'), readFile(join(this.dir, 'root.key'), 'utf8')]);
      const key = createPrivateKey(keyPem);
      const pkcs8 = key.export({ type: 'pkcs8', format: 'der' });
      const subtle = webcrypto.subtle;
      const privateKey = await subtle.importKey('pkcs8', pkcs8, { name: 'ECDSA', namedCurve: 'P-256' }, true, ['sign']);
      const jwk = await subtle.exportKey('jwk', privateKey);
      delete jwk.d;
      const publicKey = await subtle.importKey('jwk', { ...jwk, key_ops: ['verify'] }, { name: 'ECDSA', namedCurve: 'P-256' }, true, ['verify']);
      const der = Buffer.from(certPem.replace(/-----[^-]+-----|\s+/g, ''), 'base64');
      this.#root = { certPem, keyPem, der, keys: { privateKey, publicKey } as CryptoKeyPair, key: 'ec-p256', subject: decodeCertificate(der).info.subject };
      return { certPem, created: false };
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code === 'ENOTDIR' || code === 'EACCES' || code === 'EPERM') throw unusable(this.dir, err);
      if (code !== 'ENOENT') {
        throw new CertgateError(
          'E_STORE',
          `the local CA in ${this.dir} cannot be read: ${(err as Error).message}`,
          `remove ${this.dir} to create a new one (clients must then trust the new root)`,
          { cause: err },
        );
      }
    }
    const now = Date.now();
    const root = await createCertificate({
      subject: `CN=certgate local CA ${new Date(now).toISOString().slice(0, 10)} ${Math.random().toString(36).slice(2, 8)}, O=certgate development CA`,
      ca: { pathLength: 0 },
      notBefore: new Date(now - 3600_000),
      notAfter: new Date(now + 10 * 365 * DAY),
    });
    try {
      await mkdir(this.dir, { recursive: true, mode: 0o700 });
      await atomicWrite(join(this.dir, 'root.key'), root.keyPem, 0o600);
      await atomicWrite(this.certPath, root.certPem, 0o644);
    } catch (err) {
      throw unusable(this.dir, err);
    }
    this.#root = root;
    return { certPem: root.certPem, created: true };
  }

  /** A certificate for local names, valid from an hour ago for the configured lifetime. */
  async issue(names: string[], _request: IssueRequest = {}, now = new Date()): Promise<CertificateBundle> {
    await this.load();
    const root = this.#root as IssuedCertificate;
    const dns = names.filter((n) => !isIP(n));
    const ip = names.filter((n) => isIP(n));
    const cert = await createCertificate({
      subject: `CN=${names[0]}`,
      issuer: root,
      dns,
      ip,
      notBefore: new Date(now.getTime() - 3600_000),
      notAfter: new Date(now.getTime() + this.#lifetime),
    });
    // The leaf alone: a client trusts the root or it does not, and a root sent along is only
    // bytes on every handshake (and a "chain includes the root" finding from testssl).
    const certPem = cert.certPem;
    return {
      certPem,
      keyPem: cert.keyPem,
      meta: certMeta(certPem, { name: names[0] as string, names, directory: 'local', keyType: 'ec-p256', issuedAt: now }),
    };
  }
}
