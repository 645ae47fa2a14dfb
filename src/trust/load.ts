/**
 * @module trust/load
 * Reads a ca-certs directory: every file, whatever its extension or format. A bad file is a
 * problem to report, never a reason to drop the good ones.
 */
import { readdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { CertgateError } from '../errors.ts';
import { readLimited } from '../input.ts';
import type { Certificate } from '../pki/certificate.ts';
import { isSelfSignedServerCert } from '../pki/chain.ts';
import { parseInput } from '../pki/parse.ts';

export interface TrustEntry {
  cert: Certificate;
  /** File name inside the directory. */
  file: string;
}

export interface TrustProblem {
  file: string;
  code: string;
  message: string;
  fix: string;
}

export interface LoadedDir {
  entries: TrustEntry[];
  problems: TrustProblem[];
  /** Names, sizes and mtimes: changes when anything in the directory changes. */
  signature: string;
}

/** Files that are never certificates (editor backups, our own temp files, dotfiles). */
function ignored(name: string): boolean {
  return name.startsWith('.') || name.endsWith('~') || name.endsWith('.swp') || name.endsWith('.tmp');
}

/** Runs fn over items with at most `limit` in flight: a thousand small files read in parallel, not in turn. */
async function pool<T, R>(items: readonly T[], limit: number, fn: (item: T) => Promise<R>): Promise<R[]> {
  const out = new Array<R>(items.length);
  let next = 0;
  async function worker(): Promise<void> {
    while (next < items.length) {
      const i = next++;
      out[i] = await fn(items[i] as T);
    }
  }
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return out;
}

export async function directorySignature(dir: string): Promise<string | null> {
  let names: string[];
  try {
    names = (await readdir(dir)).filter((n) => !ignored(n)).sort();
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return '';
    return null;
  }
  const parts = await pool(names, 32, async (name) => {
    try {
      const st = await stat(join(dir, name));
      return `${name}:${st.size}:${st.mtimeMs}`;
    } catch {
      return `${name}:gone`;
    }
  });
  return parts.join('|');
}

/** Parsed files by name, reused while a file's size and mtime stay the same. */
export type LoadCache = Map<string, { stamp: string; entries: TrustEntry[]; problems: TrustProblem[] }>;

export async function loadCaDir(dir: string, now = new Date(), cache?: LoadCache): Promise<LoadedDir> {
  const entries: TrustEntry[] = [];
  const problems: TrustProblem[] = [];
  let names: string[];
  try {
    names = (await readdir(dir)).filter((n) => !ignored(n)).sort();
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return { entries, problems, signature: '' };
    throw new CertgateError(
      'E_TRUST_DIR',
      `cannot read the ca-certs directory ${dir}: ${(err as Error).message}`,
      'check that the directory exists and is readable',
    );
  }
  for (const name of [...(cache?.keys() ?? [])]) if (!names.includes(name)) cache?.delete(name);
  // Stat and read in parallel; parse in order (parsing is CPU, the reads are waiting).
  const files = await pool(names, 32, async (file) => {
    try {
      const st = await stat(join(dir, file));
      const stamp = `${st.size}:${st.mtimeMs}:${st.ino}`;
      const sig = `${file}:${st.size}:${st.mtimeMs}`;
      if (!st.isFile()) return { file, sig, skip: true as const };
      if (cache?.get(file)?.stamp === stamp) return { file, sig, stamp, cached: true as const };
      // The limit holds while reading: the file may grow between stat and read.
      return { file, sig, stamp, bytes: await readLimited(join(dir, file), { name: file }) };
    } catch (err) {
      return { file, sig: `${file}:gone`, stamp: '', error: err as Error };
    }
  });
  const signature = files.map((f) => f.sig).join('|');
  for (const f of files) {
    if ('skip' in f) continue;
    const { file } = f;
    const before = { entries: entries.length, problems: problems.length };
    const stamp = f.stamp;
    try {
      if ('cached' in f) {
        const hit = cache?.get(file);
        entries.push(...(hit?.entries ?? []));
        problems.push(...(hit?.problems ?? []));
        continue;
      }
      if ('error' in f) throw f.error;
      const parsed = parseInput(f.bytes, { source: file, now });
      if (parsed.keys.length) {
        problems.push({
          file,
          code: 'E_TRUST_KEY',
          message: `${file} holds a private key; ca-certs takes certificates only, and the key is ignored`,
          fix: `move ${file} out of ca-certs and keep the key only where the server reads it`,
        });
      }
      for (const cert of parsed.certificates) {
        if ((cert.info.basicConstraints?.ca !== true && cert.info.version !== 1) || isSelfSignedServerCert(cert, { others: parsed.certificates })) {
          problems.push({
            file,
            code: 'E_TRUST_LEAF',
            message: `${file} holds "${cert.info.subjectCommonName ?? cert.info.subject}", a server's own certificate, not a CA; it is ignored`,
            fix: 'pin it on the resource that connects to that server (tls.mode: pinned) and remove it from ca-certs',
          });
          continue;
        }
        entries.push({ cert, file });
      }
      if (parsed.certificates.length === 0 && parsed.keys.length === 0) {
        problems.push({ file, code: 'E_NOT_CERTIFICATE', message: `${file} holds no certificate`, fix: `remove ${file} from ca-certs` });
      }
    } catch (err) {
      const e = err as CertgateError;
      // The parser's fix speaks of input in general; here the file to deal with is known.
      problems.push({
        file,
        code: e.code ?? 'E_FILE_READ',
        message: e.message,
        fix: `remove ${join(dir, file)} from ca-certs, or replace it with a CA certificate (PEM, DER or PKCS#7)`,
      });
    }
    if (cache && stamp) cache.set(file, { stamp, entries: entries.slice(before.entries), problems: problems.slice(before.problems) });
  }
  return { entries, problems, signature };
}
