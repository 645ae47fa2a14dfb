/**
 * @module localca/install
 * `local-ca install` / `uninstall`, as `mkcert -install` and `caddy trust` do: the local CA's
 * root into the system store (Debian's update-ca-certificates), the NSS stores Chromium and
 * Firefox read (certutil), and Java's cacerts (keytool). Idempotent both ways; every store
 * reports what was done. The locations are options so that a test (or a chroot) can aim them.
 */
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { lstat, mkdir, readdir, readFile, readlink, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { CertgateError } from '../errors.ts';
import { atomicWrite } from '../fsutil.ts';
import { decodeCertificate } from '../pki/certificate.ts';
import { parsePem } from '../pki/pem.ts';
import { which } from '../trust/export.ts';

const exec = promisify(execFile);

/** The file name in the system store, and the nickname / alias in NSS and Java. */
export const SYSTEM_FILE = 'certgate-local-ca.crt';
export const NSS_NICKNAME = 'certgate local CA';
export const JAVA_ALIAS = 'certgate-local-ca';
const JAVA_STOREPASS = 'changeit';

export type StoreName = 'system' | 'nss' | 'firefox' | 'java';

export interface StoreResult {
  store: StoreName;
  /** The file, database or keystore changed (or looked at). */
  target: string;
  action: 'added' | 'already' | 'replaced' | 'removed' | 'absent' | 'skipped';
  detail: string;
}

export interface InstallOptions {
  /** PEM of the local CA's root. */
  certPem: string;
  /** Its file (certutil and keytool read it). */
  certPath: string;
  /** Home directory whose NSS database (~/.pki/nssdb) and Firefox profiles are changed. */
  home: string;
  /** PATH to find update-ca-certificates, certutil and keytool on. */
  path: string;
  stores?: { system?: boolean; nss?: boolean; java?: boolean };
  /** Debian's directories (defaults: /usr/local/share/ca-certificates, /etc/ssl/certs). */
  system?: { localCertsDir?: string; etcCertsDir?: string; hooksDir?: string; certsConf?: string };
  /** A keystore file for keytool; default the JDK's own (`keytool -cacerts`). */
  javaKeystore?: string;
}

const DEFAULT_LOCAL = '/usr/local/share/ca-certificates';
const DEFAULT_ETC = '/etc/ssl/certs';

function tool(name: string, path: string): string | null {
  return which(name, { PATH: path });
}

function sha256(pem: string): string {
  const der = parsePem(pem).find((b) => b.label === 'CERTIFICATE')?.der;
  if (!der) throw new CertgateError('E_NOT_CERTIFICATE', 'the local CA file holds no certificate', 'remove the local-ca directory to create a new CA');
  return decodeCertificate(der).info.fingerprints.sha256;
}

function denied(err: unknown, what: string, flag: string): CertgateError {
  const code = (err as NodeJS.ErrnoException).code;
  const text = `${(err as { stderr?: string }).stderr ?? ''} ${(err as Error).message}`;
  if (code === 'EACCES' || code === 'EPERM' || code === 'EROFS' || /permission denied|access denied|read-only/i.test(text))
    return new CertgateError('E_WRITE', `${what}: permission denied`, `run it as root (sudo certgate local-ca ...), or leave this store out with ${flag}`, {
      cause: err,
    });
  return new CertgateError('E_WRITE', `${what}: ${text.trim().split('\n')[0]}`, `leave this store out with ${flag}, and add the CA by hand`, { cause: err });
}

/** The tools each chosen store needs, checked before anything changes (no half install). */
function preflight(o: InstallOptions, removing: boolean): void {
  const stores = { system: true, nss: true, java: true, ...o.stores };
  const verb = removing ? 'uninstall' : 'install';
  if (stores.system && !tool('update-ca-certificates', o.path)) {
    throw new CertgateError(
      'E_SYSTEM_STORE',
      'no update-ca-certificates here: certgate changes the system store on Debian and Ubuntu only',
      `leave it out (certgate local-ca ${verb} --no-system) and do it by hand: Fedora/RHEL: cp ${o.certPath} /etc/pki/ca-trust/source/anchors/ && update-ca-trust; macOS: security add-trusted-cert -d -r trustRoot -k /Library/Keychains/System.keychain ${o.certPath}`,
    );
  }
  if (stores.nss && !tool('certutil', o.path)) {
    throw new CertgateError(
      'E_TOOL_MISSING',
      "certutil is not installed: the browsers' certificate store (NSS) cannot be changed",
      `apt-get install libnss3-tools (or leave the browsers out: certgate local-ca ${verb} --no-nss)`,
    );
  }
}

async function systemStore(o: InstallOptions, install: boolean): Promise<StoreResult> {
  const local = o.system?.localCertsDir ?? DEFAULT_LOCAL;
  const etc = o.system?.etcCertsDir ?? DEFAULT_ETC;
  const file = join(local, SYSTEM_FILE);
  const link = join(etc, SYSTEM_FILE.replace(/\.crt$/, '.pem'));
  const present = await readFile(file, 'utf8').catch(() => null);
  const linked = await lstat(link).then(
    (s) => s.isSymbolicLink(),
    () => false,
  );
  const args: string[] = [];
  // Only a non-default location is passed: on a real system the command runs as Debian documents it.
  if (o.system?.localCertsDir) args.push('--localcertsdir', local);
  if (o.system?.etcCertsDir) args.push('--etccertsdir', etc);
  if (o.system?.hooksDir) args.push('--hooksdir', o.system.hooksDir);
  if (o.system?.certsConf) args.push('--certsconf', o.system.certsConf);
  const update = async () => {
    try {
      const { stdout } = await exec(tool('update-ca-certificates', o.path) as string, args, { timeout: 120_000 });
      return /(\d+ added, \d+ removed)/.exec(stdout)?.[1] ?? 'done';
    } catch (err) {
      throw denied(err, `update-ca-certificates (${etc})`, '--no-system');
    }
  };
  if (install) {
    if (present !== null && present.trim() === o.certPem.trim() && linked)
      return { store: 'system', target: file, action: 'already', detail: `already in ${etc}/ca-certificates.crt` };
    try {
      await mkdir(local, { recursive: true });
      await atomicWrite(file, o.certPem.endsWith('\n') ? o.certPem : `${o.certPem}\n`, 0o644);
    } catch (err) {
      throw denied(err, file, '--no-system');
    }
    const counts = await update();
    return {
      store: 'system',
      target: file,
      action: present === null ? 'added' : 'replaced',
      detail: `update-ca-certificates: ${counts}; OpenSSL, curl, wget, git, Python and Go trust it through ${etc}/ca-certificates.crt`,
    };
  }
  if (present === null && !linked) return { store: 'system', target: file, action: 'absent', detail: 'not in the system store' };
  try {
    await rm(file, { force: true });
    // update-ca-certificates rebuilds the bundle without it, but leaves its links behind
    // (it prunes links only when it added or removed one itself): remove them here.
    for (const name of await readdir(etc)) {
      const p = join(etc, name);
      const target = await readlink(p).catch(() => null);
      if (p === link || target === file || target === SYSTEM_FILE.replace(/\.crt$/, '.pem')) await rm(p, { force: true });
    }
  } catch (err) {
    throw denied(err, file, '--no-system');
  }
  const counts = await update();
  return { store: 'system', target: file, action: 'removed', detail: `update-ca-certificates: ${counts}` };
}

/** The certificates an NSS database holds under our nickname, as SHA-256 fingerprints. */
async function nssHas(certutil: string, db: string): Promise<string[]> {
  try {
    const { stdout } = await exec(certutil, ['-L', '-d', `sql:${db}`, '-n', NSS_NICKNAME, '-a'], { timeout: 30_000 });
    return parsePem(stdout)
      .filter((b) => b.label === 'CERTIFICATE')
      .map((b) => decodeCertificate(b.der).info.fingerprints.sha256);
  } catch {
    return []; // certutil exits 255 when the nickname is not there
  }
}

async function nssStore(o: InstallOptions, store: 'nss' | 'firefox', db: string, install: boolean): Promise<StoreResult> {
  const certutil = tool('certutil', o.path) as string;
  const target = `sql:${db}`;
  const run = async (args: string[]) => {
    try {
      await exec(certutil, ['-d', target, ...args], { timeout: 30_000 });
    } catch (err) {
      throw denied(err, `certutil ${target}`, '--no-nss');
    }
  };
  if (install && !existsSync(join(db, 'cert9.db'))) {
    // Chromium creates ~/.pki/nssdb on first start; before that certutil -A has nowhere to write.
    await mkdir(db, { recursive: true, mode: 0o700 });
    await run(['-N', '--empty-password']);
  }
  const had = existsSync(join(db, 'cert9.db')) ? await nssHas(certutil, db) : [];
  const mine = sha256(o.certPem);
  if (install) {
    if (had.length === 1 && had[0] === mine) return { store, target, action: 'already', detail: `already trusts "${NSS_NICKNAME}"` };
    for (let i = 0; i < had.length; i++) await run(['-D', '-n', NSS_NICKNAME]);
    await run(['-A', '-t', 'C,,', '-n', NSS_NICKNAME, '-i', o.certPath]);
    return { store, target, action: had.length ? 'replaced' : 'added', detail: `"${NSS_NICKNAME}" trusted for websites (C,,)` };
  }
  if (!had.length) return { store, target, action: 'absent', detail: `no "${NSS_NICKNAME}" here` };
  for (let i = 0; i < had.length; i++) await run(['-D', '-n', NSS_NICKNAME]);
  return { store, target, action: 'removed', detail: `"${NSS_NICKNAME}" deleted` };
}

/** Firefox keeps its own NSS database per profile (cert9.db); the snap package elsewhere. */
async function firefoxProfiles(home: string): Promise<string[]> {
  const out: string[] = [];
  for (const base of [join(home, '.mozilla', 'firefox'), join(home, 'snap', 'firefox', 'common', '.mozilla', 'firefox')]) {
    for (const name of await readdir(base).catch(() => [] as string[])) {
      const dir = join(base, name);
      if (
        await stat(join(dir, 'cert9.db')).then(
          (s) => s.isFile(),
          () => false,
        )
      )
        out.push(dir);
    }
  }
  return out;
}

async function javaStore(o: InstallOptions, install: boolean): Promise<StoreResult> {
  const keytool = tool('keytool', o.path);
  const where = o.javaKeystore ? ['-keystore', o.javaKeystore] : ['-cacerts'];
  const target = o.javaKeystore ?? 'the JDK cacerts (keytool -cacerts)';
  if (!keytool) return { store: 'java', target, action: 'skipped', detail: 'keytool is not on the PATH: no Java here to change' };
  const base = [...where, '-storepass', JAVA_STOREPASS, '-noprompt'];
  const has = async (): Promise<string | null> => {
    try {
      const { stdout } = await exec(keytool, ['-exportcert', '-rfc', '-alias', JAVA_ALIAS, ...base], { timeout: 60_000 });
      return parsePem(stdout)[0] ? sha256(stdout) : null;
    } catch {
      return null;
    }
  };
  const run = async (args: string[]) => {
    try {
      await exec(keytool, [...args, ...base], { timeout: 60_000 });
    } catch (err) {
      throw denied(err, `keytool ${target}`, '--no-java');
    }
  };
  const had = await has();
  if (install) {
    if (had === sha256(o.certPem)) return { store: 'java', target, action: 'already', detail: `alias ${JAVA_ALIAS} already there` };
    if (had) await run(['-delete', '-alias', JAVA_ALIAS]);
    await run(['-importcert', '-alias', JAVA_ALIAS, '-file', o.certPath]);
    return { store: 'java', target, action: had ? 'replaced' : 'added', detail: `alias ${JAVA_ALIAS}; Java programs started from now on trust it` };
  }
  if (!had) return { store: 'java', target, action: 'absent', detail: `no alias ${JAVA_ALIAS}` };
  await run(['-delete', '-alias', JAVA_ALIAS]);
  return { store: 'java', target, action: 'removed', detail: `alias ${JAVA_ALIAS} deleted` };
}

async function apply(o: InstallOptions, install: boolean): Promise<StoreResult[]> {
  preflight(o, !install);
  const stores = { system: true, nss: true, java: true, ...o.stores };
  const results: StoreResult[] = [];
  if (stores.system) results.push(await systemStore(o, install));
  if (stores.nss) {
    results.push(await nssStore(o, 'nss', join(o.home, '.pki', 'nssdb'), install));
    const profiles = await firefoxProfiles(o.home);
    for (const dir of profiles) results.push(await nssStore(o, 'firefox', dir, install));
    if (!profiles.length)
      results.push({ store: 'firefox', target: join(o.home, '.mozilla', 'firefox'), action: 'skipped', detail: 'no Firefox profile (cert9.db) found' });
  }
  if (stores.java) results.push(await javaStore(o, install));
  return results;
}

/**
 * Adds the local CA to the chosen stores. Safe to repeat: a store that has it says `already`.
 * @example await installLocalCa({ certPem, certPath, home: os.homedir(), path: process.env.PATH ?? '' })
 */
export function installLocalCa(options: InstallOptions): Promise<StoreResult[]> {
  return apply(options, true);
}

/** Removes it from the same stores; a store without it says `absent`. */
export function uninstallLocalCa(options: InstallOptions): Promise<StoreResult[]> {
  return apply(options, false);
}
