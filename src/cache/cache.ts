/**
 * @module cache/cache
 * Certificates in memory for the handshake path: exact name, then wildcard. Secure contexts
 * are built on first use and kept in a bounded LRU, so 100,000 names cost their PEM text, not
 * 100,000 OpenSSL contexts.
 */
import { createSecureContext, type SecureContext } from 'node:tls';
import type { CertificateBundle } from '../store/store.ts';

export interface CacheOptions {
  /** Secure contexts kept built (default 10,000). */
  maxContexts?: number;
}

interface Entry {
  bundle: CertificateBundle;
  notAfter: number;
}

export class CertCache {
  readonly #entries = new Map<string, Entry>();
  /** Every name a certificate covers (its SANs) → the entry that serves it. */
  readonly #index = new Map<string, string>();
  /** Insertion order = recency: a Map is an LRU when hits are re-inserted. */
  readonly #contexts = new Map<string, SecureContext>();
  readonly #max: number;

  constructor(options: CacheOptions = {}) {
    this.#max = options.maxContexts ?? 10_000;
  }

  get size(): number {
    return this.#entries.size;
  }

  get contextCount(): number {
    return this.#contexts.size;
  }

  put(name: string, bundle: CertificateBundle): void {
    this.#unindex(name);
    this.#entries.set(name, { bundle, notAfter: Date.parse(bundle.meta.notAfter) });
    this.#contexts.delete(name);
    for (const n of bundle.meta.names ?? []) {
      const key = n.toLowerCase();
      if (key !== name) this.#index.set(key, name);
    }
  }

  delete(name: string): void {
    this.#unindex(name);
    this.#entries.delete(name);
    this.#contexts.delete(name);
  }

  #unindex(name: string): void {
    for (const n of this.#entries.get(name)?.bundle.meta.names ?? []) {
      const key = n.toLowerCase();
      if (this.#index.get(key) === name) this.#index.delete(key);
    }
  }

  get(name: string): CertificateBundle | undefined {
    return this.#entries.get(name)?.bundle;
  }

  /**
   * The name whose certificate serves `servername`: exact (a certificate stored under that
   * name, then one that lists it among its names), then wildcard. (No SNI, or no match: the
   * edge decides, with the server's default certificate or on demand.)
   */
  resolve(servername: string | undefined, now = Date.now()): string | null {
    const n = (servername ?? '').toLowerCase();
    if (!n) return null;
    const fresh = (k: string) => {
      let e = this.#entries.get(k);
      if (e && e.notAfter > now) return k;
      const other = this.#index.get(k);
      e = other === undefined ? undefined : this.#entries.get(other);
      return e && e.notAfter > now ? (other as string) : null;
    };
    const exact = fresh(n);
    if (exact) return exact;
    const dot = n.indexOf('.');
    return dot > 0 ? fresh(`*.${n.slice(dot + 1)}`) : null;
  }

  /** The secure context for a stored name, built once and kept while recently used. */
  context(name: string): SecureContext | undefined {
    const hit = this.#contexts.get(name);
    if (hit) {
      this.#contexts.delete(name);
      this.#contexts.set(name, hit);
      return hit;
    }
    const e = this.#entries.get(name);
    if (!e) return undefined;
    const ctx = createSecureContext({ cert: e.bundle.certPem, key: e.bundle.keyPem });
    this.#contexts.set(name, ctx);
    if (this.#contexts.size > this.#max) {
      const oldest = this.#contexts.keys().next().value as string;
      this.#contexts.delete(oldest);
    }
    return ctx;
  }

  names(): string[] {
    return [...this.#entries.keys()];
  }
}
