/**
 * @module store/storage
 * The storage seam, certmagic's shape: a small key-value interface with directory semantics,
 * and a Locker. A backend (filesystem, PostgreSQL) implements only this and passes the shared
 * contract suite (test/store/contract.ts); everything domain-shaped (bundles, state, events,
 * accounts) is written once above it, in the repository.
 *
 * Keys are `/`-separated paths of safe segments (`certificates/example.com/fullchain.pem`). A
 * key is a leaf; its prefixes are directories, which exist while something is under them.
 */
import { CertgateError } from '../errors.ts';

export interface KeyInfo {
  key: string;
  size: number;
  modified: Date;
}

export interface Storage {
  /** Writes one key atomically: a reader sees the old value or the new one, never part of one. */
  store(key: string, value: string | Uint8Array, options?: { private?: boolean }): Promise<void>;
  /** The value, or null when the key does not exist. */
  load(key: string): Promise<Buffer | null>;
  /** Removes a key, or a directory and everything under it. Absent keys are fine. */
  delete(key: string): Promise<void>;
  exists(key: string): Promise<boolean>;
  stat(key: string): Promise<KeyInfo | null>;
  /**
   * The keys under a directory: its direct children (leaves and directories) or, `recursive`,
   * every leaf below it. Sorted. An absent directory lists nothing.
   */
  list(prefix: string, recursive: boolean): Promise<string[]>;
  /**
   * Replaces everything under `prefix` with `files` (names relative to it) as one step: a reader
   * sees the whole old set or the whole new one (a certificate never with the wrong key).
   */
  storeGroup(prefix: string, files: Record<string, { value: string | Uint8Array; private?: boolean }>, condition?: WriteCondition): Promise<void>;
  /** Appends text to a key (a log); concurrent appends of whole lines do not interleave. */
  append(key: string, text: string): Promise<void>;
  /** Where an outside tool can read a key as a file, when the backend has files. */
  pathOf?(key: string): string;
  /**
   * Refuses early when a write of about `bytes` cannot succeed (a full disk, a read-only
   * store), so that nothing is asked of a CA whose answer could not be kept.
   */
  checkWritable(bytes: number): Promise<void>;
  /**
   * Removes what a writer killed mid-write left behind (temp files, versions never swapped in),
   * when older than `olderThanMs` so a live writer's work is never touched. Backends whose
   * writes are transactions have nothing to sweep and leave it out.
   */
  sweep?(olderThanMs?: number): Promise<string[]>;
}

export interface LockOptions {
  signal?: AbortSignal;
  /** Told once when the lock is held by someone else, with who holds it. */
  onWait?: (holder: LockHolder | null) => void;
}

export interface LockHolder {
  pid: number | null;
  host: string | null;
  since: string | null;
}

/**
 * A write made only while a lock is still held with this fence (a lease that lapsed, then was
 * taken by another node, has a lower fence than the lock's): otherwise refused with E_FENCED
 * and nothing written. A backend without fences (the filesystem: one host) ignores it.
 */
export interface WriteCondition {
  lock: string;
  fence: number;
}

/**
 * Gives the lock back. A backend with leases also says which fence it holds (a number that
 * only grows per lock, never reset) and aborts `lost` when the lease lapsed under the holder.
 */
export type Release = (() => Promise<void>) & { fence?: number; lost?: AbortSignal };

export interface Locker {
  /** Takes the named lock, waiting as long as needed (or until the signal aborts). The lease is renewed while held. */
  lock(key: string, options?: LockOptions | AbortSignal): Promise<Release>;
  /** Takes the lock if it is free now; null when someone holds it. */
  tryLock(key: string): Promise<Release | null>;
}

/** Keys are made of these segments only: no traversal, no surprises on any backend. */
export const SEGMENT = /^[A-Za-z0-9_*][A-Za-z0-9._*@+=-]{0,254}$/;

export function checkKey(key: string): string {
  const parts = key.split('/');
  if (!key || parts.some((p) => !SEGMENT.test(p) || p === '.' || p === '..'))
    throw new CertgateError('E_STORE', `storage key "${key.slice(0, 80)}" is not a safe path`, 'this is a bug in certgate: report it');
  return key;
}

/**
 * Lock's wait, the same for every backend: try, say once who holds it, give up after
 * `timeoutMs` with `fix`, and sleep `pollMs` between tries (an abort ends the sleep at once).
 */
export async function waitForLock(
  key: string,
  options: LockOptions | AbortSignal,
  how: { tryLock(): Promise<Release | null>; holder(): Promise<LockHolder | null>; timeoutMs: number; pollMs: number; fix: string },
): Promise<Release> {
  const o: LockOptions = options instanceof AbortSignal ? { signal: options } : options;
  const deadline = Date.now() + how.timeoutMs;
  let told = false;
  for (;;) {
    o.signal?.throwIfAborted();
    const got = await how.tryLock();
    if (got) return got;
    if (!told) {
      told = true;
      o.onWait?.(await how.holder());
    }
    if (Date.now() > deadline) throw new CertgateError('E_LOCK_TIMEOUT', `waited ${how.timeoutMs} ms for the lock ${key}`, how.fix);
    await new Promise<void>((resolve, reject) => {
      const signal = o.signal;
      const abort = () => {
        clearTimeout(t);
        reject(signal?.reason);
      };
      const t = setTimeout(() => {
        signal?.removeEventListener('abort', abort);
        resolve();
      }, how.pollMs);
      signal?.addEventListener('abort', abort, { once: true });
    });
  }
}
