/**
 * @module store/fs
 * The filesystem Store and Locker, the embedded default. Layout under the data directory:
 *
 *   certificates/<name> → .versions/<name>/<id>/   a symlink swapped atomically; the version
 *                                                   holds fullchain.pem, privkey.pem (0600), meta.json
 *   certificates/index.log                          one JSON line per write: what a scan reads
 *   state/<name>.json  events/<name>.jsonl  accounts/<hash>.json (0600)  docs/<key>.json  locks/
 *
 * Every file is written temp + fsync + rename; a pair is swapped by renaming a symlink, so a
 * crash leaves the old pair or the new pair, never a mix.
 */
import { createHash, randomBytes } from 'node:crypto';
import { appendFile, mkdir, open, readdir, readFile, readlink, rm, stat, unlink, utimes } from 'node:fs/promises';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { CertgateError } from '../errors.ts';
import { atomicSymlink, atomicWrite } from '../fsutil.ts';
import { canonicalName, pathSegment } from './names.ts';
import {
  type AccountRecord,
  type CertEvent,
  type CertificateBundle,
  type CertMeta,
  type DomainState,
  EMPTY_STATE,
  type IndexEntry,
  type Locker,
  type Store,
} from './store.ts';

async function readJson<T>(path: string): Promise<T | null> {
  try {
    return JSON.parse(await readFile(path, 'utf8')) as T;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw new CertgateError(
      'E_STORE',
      `cannot read ${path}: ${(err as Error).message}`,
      'check the data directory; a damaged file can be removed and will be rebuilt',
      { cause: err },
    );
  }
}

function storeError(err: unknown, what: string): CertgateError {
  if (err instanceof CertgateError) return err;
  const code = (err as NodeJS.ErrnoException).code;
  const fix =
    code === 'ENOSPC'
      ? 'free disk space; nothing partial was kept'
      : code === 'EACCES' || code === 'EPERM'
        ? 'check the data directory permissions'
        : 'check the data directory';
  return new CertgateError('E_STORE', `${what}: ${(err as Error).message}`, fix, { cause: err });
}

function indexEntry(meta: CertMeta): IndexEntry {
  return {
    name: meta.name,
    notBefore: meta.notBefore,
    notAfter: meta.notAfter,
    serialNumber: meta.serialNumber,
    ariStart: meta.ari?.window?.start ?? null,
    ariEnd: meta.ari?.window?.end ?? null,
  };
}

export interface FsStoreOptions {
  /** certgate's data directory. */
  root: string;
}

export class FsStore implements Store {
  readonly root: string;
  readonly #certs: string;
  readonly #index: string;

  constructor(options: FsStoreOptions) {
    if (!options?.root) throw new CertgateError('E_OPTION', 'the filesystem store needs a directory', 'pass { root: "/var/lib/certgate" }');
    this.root = options.root;
    this.#certs = join(this.root, 'certificates');
    this.#index = join(this.#certs, 'index.log');
  }

  #link(name: string): string {
    return join(this.#certs, pathSegment(canonicalName(name)));
  }

  filePaths(name: string) {
    const dir = this.#link(name);
    return { fullchain: join(dir, 'fullchain.pem'), key: join(dir, 'privkey.pem'), meta: join(dir, 'meta.json') };
  }

  async putBundle(name: string, bundle: CertificateBundle): Promise<void> {
    const seg = pathSegment(canonicalName(name));
    const id = `${Date.now().toString(36)}-${randomBytes(4).toString('hex')}`;
    const versions = join(this.#certs, '.versions', seg);
    const dir = join(versions, id);
    const link = join(this.#certs, seg);
    try {
      await mkdir(dir, { recursive: true, mode: 0o700 });
      await atomicWrite(join(dir, 'privkey.pem'), bundle.keyPem, 0o600);
      await atomicWrite(join(dir, 'fullchain.pem'), bundle.certPem, 0o644);
      await atomicWrite(join(dir, 'meta.json'), JSON.stringify(bundle.meta, null, 2), 0o644);
      // The swap: a new symlink renamed over the old one is one atomic step.
      await atomicSymlink(join('.versions', seg, id), link);
    } catch (err) {
      await rm(dir, { recursive: true, force: true }).catch(() => {});
      throw storeError(err, `storing the certificate for ${name}`);
    }
    await this.#appendIndex(indexEntry(bundle.meta));
    // Old versions go once the new one is in place.
    for (const old of await readdir(versions).catch(() => [] as string[])) {
      if (old !== id) await rm(join(versions, old), { recursive: true, force: true });
    }
  }

  async #appendIndex(entry: IndexEntry | { name: string; deleted: true }): Promise<void> {
    await mkdir(this.#certs, { recursive: true });
    await appendFile(this.#index, `${JSON.stringify(entry)}\n`);
  }

  async getBundle(name: string): Promise<CertificateBundle | null> {
    const p = this.filePaths(name);
    try {
      const [certPem, keyPem, meta] = await Promise.all([readFile(p.fullchain, 'utf8'), readFile(p.key, 'utf8'), readFile(p.meta, 'utf8')]);
      return { certPem, keyPem, meta: JSON.parse(meta) as CertMeta };
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
      throw storeError(err, `reading the certificate for ${name}`);
    }
  }

  async updateMeta(name: string, meta: CertMeta): Promise<void> {
    const link = this.#link(name);
    const target = await readlink(link).catch(() => null);
    if (!target) return;
    await atomicWrite(join(this.#certs, target, 'meta.json'), JSON.stringify(meta, null, 2));
    await this.#appendIndex(indexEntry(meta));
  }

  async deleteBundle(name: string): Promise<void> {
    const seg = pathSegment(canonicalName(name));
    await unlink(join(this.#certs, seg)).catch(() => {});
    await rm(join(this.#certs, '.versions', seg), { recursive: true, force: true });
    await this.#appendIndex({ name: canonicalName(name), deleted: true });
  }

  /**
   * Reads the index (one line per write, the last one per name wins), and rebuilds it from the
   * bundles when it is missing. A torn last line (a crash mid-append) is skipped.
   */
  async scan(): Promise<IndexEntry[]> {
    let text: string;
    try {
      text = await readFile(this.#index, 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw storeError(err, 'reading the certificate index');
      return this.#rebuildIndex();
    }
    const latest = new Map<string, IndexEntry | null>();
    let lines = 0;
    for (const line of text.split('\n')) {
      if (!line) continue;
      lines++;
      try {
        const e = JSON.parse(line) as IndexEntry & { deleted?: boolean };
        latest.set(e.name, e.deleted ? null : e);
      } catch {
        // torn line
      }
    }
    const out = [...latest.values()].filter((e): e is IndexEntry => e !== null);
    if (lines > 2 * out.length + 1000) await this.#compact(out);
    return out;
  }

  async #compact(entries: IndexEntry[]): Promise<void> {
    await atomicWrite(this.#index, entries.map((e) => `${JSON.stringify(e)}\n`).join(''));
  }

  async #rebuildIndex(): Promise<IndexEntry[]> {
    const names = await readdir(this.#certs).catch(() => [] as string[]);
    const out: IndexEntry[] = [];
    for (const seg of names) {
      if (seg.startsWith('.') || seg === 'index.log') continue;
      const meta = await readJson<CertMeta>(join(this.#certs, seg, 'meta.json'));
      if (meta) out.push(indexEntry(meta));
    }
    if (out.length) await this.#compact(out);
    return out;
  }

  async getState(name: string): Promise<DomainState> {
    return (await readJson<DomainState>(join(this.root, 'state', `${pathSegment(canonicalName(name))}.json`))) ?? { ...EMPTY_STATE };
  }

  async putState(name: string, state: DomainState): Promise<void> {
    await atomicWrite(join(this.root, 'state', `${pathSegment(canonicalName(name))}.json`), JSON.stringify(state, null, 2));
  }

  async appendEvent(event: CertEvent): Promise<void> {
    const dir = join(this.root, 'events');
    await mkdir(dir, { recursive: true });
    await appendFile(join(dir, `${pathSegment(canonicalName(event.name))}.jsonl`), `${JSON.stringify(event)}\n`);
  }

  async readEvents(name?: string): Promise<CertEvent[]> {
    const dir = join(this.root, 'events');
    const files = name ? [`${pathSegment(canonicalName(name))}.jsonl`] : (await readdir(dir).catch(() => [] as string[])).filter((f) => f.endsWith('.jsonl'));
    const events: CertEvent[] = [];
    for (const f of files) {
      const text = await readFile(join(dir, f), 'utf8').catch(() => '');
      for (const line of text.split('\n')) {
        if (!line) continue;
        try {
          events.push(JSON.parse(line) as CertEvent);
        } catch {
          // torn line
        }
      }
    }
    return events.sort((a, b) => a.at.localeCompare(b.at));
  }

  #accountPath(directory: string): string {
    return join(this.root, 'accounts', `${createHash('sha256').update(directory).digest('hex').slice(0, 16)}.json`);
  }

  getAccount(directory: string): Promise<AccountRecord | null> {
    return readJson<AccountRecord>(this.#accountPath(directory));
  }

  async putAccount(record: AccountRecord): Promise<void> {
    await atomicWrite(this.#accountPath(record.directory), JSON.stringify(record, null, 2), 0o600);
  }

  getDocument<T>(key: string): Promise<T | null> {
    return readJson<T>(join(this.root, 'docs', `${key.replace(/[^a-z0-9-]/gi, '_')}.json`));
  }

  async putDocument<T>(key: string, value: T): Promise<void> {
    await atomicWrite(join(this.root, 'docs', `${key.replace(/[^a-z0-9-]/gi, '_')}.json`), JSON.stringify(value, null, 2));
  }
}

export interface FsLockerOptions {
  root: string;
  /** A lock whose holder stopped refreshing it this long ago is taken over (default 2 min). */
  staleMs?: number;
  pollMs?: number;
  /** Give up waiting after this long (default 10 min). */
  timeoutMs?: number;
}

/** File locks: `locks/<key>.lock` created exclusively, refreshed while held, taken over when stale. */
export class FsLocker implements Locker {
  readonly #dir: string;
  readonly #stale: number;
  readonly #poll: number;
  readonly #timeout: number;

  constructor(options: FsLockerOptions) {
    this.#dir = join(options.root, 'locks');
    this.#stale = options.staleMs ?? 120_000;
    this.#poll = options.pollMs ?? 50;
    this.#timeout = options.timeoutMs ?? 600_000;
  }

  async lock(key: string, signal?: AbortSignal): Promise<() => Promise<void>> {
    await mkdir(this.#dir, { recursive: true });
    const path = join(this.#dir, `${key.replace(/[^a-z0-9._-]/gi, '_')}.lock`);
    const deadline = Date.now() + this.#timeout;
    for (;;) {
      signal?.throwIfAborted();
      try {
        const fh = await open(path, 'wx');
        const at = new Date();
        try {
          await fh.writeFile(JSON.stringify({ pid: process.pid, host: hostname(), at: at.toISOString() }));
        } catch (err) {
          // An empty lock file (a full disk) would look held by nobody until it went stale.
          await fh.close().catch(() => {});
          await rm(path, { force: true });
          throw err;
        }
        await fh.close();
        // its age is read against this process's clock (Date.now() below), so stamp it with that clock
        // too, not the filesystem's (another host's clock on a network filesystem)
        await utimes(path, at, at);
        const timer = setInterval(
          () => {
            const now = new Date();
            void utimes(path, now, now).catch(() => {});
          },
          Math.max(1000, this.#stale / 3),
        );
        timer.unref();
        return async () => {
          clearInterval(timer);
          await rm(path, { force: true });
        };
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw storeError(err, `taking the lock ${key}`);
      }
      const st = await stat(path).catch(() => null);
      if (st && Date.now() - st.mtimeMs > this.#stale) {
        await rm(path, { force: true }); // its holder died without releasing it
        continue;
      }
      if (Date.now() > deadline)
        throw new CertgateError(
          'E_LOCK_TIMEOUT',
          `waited ${this.#timeout} ms for the lock ${key}`,
          `another certgate is working on it; if none runs, remove ${path}`,
        );
      await new Promise((r) => setTimeout(r, this.#poll));
    }
  }
}
