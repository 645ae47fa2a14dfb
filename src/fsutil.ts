/**
 * @module fsutil
 * Atomic file writes: temp file, fsync, rename, fsync the directory. A reader sees the old
 * file or the new one, never half of one, even if the process dies mid-write; and when any
 * step fails (a full disk, a read-only mount) the temp file goes too, so nothing partial or
 * empty is left behind.
 */
import { randomBytes } from 'node:crypto';
import { accessSync, constants, existsSync } from 'node:fs';
import { type FileHandle, mkdir, open, rename, rm, symlink } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { CertgateError } from './errors.ts';

/** What to do about a failed write, by errno. */
function writeFix(code: string | undefined): string {
  if (code === 'ENOSPC' || code === 'EDQUOT') return 'free disk space and run again; nothing partial was kept';
  if (code === 'EROFS')
    return 'the data directory is on a read-only file system: mount it read-write, or point CERTGATE_DATA (or --data) at a writable directory';
  if (code === 'EACCES' || code === 'EPERM') return 'make the directory writable by this user, or point CERTGATE_DATA (or --data) at one that is';
  return 'check the directory, its permissions and free space';
}

/**
 * Node's recursive mkdir says ENOENT when the real trouble is a read-only or unwritable
 * parent: ask the nearest existing ancestor what is wrong.
 */
function realCode(code: string | undefined, path: string): string | undefined {
  if (code !== 'ENOENT') return code;
  let dir = dirname(path);
  while (!existsSync(dir) && dirname(dir) !== dir) dir = dirname(dir);
  try {
    accessSync(dir, constants.W_OK);
    return code;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code ?? code;
  }
}

/** A failed write as E_STORE, naming the path and the errno. CertgateErrors pass through. */
export function writeError(err: unknown, path: string): CertgateError {
  if (err instanceof CertgateError) return err;
  const code = realCode((err as NodeJS.ErrnoException).code, path);
  return new CertgateError('E_STORE', `cannot write ${path}: ${code ?? (err as Error).message}`, writeFix(code), { cause: err });
}

function tempNear(path: string, suffix: string): string {
  return join(dirname(path), `.${basename(path)}.${randomBytes(6).toString('hex')}.${suffix}`);
}

async function syncDir(dir: string): Promise<void> {
  const d = await open(dir, 'r');
  try {
    await d.sync();
  } finally {
    await d.close();
  }
}

/**
 * Writes `data` to `path` atomically, creating the directory. Throws E_STORE (with a fix for
 * a full disk, a read-only file system, missing permissions) and removes its temp file.
 */
export async function atomicWrite(path: string, data: string | Uint8Array, mode = 0o644): Promise<void> {
  const dir = dirname(path);
  const tmp = tempNear(path, 'tmp');
  let fh: FileHandle | undefined;
  let created = false;
  try {
    await mkdir(dir, { recursive: true });
    fh = await open(tmp, 'wx', mode);
    created = true;
    await fh.writeFile(data);
    await fh.sync();
    await fh.close();
    fh = undefined;
    await rename(tmp, path);
    created = false;
    await syncDir(dir);
  } catch (err) {
    await fh?.close().catch(() => {});
    if (created) await rm(tmp, { force: true }).catch(() => {});
    throw writeError(err, path);
  }
}

/** Points the symlink `path` at `target` in one step (a new link renamed over the old one). */
export async function atomicSymlink(target: string, path: string): Promise<void> {
  const tmp = tempNear(path, 'link');
  let created = false;
  try {
    await symlink(target, tmp);
    created = true;
    await rename(tmp, path);
    created = false;
    await syncDir(dirname(path));
  } catch (err) {
    if (created) await rm(tmp, { force: true }).catch(() => {});
    throw writeError(err, path);
  }
}
