/**
 * @module store/open
 * A store from its spec, whatever the backend: a filesystem path (or file:// URL) is the
 * filesystem store rooted there; postgres:// and postgresql:// are the PostgreSQL store.
 * `store copy` opens both ends through this, so it copies between any pair of backends.
 */
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { CertgateError } from '../errors.ts';
import type { Logger } from '../log.ts';
import { FsLocker, FsStorage } from './fs-storage.ts';
import type { Locker, Storage } from './storage.ts';

export interface OpenStorageOptions {
  /** PostgreSQL: the CA bundle that verifies the server (verify-full). */
  caFile?: string;
  log?: Logger;
  /** Filesystem: a relative path is resolved against this (default: the process's directory). */
  cwd?: string;
}

export interface OpenedStorage {
  storage: Storage;
  locker: Locker;
  /** What was opened, for messages: the absolute directory, or the URL without its password. */
  describe: string;
  close(): Promise<void>;
}

/** The URL with its password replaced: what messages may show. */
export function redactUrl(spec: string): string {
  try {
    const u = new URL(spec);
    if (u.password) u.password = '****';
    return u.toString();
  } catch {
    return spec;
  }
}

export async function openStorage(spec: string, options: OpenStorageOptions = {}): Promise<OpenedStorage> {
  if (typeof spec !== 'string' || !spec.trim())
    throw new CertgateError('E_OPTION', 'the store is empty', 'give a data directory (/var/lib/certgate) or a postgres:// URL', { option: 'store' });
  const scheme = /^([a-z][a-z0-9+.-]*):\/\//i.exec(spec)?.[1]?.toLowerCase();
  if (scheme === 'postgres' || scheme === 'postgresql') {
    const { openPgStorage } = await import('./pg/index.ts');
    const pg = await openPgStorage(spec, { ...(options.caFile ? { caFile: options.caFile } : {}), ...(options.log ? { log: options.log } : {}) });
    return { ...pg, describe: redactUrl(spec) };
  }
  let dir: string;
  if (scheme === 'file') dir = resolve(fileURLToPath(spec));
  else if (scheme)
    throw new CertgateError('E_STORE_UNSUPPORTED', `${redactUrl(spec)}: no store backend for ${scheme}://`, 'give a data directory, or a postgres:// URL', {
      option: 'store',
    });
  // Normalized (no trailing slash, no `..`): two specs of one directory compare equal.
  else dir = resolve(options.cwd ?? process.cwd(), spec);
  return { storage: new FsStorage({ root: dir }), locker: new FsLocker({ root: dir }), describe: dir, close: async () => {} };
}
