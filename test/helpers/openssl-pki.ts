/**
 * Certificates with odd extensions, made at test time by the openssl CLI from configs written to a
 * temp dir: what src/pki/generate.ts cannot express (critical unknown extensions, name and policy
 * constraints, keyUsage without digitalSignature, SHA-1, back-dated validity through faketime).
 */
import { execFileSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { cleanEnv } from './env.ts';

export interface OsslCert {
  name: string;
  certPem: string;
  keyPem: string;
  certFile: string;
  keyFile: string;
}

export interface IssueOptions {
  /** Extension lines for the certificate (openssl x509 -extfile syntax). */
  ext: string;
  subject: string;
  issuer?: OsslCert;
  /** Default ec. */
  key?: 'ec' | 'rsa1024' | 'rsa2048';
  /** Default sha256. */
  md?: 'sha256' | 'sha1';
  days?: number;
  /** Sign as if this many days ago (faketime): positive for expired certificates, negative for ones not valid yet. */
  daysAgo?: number;
  /** Reuse the key of this certificate (a re-keyed or cross-signed pair shares or differs by key). */
  keyOf?: OsslCert;
}

export function openssl(dir: string, args: string[], faketime?: string): string {
  const [cmd, argv] = faketime ? ['faketime', ['-f', faketime, 'openssl', ...args]] : ['openssl', args];
  return execFileSync(cmd, argv, { cwd: dir, env: cleanEnv(), stdio: ['ignore', 'pipe', 'pipe'] }).toString('utf8');
}

let serial = 1000;

export function issue(dir: string, name: string, o: IssueOptions): OsslCert {
  const keyFile = join(dir, `${name}.key`);
  const certFile = join(dir, `${name}.pem`);
  if (o.keyOf) writeFileSync(keyFile, o.keyOf.keyPem);
  else if (o.key === 'rsa1024' || o.key === 'rsa2048')
    openssl(dir, ['genpkey', '-algorithm', 'RSA', '-pkeyopt', `rsa_keygen_bits:${o.key.slice(3)}`, '-out', keyFile]);
  else openssl(dir, ['genpkey', '-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-256', '-out', keyFile]);
  writeFileSync(join(dir, `${name}.cnf`), `[ext]\n${o.ext}\n`);
  openssl(dir, ['req', '-new', '-key', keyFile, '-subj', o.subject, '-out', `${name}.csr`]);
  const signer = o.issuer ? ['-CA', o.issuer.certFile, '-CAkey', o.issuer.keyFile] : ['-signkey', keyFile];
  const fake = o.daysAgo ? `${o.daysAgo > 0 ? '-' : '+'}${Math.abs(o.daysAgo)}d` : undefined;
  openssl(
    dir,
    [
      'x509',
      '-req',
      '-in',
      `${name}.csr`,
      ...signer,
      '-set_serial',
      String(serial++),
      '-days',
      String(o.days ?? 30),
      `-${o.md ?? 'sha256'}`,
      '-extfile',
      `${name}.cnf`,
      '-extensions',
      'ext',
      '-out',
      certFile,
    ],
    fake,
  );
  return { name, certFile, keyFile, certPem: readFileSync(certFile, 'utf8'), keyPem: readFileSync(keyFile, 'utf8') };
}

export const CA_EXT = 'basicConstraints=critical,CA:TRUE\nkeyUsage=critical,keyCertSign,cRLSign\nsubjectKeyIdentifier=hash\nauthorityKeyIdentifier=keyid';
export const LEAF_EXT =
  'basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=serverAuth\nsubjectAltName=DNS:app.test\nsubjectKeyIdentifier=hash\nauthorityKeyIdentifier=keyid';
