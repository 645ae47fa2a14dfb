/**
 * @module trust/load
 * Reads a ca-certs directory: every file, whatever its extension or format. A bad file is a
 * problem to report, never a reason to drop the good ones.
 */
import { readdir, readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { CertgateError } from '../errors.ts';
import type { Certificate } from '../pki/certificate.ts';
import { MAX_INPUT_BYTES, parseInput } from '../pki/parse.ts';

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

export async function directorySignature(dir: string): Promise<string | null> {
  let names: string[];
  try {
    names = (await readdir(dir)).filter((n) => !ignored(n)).sort();
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return '';
    return null;
  }
  const parts: string[] = [];
  for (const name of names) {
    try {
      const st = await stat(join(dir, name));
      parts.push(`${name}:${st.size}:${st.mtimeMs}`);
    } catch {
      parts.push(`${name}:gone`);
    }
  }
  return parts.join('|');
}

export async function loadCaDir(dir: string, now = new Date()): Promise<LoadedDir> {
  const entries: TrustEntry[] = [];
  const problems: TrustProblem[] = [];
  const signature = (await directorySignature(dir)) ?? '';
  let names: string[];
  try {
    names = (await readdir(dir)).filter((n) => !ignored(n)).sort();
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return { entries, problems, signature };
    throw new CertgateError(
      'E_TRUST_DIR',
      `cannot read the ca-certs directory ${dir}: ${(err as Error).message}`,
      'check that the directory exists and is readable',
    );
  }
  for (const file of names) {
    const path = join(dir, file);
    try {
      const st = await stat(path);
      if (!st.isFile()) continue;
      if (st.size > MAX_INPUT_BYTES) throw new CertgateError('E_INPUT_TOO_LARGE', `${file} is over 10 MiB`, 'remove it from ca-certs');
      const parsed = parseInput(await readFile(path), { source: file, now });
      if (parsed.keys.length) {
        problems.push({
          file,
          code: 'E_TRUST_KEY',
          message: `${file} holds a private key; ca-certs takes certificates only, and the key is ignored`,
          fix: `move ${file} out of ca-certs and keep the key only where the server reads it`,
        });
      }
      for (const cert of parsed.certificates) {
        if (cert.info.basicConstraints?.ca !== true && cert.info.version !== 1) {
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
      problems.push({ file, code: e.code ?? 'E_FILE_READ', message: e.message, fix: e.fix ?? 'remove or replace the file' });
    }
  }
  return { entries, problems, signature };
}
