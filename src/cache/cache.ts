/**
 * @module cache/cache
 * Certificates in memory for the handshake path: exact name, then wildcard. A name holds one
 * certificate, or two of different key algorithms (an ECDSA and an RSA one, as nginx can serve):
 * OpenSSL then picks per client by the signature algorithms it offers. Secure contexts are built
 * on first use and kept in a bounded LRU, so 100,000 names cost their PEM text, not 100,000
 * OpenSSL contexts.
 */
import { createPrivateKey } from 'node:crypto';
import { createSecureContext, type SecureContext } from 'node:tls';
import { CertgateError } from '../errors.ts';
import type { CertificateBundle } from '../store/store.ts';

export interface CacheOptions {
  /** Secure contexts kept built (default 10,000). */
  maxContexts?: number;
}

/** The certificate slots a TLS connection has, one per key algorithm (OpenSSL's, as a bit set). */
export const SLOT_ECDSA = 1;
export const SLOT_RSA = 2;

export type KeyAlgorithm = 'ecdsa' | 'rsa';

/**
 * What a handshake for one name needs: one secure context per key algorithm (Node moves a single
 * certificate into the connection per context), and which slots they fill.
 */
export interface NameContexts {
  /** The ECDSA one when the name has both. */
  main: SecureContext;
  /** The second algorithm's, or null. */
  alt: SecureContext | null;
  /** SLOT_ECDSA | SLOT_RSA bits. */
  slots: number;
}

interface Entry {
  bundle: CertificateBundle;
  /** The other key algorithm's certificate for the same name, when it holds two. */
  alt: CertificateBundle | undefined;
  notAfter: number;
}

/** The key algorithm of a bundle: from its key type (`ec-p256`, `rsa-2048`), else from its key. */
export function keyAlgorithm(bundle: CertificateBundle): KeyAlgorithm {
  const kt = bundle.meta.keyType ?? '';
  if (kt.startsWith('ec-')) return 'ecdsa';
  if (kt.startsWith('rsa-')) return 'rsa';
  const t = createPrivateKey(bundle.keyPem).asymmetricKeyType;
  if (t === 'ec') return 'ecdsa';
  if (t === 'rsa') return 'rsa';
  throw new CertgateError(
    'E_OPTION',
    `the certificate for ${bundle.meta.name} has a ${t} key, which the edge does not serve`,
    'obtain it with an ECDSA or RSA key (--key-type ec-p256, ec-p384, rsa-2048, rsa-3072 or rsa-4096)',
  );
}

export function slotOf(algorithm: KeyAlgorithm): number {
  return algorithm === 'ecdsa' ? SLOT_ECDSA : SLOT_RSA;
}

/** Orders one or two bundles ECDSA first; two of one algorithm are refused. */
function arrange(name: string, bundles: readonly CertificateBundle[]): { bundle: CertificateBundle; alt: CertificateBundle | undefined } {
  const [a, b, ...rest] = bundles;
  if (!a || rest.length)
    throw new CertgateError(
      'E_OPTION',
      `a name holds one or two certificates, ${bundles.length} were given for ${name}`,
      'pass one ECDSA and/or one RSA certificate',
    );
  if (!b) return { bundle: a, alt: undefined };
  const ka = keyAlgorithm(a);
  if (ka === keyAlgorithm(b))
    throw new CertgateError(
      'E_OPTION',
      `both certificates given for ${name} have ${ka === 'ecdsa' ? 'ECDSA' : 'RSA'} keys`,
      'a name holds at most one certificate per key algorithm: one ECDSA and one RSA',
    );
  return ka === 'ecdsa' ? { bundle: a, alt: b } : { bundle: b, alt: a };
}

export class CertCache {
  readonly #entries = new Map<string, Entry>();
  /** Every name a certificate covers (its SANs) → the entry that serves it. */
  readonly #index = new Map<string, string>();
  /** Insertion order = recency: a Map is an LRU when hits are re-inserted. */
  readonly #contexts = new Map<string, NameContexts>();
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

  /**
   * The certificates `name` holds from now on, replacing what it held: one, or an ECDSA and an
   * RSA one (in any order). Clients get the ECDSA one unless they support only RSA.
   * @example
   * cache.put('app.example.com', bundle);
   * cache.put('app.example.com', [ecdsaBundle, rsaBundle]);
   */
  put(name: string, bundles: CertificateBundle | readonly CertificateBundle[]): void {
    const { bundle, alt } = arrange(name, Array.isArray(bundles) ? bundles : [bundles as CertificateBundle]);
    this.#unindex(name);
    const notAfter = Math.max(Date.parse(bundle.meta.notAfter), alt ? Date.parse(alt.meta.notAfter) : 0);
    this.#entries.set(name, { bundle, alt, notAfter });
    this.#contexts.delete(name);
    for (const b of alt ? [bundle, alt] : [bundle])
      for (const n of b.meta.names ?? []) {
        const key = n.toLowerCase();
        if (key !== name) this.#index.set(key, name);
      }
  }

  /**
   * Adds or replaces the certificate of `bundle`'s key algorithm and keeps the name's other one:
   * for a name that holds both, a renewal of one must not drop the other.
   */
  putAlongside(name: string, bundle: CertificateBundle): void {
    const algorithm = keyAlgorithm(bundle);
    this.put(name, [bundle, ...this.bundles(name).filter((b) => keyAlgorithm(b) !== algorithm)]);
  }

  delete(name: string): void {
    this.#unindex(name);
    this.#entries.delete(name);
    this.#contexts.delete(name);
  }

  #unindex(name: string): void {
    const e = this.#entries.get(name);
    if (!e) return;
    for (const b of e.alt ? [e.bundle, e.alt] : [e.bundle])
      for (const n of b.meta.names ?? []) {
        const key = n.toLowerCase();
        if (this.#index.get(key) === name) this.#index.delete(key);
      }
  }

  /** The name's certificate (its ECDSA one when it holds two). */
  get(name: string): CertificateBundle | undefined {
    return this.#entries.get(name)?.bundle;
  }

  /** Every certificate the name holds, ECDSA first (empty when none). */
  bundles(name: string): CertificateBundle[] {
    const e = this.#entries.get(name);
    if (!e) return [];
    return e.alt ? [e.bundle, e.alt] : [e.bundle];
  }

  /** Whether the name holds exactly these certificates (the same objects), in the cache's order. */
  holds(name: string, bundle: CertificateBundle, alt: CertificateBundle | undefined): boolean {
    const e = this.#entries.get(name);
    return e !== undefined && e.bundle === bundle && e.alt === alt;
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

  /** The secure contexts for a stored name, built once and kept while recently used. */
  context(name: string, now = Date.now()): NameContexts | undefined {
    const hit = this.#contexts.get(name);
    if (hit) {
      this.#contexts.delete(name);
      this.#contexts.set(name, hit);
      return hit;
    }
    const e = this.#entries.get(name);
    if (!e) return undefined;
    // Of two certificates, one that has expired is left out (the other still serves the name).
    const live = e.alt ? [e.bundle, e.alt].filter((b) => Date.parse(b.meta.notAfter) > now) : [e.bundle];
    const [first = e.bundle, second] = live;
    const built: NameContexts = {
      main: createSecureContext({ cert: first.certPem, key: first.keyPem }),
      alt: second ? createSecureContext({ cert: second.certPem, key: second.keyPem }) : null,
      slots: slotOf(keyAlgorithm(first)) | (second ? slotOf(keyAlgorithm(second)) : 0),
    };
    this.#contexts.set(name, built);
    if (this.#contexts.size > this.#max) {
      const oldest = this.#contexts.keys().next().value as string;
      this.#contexts.delete(oldest);
    }
    return built;
  }

  names(): string[] {
    return [...this.#entries.keys()];
  }
}
