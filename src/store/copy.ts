/**
 * @module store/copy
 * Copies a store to another through the Storage interface only, so it works between any pair of
 * backends (filesystem, PostgreSQL): every key under the repository's prefixes, a certificate's
 * files as one group (a reader of the target never sees a certificate with the wrong key), the
 * index last. Values are copied byte for byte: an encrypted key stays the same envelope (the
 * copy needs no store key, and the target needs the same key as the source). Afterwards the
 * target is read back and compared, key by key, by SHA-256.
 */
import { createHash } from 'node:crypto';
import { CertgateError } from '../errors.ts';
import { isPrivateKey, STORE_PREFIXES } from './repository.ts';
import type { Locker, Storage } from './storage.ts';

export interface CopyOptions {
  /** Make a non-empty target an exact copy: its keys are overwritten, those the source lacks removed. */
  force?: boolean;
  /** Target locker: one copy into a target at a time. */
  locker?: Locker;
  signal?: AbortSignal;
  /** Names the ends in messages. */
  from?: string;
  to?: string;
}

export interface CopyReport {
  /** Keys copied, per prefix (certificates counts files, index included). */
  keys: Record<string, number>;
  /** Certificates (groups) copied. */
  certificates: number;
  bytes: number;
  /** Keys of the target that the source lacks, removed (with force). */
  removed: number;
  /** The target read back equals the source: same keys, same SHA-256 of every value. */
  verified: boolean;
  /** What differed after the copy (a concurrent writer on either end). */
  differences: Array<{ key: string; problem: 'missing' | 'extra' | 'different' }>;
  /** SHA-256 over every (key, SHA-256 of its value) of the source, sorted: equal digests, equal stores. */
  digest: string;
}

const INDEX = 'certificates/index.log';
const CONCURRENCY = 8;

async function keysOf(storage: Storage): Promise<string[]> {
  const out: string[] = [];
  for (const p of STORE_PREFIXES) out.push(...(await storage.list(p, true)));
  return out.sort();
}

function sha256(b: Uint8Array): string {
  return createHash('sha256').update(b).digest('hex');
}

/** The certificate group a key belongs to (`certificates/<name>`), or null. */
function groupOf(key: string): string | null {
  const m = /^(certificates\/[^/]+)\/[^/]+$/.exec(key);
  return m ? (m[1] as string) : null;
}

/** The digest of a store: SHA-256 over its sorted keys and their values' SHA-256. */
export async function storeDigest(storage: Storage): Promise<{ digest: string; hashes: Map<string, string> }> {
  const hashes = new Map<string, string>();
  for (const key of await keysOf(storage)) {
    const v = await storage.load(key);
    if (v !== null) hashes.set(key, sha256(v));
  }
  const h = createHash('sha256');
  for (const [k, v] of hashes) h.update(`${k}\0${v}\n`);
  return { digest: h.digest('hex'), hashes };
}

export async function copyStore(source: Storage, target: Storage, options: CopyOptions = {}): Promise<CopyReport> {
  const release = options.locker ? await options.locker.lock('store-copy', options.signal ? { signal: options.signal } : {}) : null;
  try {
    const existing = await keysOf(target);
    if (existing.length && !options.force)
      throw new CertgateError(
        'E_STORE_NOT_EMPTY',
        `${options.to ?? 'the target store'} is not empty (${existing.length} keys, e.g. ${existing[0]}); nothing was copied`,
        'copy into an empty store, or pass --force to make the target an exact copy of the source (its other certificates, state and events are removed)',
      );
    const keys = await keysOf(source);
    const report: CopyReport = { keys: {}, certificates: 0, bytes: 0, removed: 0, verified: false, differences: [], digest: '' };
    const count = (key: string, size: number) => {
      const p = key.split('/')[0] as string;
      report.keys[p] = (report.keys[p] ?? 0) + 1;
      report.bytes += size;
    };
    const groups = new Map<string, string[]>();
    const singles: string[] = [];
    for (const key of keys) {
      const g = key === INDEX ? null : groupOf(key);
      if (g) groups.set(g, [...(groups.get(g) ?? []), key]);
      else if (key !== INDEX) singles.push(key);
    }
    const copyGroup = async ([prefix, members]: [string, string[]]) => {
      options.signal?.throwIfAborted();
      const files: Record<string, { value: Buffer; private?: boolean }> = {};
      for (const key of members) {
        const v = await source.load(key);
        if (v === null) continue; // gone since listed: the verification says so
        files[key.slice(prefix.length + 1)] = { value: v, ...(isPrivateKey(key) ? { private: true } : {}) };
        count(key, v.length);
      }
      if (Object.keys(files).length === 0) return;
      await target.storeGroup(prefix, files);
      report.certificates++;
    };
    const copyOne = async (key: string) => {
      options.signal?.throwIfAborted();
      const v = await source.load(key);
      if (v === null) return;
      await target.store(key, v, isPrivateKey(key) ? { private: true } : {});
      count(key, v.length);
    };
    // A few keys at once: each write waits on fsync (or a database round trip), not on the CPU.
    const entries = [...groups];
    for (let i = 0; i < entries.length; i += CONCURRENCY) await Promise.all(entries.slice(i, i + CONCURRENCY).map(copyGroup));
    for (let i = 0; i < singles.length; i += CONCURRENCY) await Promise.all(singles.slice(i, i + CONCURRENCY).map(copyOne));
    // The index last: a scan of the target never names a certificate that is not there yet.
    const index = await source.load(INDEX);
    if (index !== null) {
      await target.store(INDEX, index);
      count(INDEX, index.length);
    }
    if (options.force) {
      const want = new Set(keys);
      const gone = new Set<string>();
      for (const key of existing) {
        if (want.has(key)) continue;
        const g = groupOf(key);
        // A whole group the source lacks goes as one; a stray file in a copied group went with the storeGroup.
        if (g && key !== INDEX && groups.has(g)) continue;
        gone.add(g && key !== INDEX ? g : key);
      }
      for (const key of gone) await target.delete(key);
      report.removed = existing.filter((k) => !want.has(k)).length;
    }
    const [a, b] = await Promise.all([storeDigest(source), storeDigest(target)]);
    report.digest = a.digest;
    for (const [key, hash] of a.hashes) {
      const other = b.hashes.get(key);
      if (other === undefined) report.differences.push({ key, problem: 'missing' });
      else if (other !== hash) report.differences.push({ key, problem: 'different' });
    }
    for (const key of b.hashes.keys()) if (!a.hashes.has(key)) report.differences.push({ key, problem: 'extra' });
    report.verified = report.differences.length === 0;
    return report;
  } finally {
    await release?.();
  }
}
