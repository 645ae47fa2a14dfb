/**
 * @module trust/manage
 * Adds to, lists and removes from a ca-certs directory. Writes are atomic; a private key is
 * never copied in.
 */
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { CertgateError } from '../errors.ts';
import { atomicWrite } from '../fsutil.ts';
import { type Certificate, toPem } from '../pki/certificate.ts';
import { loadCaDir, type TrustEntry } from './load.ts';

/** A file name that says what is inside and cannot collide: `corp-root-ca-9f1c2ab3.crt`. */
export function fileNameFor(cert: Certificate): string {
  const slug = (cert.info.subjectCommonName ?? cert.info.subject)
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, '-')
    .replace(/^-+|-+$/g, '')
    .slice(0, 48);
  const fp = cert.info.fingerprints.sha256.replace(/:/g, '').slice(0, 8).toLowerCase();
  return `${slug || 'ca'}-${fp}.crt`;
}

function commented(cert: Certificate): string {
  return `# ${cert.info.subject}\n# SHA-256 ${cert.info.fingerprints.sha256}\n# valid until ${cert.info.notAfter}\n${toPem(cert)}`;
}

export async function addToDir(dir: string, certs: readonly Certificate[]): Promise<string[]> {
  const written: string[] = [];
  for (const cert of certs) {
    const file = fileNameFor(cert);
    try {
      await atomicWrite(join(dir, file), commented(cert));
    } catch (err) {
      const e = err as CertgateError;
      throw new CertgateError('E_WRITE', e.message, e.fix ?? 'check the permissions and free space of the data directory', { cause: err });
    }
    written.push(file);
  }
  return written;
}

export interface StoreListing {
  entries: TrustEntry[];
  problems: Awaited<ReturnType<typeof loadCaDir>>['problems'];
}

export async function listDir(dir: string): Promise<StoreListing> {
  const { entries, problems } = await loadCaDir(dir);
  return { entries, problems };
}

function normalizeFp(s: string): string {
  return s.replace(/[:\s]/g, '').toUpperCase();
}

/** Entries matching a file name, a SHA-256 fingerprint (or an 8+ hex-digit prefix), or a CN. */
export function select(entries: readonly TrustEntry[], selector: string): TrustEntry[] {
  const fp = normalizeFp(selector);
  return entries.filter(
    (e) =>
      e.file === selector ||
      (/^[0-9A-F]{8,64}$/.test(fp) && normalizeFp(e.cert.info.fingerprints.sha256).startsWith(fp)) ||
      (e.cert.info.subjectCommonName ?? '').toLowerCase() === selector.toLowerCase() ||
      e.cert.info.subject.toLowerCase() === selector.toLowerCase(),
  );
}

/** Removes the selected certificates; a file with others in it is rewritten without them. */
export async function removeFromDir(dir: string, selector: string, options: { all?: boolean } = {}): Promise<TrustEntry[]> {
  const { entries } = await loadCaDir(dir);
  const chosen = select(entries, selector);
  if (chosen.length === 0) {
    throw new CertgateError(
      'E_TRUST_NOT_FOUND',
      `nothing in ca-certs matches "${selector}"`,
      'run certgate trust list; select by file name, SHA-256 fingerprint (8+ hex digits) or CN',
    );
  }
  if (chosen.length > 1 && !options.all) {
    throw new CertgateError(
      'E_USAGE',
      `"${selector}" matches ${chosen.length} certificates (${chosen.map((c) => c.file).join(', ')})`,
      'select one by fingerprint or file name, or pass --all',
    );
  }
  const byFile = new Map<string, TrustEntry[]>();
  for (const e of entries) byFile.set(e.file, [...(byFile.get(e.file) ?? []), e]);
  const gone = new Set(chosen.map((c) => c.cert.info.fingerprints.sha256));
  for (const file of new Set(chosen.map((c) => c.file))) {
    const keep = (byFile.get(file) ?? []).filter((e) => !gone.has(e.cert.info.fingerprints.sha256));
    if (keep.length === 0) await rm(join(dir, file), { force: true });
    else await atomicWrite(join(dir, file), keep.map((e) => commented(e.cert)).join(''));
  }
  return chosen;
}
