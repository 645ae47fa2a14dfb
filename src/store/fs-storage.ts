/**
 * @module store/fs-storage
 * The filesystem Storage and Locker, the embedded default. A key is a file under the root;
 * every write is temp + fsync + rename; a group (a certificate, its key and meta) is a version
 * directory behind a symlink that is swapped in one rename, so a crash leaves the old set or
 * the new one. Locks are files holding their holder's pid and host: a lock whose holder on
 * this host is gone is taken over at once, one whose holder stopped renewing it after staleMs.
 */
import { randomBytes } from 'node:crypto';
import { constants } from 'node:fs';
import { access, appendFile, link, lstat, mkdir, open, readdir, readFile, readlink, rename, rm, stat, statfs, unlink, utimes } from 'node:fs/promises';
import { hostname } from 'node:os';
import { dirname, join } from 'node:path';
import { CertgateError } from '../errors.ts';
import { atomicSymlink, atomicWrite, writeError } from '../fsutil.ts';
import { checkKey, type KeyInfo, type Locker, type LockHolder, type LockOptions, type Release, type Storage, waitForLock } from './storage.ts';

const VERSIONS = '.versions';

function readError(err: unknown, what: string): CertgateError {
  if (err instanceof CertgateError) return err;
  return new CertgateError(
    'E_STORE',
    `${what}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`,
    'check the data directory and its permissions',
    {
      cause: err,
    },
  );
}

export interface FsStorageOptions {
  /** The data directory. */
  root: string;
}

export class FsStorage implements Storage {
  readonly root: string;

  constructor(options: FsStorageOptions) {
    if (!options?.root)
      throw new CertgateError('E_OPTION', 'the filesystem storage needs a directory', 'pass { root: "/var/lib/certgate" }', { option: 'data' });
    this.root = options.root;
  }

  pathOf(key: string): string {
    return join(this.root, ...checkKey(key).split('/'));
  }

  async store(key: string, value: string | Uint8Array, options: { private?: boolean } = {}): Promise<void> {
    await atomicWrite(this.pathOf(key), value, options.private ? 0o600 : 0o644);
  }

  async load(key: string): Promise<Buffer | null> {
    try {
      return await readFile(this.pathOf(key));
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code === 'ENOENT' || code === 'ENOTDIR') return null;
      throw readError(err, `reading ${key}`);
    }
  }

  async delete(key: string): Promise<void> {
    const path = this.pathOf(key);
    const st = await lstat(path).catch(() => null);
    if (!st) return;
    if (st.isSymbolicLink()) {
      // A group: the link goes first (readers see nothing, never half), then its versions.
      const target = await readlink(path);
      await unlink(path);
      await rm(join(dirname(path), target, '..'), { recursive: true, force: true });
      return;
    }
    await rm(path, { recursive: true, force: true });
  }

  async exists(key: string): Promise<boolean> {
    return (await this.stat(key)) !== null || (await stat(this.pathOf(key)).catch(() => null))?.isDirectory() === true;
  }

  async stat(key: string): Promise<KeyInfo | null> {
    const st = await stat(this.pathOf(key)).catch(() => null);
    if (!st?.isFile()) return null;
    return { key, size: st.size, modified: st.mtime };
  }

  async list(prefix: string, recursive: boolean): Promise<string[]> {
    const base = prefix ? checkKey(prefix.replace(/\/$/, '')) : '';
    const out: string[] = [];
    const walk = async (rel: string) => {
      const entries = await readdir(rel ? this.pathOf(rel) : this.root, { withFileTypes: true }).catch(() => []);
      for (const e of entries) {
        // Temp files, version directories and other internals start with a dot: never keys.
        if (e.name.startsWith('.')) continue;
        const key = rel ? `${rel}/${e.name}` : e.name;
        const isDir = e.isDirectory() || (e.isSymbolicLink() && (await stat(this.pathOf(key)).catch(() => null))?.isDirectory());
        if (isDir && recursive) await walk(key);
        else out.push(key);
      }
    };
    await walk(base);
    return out.sort();
  }

  async storeGroup(prefix: string, files: Record<string, { value: string | Uint8Array; private?: boolean }>): Promise<void> {
    const link = this.pathOf(prefix);
    const parent = dirname(link);
    const seg = prefix.split('/').pop() as string;
    const id = `${Date.now().toString(36)}-${randomBytes(4).toString('hex')}`;
    const versions = join(parent, VERSIONS, seg);
    const dir = join(versions, id);
    try {
      await mkdir(dir, { recursive: true, mode: 0o700 });
      for (const [name, f] of Object.entries(files)) await atomicWrite(join(dir, checkKey(name)), f.value, f.private ? 0o600 : 0o644);
      // The swap: a new symlink renamed over the old one is one atomic step.
      await atomicSymlink(join(VERSIONS, seg, id), link);
    } catch (err) {
      await rm(dir, { recursive: true, force: true }).catch(() => {});
      throw writeError(err, link);
    }
    // Old versions go once the new one is in place.
    for (const old of await readdir(versions).catch(() => [] as string[])) {
      if (old !== id) await rm(join(versions, old), { recursive: true, force: true });
    }
  }

  async sweep(olderThanMs = 60_000): Promise<string[]> {
    const removed: string[] = [];
    const cutoff = Date.now() - olderThanMs;
    const old = async (path: string) => ((await lstat(path).catch(() => null))?.mtimeMs ?? Number.POSITIVE_INFINITY) < cutoff;
    const remove = async (path: string) => {
      await rm(path, { recursive: true, force: true });
      removed.push(path);
    };
    const walk = async (dir: string, depth: number): Promise<void> => {
      const entries = await readdir(dir, { withFileTypes: true }).catch(() => []);
      for (const e of entries) {
        const path = join(dir, e.name);
        // atomicWrite's and atomicSymlink's temp names: `.NAME.HEX.tmp`, `.NAME.HEX.link`.
        if (/^\..+\.[0-9a-f]{12}\.(tmp|link)$/.test(e.name)) {
          if (await old(path)) await remove(path);
        } else if (e.name === VERSIONS && e.isDirectory()) {
          for (const seg of await readdir(path).catch(() => [] as string[])) {
            const live = await readlink(join(dir, seg)).catch(() => null);
            for (const id of await readdir(join(path, seg)).catch(() => [] as string[])) {
              const version = join(path, seg, id);
              if (live !== join(VERSIONS, seg, id) && (await old(version))) await remove(version);
              else if (live === join(VERSIONS, seg, id)) await walk(version, depth + 1);
            }
            if (!live && (await readdir(join(path, seg)).catch(() => [])).length === 0) await rm(join(path, seg), { recursive: true, force: true });
          }
        } else if (e.isDirectory() && !e.name.startsWith('.') && depth < 4) {
          await walk(path, depth + 1);
        }
      }
    };
    await walk(this.root, 0);
    return removed;
  }

  async append(key: string, text: string): Promise<void> {
    const path = this.pathOf(key);
    try {
      await mkdir(dirname(path), { recursive: true });
      // One write call per append: O_APPEND keeps whole lines from interleaving.
      await appendFile(path, text);
    } catch (err) {
      throw writeError(err, path);
    }
  }

  async checkWritable(bytes: number): Promise<void> {
    try {
      await mkdir(this.root, { recursive: true });
      await access(this.root, constants.W_OK);
    } catch (err) {
      throw writeError(err, this.root);
    }
    const fs = await statfs(this.root).catch(() => null);
    // A margin over the write itself: the index, the state and the events follow it.
    if (fs && fs.bavail * fs.bsize < bytes + 64 * 1024)
      throw new CertgateError(
        'E_STORE',
        `the data directory ${this.root} has ${fs.bavail * fs.bsize} bytes free; a certificate needs about ${bytes + 64 * 1024}`,
        'free disk space, then run again: nothing was asked of the CA',
      );
  }
}

export interface FsLockerOptions {
  root: string;
  /** A lock whose holder stopped renewing it this long ago is taken over (default 2 min). */
  staleMs?: number;
  pollMs?: number;
  /** Give up waiting after this long (default 10 min). */
  timeoutMs?: number;
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** File locks: `locks/<key>.lock` created exclusively, renewed while held, taken over when its holder is gone. */
export class FsLocker implements Locker {
  readonly #dir: string;
  readonly #stale: number;
  readonly #poll: number;
  readonly #timeout: number;
  readonly #host = hostname();

  constructor(options: FsLockerOptions) {
    for (const [k, v] of Object.entries({ staleMs: options.staleMs, pollMs: options.pollMs, timeoutMs: options.timeoutMs }))
      if (v !== undefined && (!Number.isFinite(v) || v <= 0))
        throw new CertgateError('E_OPTION', `FsLocker ${k} must be a positive number of ms, got ${v}`, `omit ${k} for the default`);
    this.#dir = join(options.root, 'locks');
    this.#stale = options.staleMs ?? 120_000;
    this.#poll = options.pollMs ?? 50;
    this.#timeout = options.timeoutMs ?? 600_000;
  }

  #path(key: string): string {
    return join(this.#dir, `${key.replace(/[^a-z0-9._-]/gi, '_')}.lock`);
  }

  async #create(path: string): Promise<Release | null> {
    let fh: Awaited<ReturnType<typeof open>>;
    try {
      fh = await open(path, 'wx', 0o644);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'EEXIST') return null;
      throw writeError(err, path);
    }
    try {
      const at = new Date();
      await fh.writeFile(JSON.stringify({ pid: process.pid, host: this.#host, since: at.toISOString() }));
      await fh.close();
      // Its age is read against this process's clock: stamp it with that clock, not the file
      // system's (another host's, on a network file system; a faked one in tests).
      await utimes(path, at, at);
    } catch (err) {
      // An empty lock file (a full disk) would look held by nobody until it went stale.
      await fh.close().catch(() => {});
      await rm(path, { force: true });
      throw writeError(err, path);
    }
    const timer = setInterval(
      () => {
        const now = new Date();
        void utimes(path, now, now).catch(() => {});
      },
      Math.max(250, this.#stale / 3),
    );
    timer.unref();
    return async () => {
      clearInterval(timer);
      await rm(path, { force: true });
    };
  }

  async #holder(path: string): Promise<{ holder: LockHolder | null; text: string; mtimeMs: number } | null> {
    const [text, st] = await Promise.all([readFile(path, 'utf8').catch(() => null), stat(path).catch(() => null)]);
    if (text === null || !st) return null;
    try {
      const h = JSON.parse(text) as Partial<LockHolder>;
      return { holder: { pid: typeof h.pid === 'number' ? h.pid : null, host: h.host ?? null, since: h.since ?? null }, text, mtimeMs: st.mtimeMs };
    } catch {
      return { holder: null, text, mtimeMs: st.mtimeMs };
    }
  }

  /**
   * Removes a lock judged abandoned, unless someone replaced it meanwhile: the file is renamed
   * aside first (one remover wins), and a lock that turns out fresh is put back with link(),
   * which fails rather than overwrite a newer one.
   */
  async #takeOver(path: string, judged: string): Promise<void> {
    const aside = `${path}.${randomBytes(4).toString('hex')}.stale`;
    try {
      await rename(path, aside);
    } catch {
      return;
    }
    const text = await readFile(aside, 'utf8').catch(() => null);
    if (text !== judged) await link(aside, path).catch(() => {});
    await rm(aside, { force: true });
  }

  async tryLock(key: string): Promise<Release | null> {
    await mkdir(this.#dir, { recursive: true }).catch((err) => {
      throw writeError(err, this.#dir);
    });
    const path = this.#path(key);
    const got = await this.#create(path);
    if (got) return got;
    const h = await this.#holder(path);
    if (h && this.#abandoned(h)) {
      await this.#takeOver(path, h.text);
      return this.#create(path);
    }
    return null;
  }

  #abandoned(h: { holder: LockHolder | null; mtimeMs: number }): boolean {
    // A holder on this host whose process is gone released nothing: take it over now rather
    // than after staleMs (a kill -9 mid-issuance used to block the next issue for 2 minutes).
    if (h.holder?.host === this.#host && h.holder.pid !== null && !alive(h.holder.pid)) return true;
    // An empty or torn lock file is a holder killed between creating it and writing its record
    // (the record follows the create at once): it needs no two minutes to be judged.
    if (h.holder === null && Date.now() - h.mtimeMs > 5_000) return true;
    return Date.now() - h.mtimeMs > this.#stale;
  }

  async lock(key: string, options: LockOptions | AbortSignal = {}): Promise<Release> {
    return waitForLock(key, options, {
      tryLock: () => this.tryLock(key),
      holder: async () => (await this.#holder(this.#path(key)))?.holder ?? null,
      timeoutMs: this.#timeout,
      pollMs: this.#poll,
      fix: `another certgate is working on it; if none runs, remove ${this.#path(key)}`,
    });
  }
}
