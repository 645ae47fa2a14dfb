/**
 * @module trust/export
 * The trust set in the shapes other runtimes read: a PEM bundle, an OpenSSL hashed directory,
 * and the environment variables that point Node, OpenSSL, curl, Python, Git and Java at them.
 */
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, readdir, rm } from 'node:fs/promises';
import { delimiter, join } from 'node:path';
import { promisify } from 'node:util';
import { CertgateError } from '../errors.ts';
import { atomicWrite } from '../fsutil.ts';
import { decodeCertificate } from '../pki/certificate.ts';
import { parsePem } from '../pki/pem.ts';
import type { TrustSet } from './store.ts';

const run = promisify(execFile);

/** A certificate left out of a bundle, and why (it expired). */
export interface LeftOut {
  subject: string;
  notAfter: string;
}

/**
 * The certificates still valid at `now`. An expired root verifies nothing; Node's bundle keeps
 * roots until its next release (Entrust's expired on 2026-11-27), and some runtimes (Java's
 * keytool, old OpenSSL) refuse a bundle or a store that holds one.
 */
export function unexpired(pems: readonly string[], now: Date = new Date()): { pems: string[]; expired: LeftOut[] } {
  const kept: string[] = [];
  const expired: LeftOut[] = [];
  for (const pem of pems) {
    const block = parsePem(pem)[0];
    if (!block) continue;
    const info = decodeCertificate(block.der, now).info;
    if (Date.parse(info.notAfter) < now.getTime()) expired.push({ subject: info.subject, notAfter: info.notAfter });
    else kept.push(pem);
  }
  return { pems: kept, expired };
}

export interface ExportOptions {
  /** The time that decides what has expired (default: now). */
  now?: Date;
}

/** The trust set's PEM bundle without expired certificates, and what was left out. */
export function exportBundle(set: Pick<TrustSet, 'ca'>, options: ExportOptions = {}): { pem: string; count: number; expired: LeftOut[] } {
  const { pems, expired } = unexpired(set.ca, options.now);
  return { pem: bundlePem(pems), count: pems.length, expired };
}

/** A PEM bundle with a comment naming each certificate, as curl's cacert.pem has. */
export function bundlePem(pems: readonly string[]): string {
  return pems
    .map((pem) => {
      const block = parsePem(pem)[0];
      if (!block) return '';
      const info = decodeCertificate(block.der).info;
      return `# ${info.subject}\n${pem.trim()}\n`;
    })
    .join('\n');
}

export function which(tool: string, env: Record<string, string | undefined> = process.env): string | null {
  for (const dir of (env.PATH ?? '').split(delimiter)) {
    if (dir && existsSync(join(dir, tool))) return join(dir, tool);
  }
  return null;
}

/** Writes one PEM file per certificate and the `<hash>.0` links OpenSSL looks up (openssl rehash). */
export async function writeOpensslDir(pems: readonly string[], dir: string): Promise<number> {
  const openssl = which('openssl');
  if (!openssl) {
    throw new CertgateError(
      'E_TOOL_MISSING',
      'the openssl-dir format needs the openssl command to compute subject hashes',
      'install openssl (apt-get install openssl), or use --format pem',
    );
  }
  await mkdir(dir, { recursive: true });
  for (const name of await readdir(dir)) {
    if (/\.pem$|^[0-9a-f]{8}\.\d+$/.test(name)) await rm(join(dir, name), { force: true });
  }
  let i = 0;
  for (const pem of pems) await atomicWrite(join(dir, `ca-${String(i++).padStart(4, '0')}.pem`), pem.endsWith('\n') ? pem : `${pem}\n`);
  try {
    await run(openssl, ['rehash', dir], { timeout: 60_000 });
  } catch (err) {
    throw new CertgateError('E_TOOL_MISSING', `openssl rehash failed: ${(err as Error).message.split('\n')[0]}`, 'use --format pem, or update openssl', {
      cause: err,
    });
  }
  return pems.length;
}

export interface EnvFiles {
  bundle: string;
  extra: string;
  dir: string | null;
}

/**
 * Writes the files `trust env` points at, under `generated/`, without expired certificates.
 * `expired` lists what was left out (system roots and ca-certs alike).
 */
export async function writeEnvFiles(set: TrustSet, generated: string, options: ExportOptions = {}): Promise<EnvFiles & { expired: LeftOut[] }> {
  const bundle = join(generated, 'ca-bundle.pem');
  const extra = join(generated, 'extra-ca.pem');
  const all = unexpired(set.ca, options.now);
  const extras = unexpired(set.extra, options.now);
  await atomicWrite(bundle, bundlePem(all.pems));
  await atomicWrite(extra, bundlePem(extras.pems));
  let dir: string | null = join(generated, 'certs');
  try {
    await writeOpensslDir(all.pems, dir);
  } catch (err) {
    if ((err as CertgateError).code !== 'E_TOOL_MISSING') throw err;
    dir = null;
  }
  return { bundle, extra, dir, expired: all.expired };
}

/** "left out 1 expired certificate: CN=… (expired 2026-11-27)", or "" when none was. */
export function leftOutNote(expired: readonly LeftOut[]): string {
  if (!expired.length) return '';
  const n = expired.length;
  const names = expired
    .slice(0, 3)
    .map((e) => `${e.subject} (expired ${e.notAfter.slice(0, 10)})`)
    .join('; ');
  return `left out ${n} expired certificate${n === 1 ? '' : 's'}: ${names}${n > 3 ? `; and ${n - 3} more` : ''}`;
}

export interface EnvVariable {
  name: string;
  value: string;
  /** Who reads it. */
  for: string;
}

export function envVariables(files: EnvFiles): EnvVariable[] {
  const vars: EnvVariable[] = [
    { name: 'NODE_EXTRA_CA_CERTS', value: files.extra, for: 'Node.js: adds ca-certs to its bundled roots (read at process start)' },
    { name: 'SSL_CERT_FILE', value: files.bundle, for: 'OpenSSL, curl, Ruby, Go on Linux: replaces the default bundle' },
    { name: 'CURL_CA_BUNDLE', value: files.bundle, for: 'curl' },
    { name: 'REQUESTS_CA_BUNDLE', value: files.bundle, for: 'Python requests' },
    { name: 'GIT_SSL_CAINFO', value: files.bundle, for: 'git over HTTPS' },
  ];
  if (files.dir) vars.splice(2, 0, { name: 'SSL_CERT_DIR', value: files.dir, for: 'OpenSSL: the hashed directory' });
  return vars;
}

/** keytool commands that import each extra CA into a Java trust store; empty without keytool. */
export function javaCommands(set: TrustSet, extraDir: string, env: Record<string, string | undefined> = process.env): string[] {
  if (!which('keytool', env)) return [];
  return set.entries.map(
    (e) => `keytool -importcert -noprompt -cacerts -storepass changeit -alias certgate-${e.file.replace(/\.[^.]+$/, '')} -file ${join(extraDir, e.file)}`,
  );
}
