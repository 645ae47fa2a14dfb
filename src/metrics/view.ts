/**
 * @module metrics/view
 * The certificates as metrics and alerts see them, kept in memory: loaded once from the store
 * (its index and each name's state), then refreshed name by name when an event says a name
 * changed. A scrape or an alert check reads this view and never scans storage.
 */

import { dueAt } from '../maintenance/maintainer.ts';
import { indexEntryOf } from '../store/meta.ts';
import type { CertEvent, DomainState, Store } from '../store/store.ts';

/** What a name is, in cert-manager's words where they fit: valid, renewing, failing, needs_action. */
export type ReadyState = 'valid' | 'renewing' | 'failing' | 'needs_action';
export const READY_STATES: readonly ReadyState[] = ['valid', 'renewing', 'failing', 'needs_action'];

export interface NameView {
  name: string;
  /** Milliseconds since the epoch; null while the name has no certificate. */
  notBefore: number | null;
  notAfter: number | null;
  /** When maintenance renews it (ARI window, a third of the lifetime). */
  renewalAt: number | null;
  attempts: number;
  /** The last attempt failed (and no certificate has been obtained since). */
  failing: boolean;
  /** Stopped retrying (attempts exhausted): waits for the operator. */
  flagged: boolean;
  lastError: DomainState['lastError'];
}

/**
 * valid: a certificate before its renewal point; renewing: inside its renewal window (or being
 * obtained); failing: the last attempt failed and certgate retries; needs_action: attempts
 * exhausted, or the certificate has expired.
 */
export function readyState(v: NameView, now: number): ReadyState {
  if (v.flagged || (v.notAfter !== null && v.notAfter <= now)) return 'needs_action';
  if (v.failing) return 'failing';
  // No certificate yet and no failure: being obtained.
  if (v.notAfter === null || (v.renewalAt !== null && now >= v.renewalAt)) return 'renewing';
  return 'valid';
}

export interface CertificateViewOptions {
  store: Store;
  /** Renew this long before expiry (as maintenance is configured); default a third of the lifetime. */
  renewBeforeMs?: number;
  /** Told after a name's entry changed (alerts check it then). */
  onChange?: (entry: NameView | null, name: string) => void;
}

/** Events that say nothing about a name's certificate or state: no refresh. */
const QUIET = new Set<CertEvent['type']>(['renewal_due', 'renewal_skipped', 'main_domain_set', 'main_domain_released']);

export class CertificateView {
  readonly #o: CertificateViewOptions;
  readonly #names = new Map<string, NameView>();
  readonly #dirty = new Set<string>();
  #flushing: Promise<void> | null = null;
  #loaded = false;

  constructor(options: CertificateViewOptions) {
    this.#o = options;
  }

  get size(): number {
    return this.#names.size;
  }

  get loaded(): boolean {
    return this.#loaded;
  }

  entries(): IterableIterator<NameView> {
    return this.#names.values();
  }

  get(name: string): NameView | undefined {
    return this.#names.get(name);
  }

  /** Reads every stored certificate's index entry and state. */
  async load(): Promise<void> {
    const { store } = this.#o;
    const entries = await store.scan();
    // States are read a few at a time: 10,000 names are 10,000 small reads.
    const states = new Array<DomainState>(entries.length);
    let next = 0;
    await Promise.all(
      Array.from({ length: Math.min(16, entries.length) }, async () => {
        while (next < entries.length) {
          const i = next++;
          states[i] = await store.getState((entries[i] as (typeof entries)[number]).name);
        }
      }),
    );
    for (const [i, e] of entries.entries()) {
      const state = states[i] as DomainState;
      this.#names.set(e.name, {
        name: e.name,
        notBefore: Date.parse(e.notBefore),
        notAfter: Date.parse(e.notAfter),
        renewalAt: dueAt(e, this.#o.renewBeforeMs).at,
        attempts: state.attempts,
        failing: state.lastError !== null,
        flagged: state.flagged,
        lastError: state.lastError,
      });
    }
    this.#loaded = true;
    for (const v of this.#names.values()) this.#o.onChange?.(v, v.name);
  }

  /** An event happened for a name: its entry is read again soon (coalesced). Never throws, never waits. */
  onEvent(event: CertEvent): void {
    if (QUIET.has(event.type) || !event.name) return;
    this.#dirty.add(event.name);
    this.#flushing ??= new Promise<void>((resolve) => setImmediate(resolve)).then(() => this.#flush());
  }

  /** Resolves when every refresh asked for so far is done (tests, and a scrape right after an event). */
  async settled(): Promise<void> {
    while (this.#flushing) await this.#flushing;
  }

  async #flush(): Promise<void> {
    try {
      while (this.#dirty.size) {
        const batch = [...this.#dirty];
        this.#dirty.clear();
        for (const name of batch) await this.#refresh(name).catch(() => {});
      }
    } finally {
      this.#flushing = null;
    }
  }

  async #refresh(name: string): Promise<void> {
    const { store } = this.#o;
    const [bundle, state] = await Promise.all([store.getBundle(name), store.getState(name)]);
    const registered = bundle !== null || state.attempts > 0 || state.lastError !== null;
    if (!registered) {
      // A name without a certificate or an attempt (removed, or only registered): no series.
      if (this.#names.delete(name)) this.#o.onChange?.(null, name);
      return;
    }
    const meta = bundle?.meta;
    const entry: NameView = {
      name,
      notBefore: meta ? Date.parse(meta.notBefore) : null,
      notAfter: meta ? Date.parse(meta.notAfter) : null,
      renewalAt: meta ? dueAt(indexEntryOf(meta, name), this.#o.renewBeforeMs).at : null,
      attempts: state.attempts,
      failing: state.lastError !== null,
      flagged: state.flagged,
      lastError: state.lastError,
    };
    this.#names.set(name, entry);
    this.#o.onChange?.(entry, name);
  }
}
