/**
 * @module admin/certificates
 * The certificates as the operator sees them: one state per name (valid, renewing, failing,
 * needs action), the renewal point measured against each certificate's own lifetime (ARI or
 * the last third: a 6-day certificate at day 3 is fine), and for one name the chain, the
 * attempts, the CA's last problem as it sent it and in plain words, and the next try.
 * The list reads the index and the state files only: no bundle is opened for a list.
 */

import diagnosticsChannel from 'node:diagnostics_channel';
import { EVENT_CHANNEL } from '../events.ts';
import { dueAt } from '../maintenance/maintainer.ts';
import { decodeCertificate } from '../pki/certificate.ts';
import { parsePem } from '../pki/pem.ts';
import { indexEntryOf } from '../store/meta.ts';
import type { Repository } from '../store/repository.ts';
import { type CertEvent, type DomainState, EMPTY_STATE, type IndexEntry } from '../store/store.ts';

export const CERT_STATES = ['valid', 'renewing', 'failing', 'needs-action'] as const;
export type CertState = (typeof CERT_STATES)[number];

export interface CertificateRow {
  name: string;
  state: CertState;
  /** Why this state, in words. */
  summary: string;
  notBefore: string | null;
  notAfter: string | null;
  /** When renewal starts (ARI window point, or two thirds into the lifetime). */
  renewFrom: string | null;
  renewalWindow: 'ari' | 'third' | 'fixed' | null;
  /** Share of the lifetime left, 0..1 (null without a certificate). */
  lifeLeft: number | null;
  attempts: number;
  lastError: DomainState['lastError'];
  nextAttemptAt: string | null;
}

function stateOf(
  entry: IndexEntry | null,
  s: DomainState,
  now: number,
): { state: CertState; summary: string; renewFrom: number | null; window: CertificateRow['renewalWindow'] } {
  const d = entry ? dueAt(entry) : null;
  if (s.flagged)
    return {
      state: 'needs-action',
      summary: `stopped after ${s.attempts} failed attempts: fix the cause, then retry`,
      renewFrom: d?.at ?? null,
      window: d?.window ?? null,
    };
  if (entry && Date.parse(entry.notAfter) <= now)
    return { state: 'needs-action', summary: `expired on ${entry.notAfter}`, renewFrom: d?.at ?? null, window: d?.window ?? null };
  if (s.lastError)
    return {
      state: 'failing',
      summary: `${s.attempts} failed attempt${s.attempts === 1 ? '' : 's'}; next try ${s.nextAttemptAt ?? 'at the next maintenance cycle'}`,
      renewFrom: d?.at ?? null,
      window: d?.window ?? null,
    };
  if (!entry || !d) return { state: 'renewing', summary: 'no certificate yet: it is being obtained', renewFrom: null, window: null };
  if (d.at <= now) return { state: 'renewing', summary: 'inside its renewal window: renewal is due', renewFrom: d.at, window: d.window };
  return { state: 'valid', summary: `valid; renewal from ${new Date(d.at).toISOString()}`, renewFrom: d.at, window: d.window };
}

function rowOf(name: string, entry: IndexEntry | null, s: DomainState, now: number): CertificateRow {
  const st = stateOf(entry, s, now);
  const nb = entry ? Date.parse(entry.notBefore) : Number.NaN;
  const na = entry ? Date.parse(entry.notAfter) : Number.NaN;
  const life = na - nb;
  return {
    name,
    state: st.state,
    summary: st.summary,
    notBefore: entry?.notBefore ?? null,
    notAfter: entry?.notAfter ?? null,
    renewFrom: st.renewFrom === null ? null : new Date(st.renewFrom).toISOString(),
    renewalWindow: st.window,
    lifeLeft: entry && life > 0 ? Math.max(0, Math.min(1, (na - now) / life)) : null,
    attempts: s.attempts,
    lastError: s.lastError,
    nextAttemptAt: s.nextAttemptAt,
  };
}

async function readStates(store: Repository, names: readonly string[], into: Map<string, DomainState>): Promise<void> {
  // In batches: every issued name has a state file, and 10,000 reads at once would exhaust file handles.
  for (let i = 0; i < names.length; i += 64) await Promise.all(names.slice(i, i + 64).map(async (n) => into.set(n, await store.getState(n))));
}

/**
 * Every name's state, read once and then kept fresh by the event path: an event for a name
 * (every state change comes with one) marks it to be read again, now and a second later (a
 * local failure's event comes just before its state is written). Changes this process cannot
 * see (another worker's, another node's) are picked up by a full read every `ttlMs`.
 */
export class StateCache {
  readonly #store: Repository;
  readonly #ttlMs: number;
  #states: Map<string, DomainState> | null = null;
  #loadedAt = 0;
  #loading: Promise<Map<string, DomainState>> | null = null;
  readonly #dirty = new Set<string>();
  readonly #listener = (m: unknown) => {
    const name = (m as CertEvent).name;
    this.#dirty.add(name);
    setTimeout(() => this.#dirty.add(name), 1000).unref();
  };

  constructor(store: Repository, options: { ttlMs?: number } = {}) {
    this.#store = store;
    this.#ttlMs = options.ttlMs ?? 60_000;
    diagnosticsChannel.subscribe(EVENT_CHANNEL, this.#listener);
  }

  async get(): Promise<Map<string, DomainState>> {
    if (!this.#states || Date.now() - this.#loadedAt > this.#ttlMs) {
      this.#loading ??= (async () => {
        this.#dirty.clear();
        const fresh = new Map<string, DomainState>();
        await readStates(this.#store, await this.#store.statedNames(), fresh);
        this.#states = fresh;
        this.#loadedAt = Date.now();
        return fresh;
      })().finally(() => {
        this.#loading = null;
      });
      return this.#loading;
    }
    if (this.#dirty.size) {
      const names = [...this.#dirty];
      this.#dirty.clear();
      await readStates(this.#store, names, this.#states);
    }
    return this.#states;
  }

  /**
   * The index a scan reads, parsed again only when its file changed: it is appended to at every
   * write of a bundle (and rewritten whole when compacted), so its size and time say when.
   */
  async entries(): Promise<IndexEntry[]> {
    const info = await this.#store.storage.stat('certificates/index.log');
    const stamp = info ? `${info.size}:${info.modified.getTime()}` : null;
    if (stamp && this.#index && this.#index.stamp === stamp) return this.#index.entries;
    const entries = await this.#store.scan();
    this.#index = stamp ? { stamp, entries } : null;
    return entries;
  }

  #index: { stamp: string; entries: IndexEntry[] } | null = null;

  close(): void {
    diagnosticsChannel.unsubscribe(EVENT_CHANNEL, this.#listener);
  }
}

/** Every name with a certificate or with recorded failures. */
export async function certificateRows(store: Repository, now = Date.now(), cache?: StateCache): Promise<CertificateRow[]> {
  const entries = cache ? await cache.entries() : await store.scan();
  let states: Map<string, DomainState>;
  if (cache) states = await cache.get();
  else {
    states = new Map();
    await readStates(store, await store.statedNames(), states);
  }
  const rows = entries.map((e) => rowOf(e.name, e, states.get(e.name) ?? EMPTY_STATE, now));
  const listed = new Set(entries.map((e) => e.name));
  for (const [name, s] of states) if (!listed.has(name) && (s.attempts || s.lastError)) rows.push(rowOf(name, null, s, now));
  return rows;
}

export interface ListQuery {
  state?: CertState | undefined;
  /** A part of the name. */
  q?: string | undefined;
  sort?: 'name' | 'notAfter' | undefined;
  page: number;
  perPage: number;
}

export function pageOf(
  rows: CertificateRow[],
  query: ListQuery,
): { total: number; page: number; perPage: number; counts: Record<CertState, number>; items: CertificateRow[] } {
  const counts = { valid: 0, renewing: 0, failing: 0, 'needs-action': 0 } as Record<CertState, number>;
  const q = query.q?.toLowerCase();
  const matched: CertificateRow[] = [];
  for (const r of rows) {
    if (q && !r.name.includes(q)) continue;
    counts[r.state]++;
    if (query.state && r.state !== query.state) continue;
    matched.push(r);
  }
  if (query.sort === 'notAfter') matched.sort((a, b) => (a.notAfter ?? '').localeCompare(b.notAfter ?? '') || a.name.localeCompare(b.name));
  else matched.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  const start = (query.page - 1) * query.perPage;
  return { total: matched.length, page: query.page, perPage: query.perPage, counts, items: matched.slice(start, start + query.perPage) };
}

const WINDOW_WHY = {
  ari: "the CA's renewal window (ARI): renewal starts at a point inside it",
  third: 'the last third of its lifetime (no ARI window from the CA)',
  fixed: 'a fixed time before expiry (renewBefore)',
} as const;

export interface CertificateDetail extends CertificateRow {
  names: string[];
  issuer: string | null;
  keyType: string | null;
  directory: string | null;
  renewalWhy: string | null;
  ari: { start: string; end: string; explanationUrl: string | null } | null;
  chain: Array<{ subject: string; issuer: string; notBefore: string; notAfter: string; sha256: string; kind: string }>;
  /** The last failure: the CA's problem document as sent, the message in plain words, and the fix. */
  lastFailure: { at: string; code: string | null; message: string; fix: string | null; problem: unknown } | null;
  events: Array<{ at: string; type: string; message: string }>;
}

export async function certificateDetail(store: Repository, name: string, now = Date.now()): Promise<CertificateDetail | null> {
  const [bundle, state, events] = await Promise.all([store.getBundle(name), store.getState(name), store.readEvents(name)]);
  if (!bundle && !state.attempts && !state.lastError && events.length === 0) return null;
  const m = bundle?.meta ?? null;
  const entry: IndexEntry | null = m ? indexEntryOf(m, name) : null;
  const row = rowOf(name, entry, state, now);
  const chain = bundle
    ? parsePem(bundle.certPem)
        .filter((b) => b.label === 'CERTIFICATE')
        .map((b) => {
          const i = decodeCertificate(b.der).info;
          return { subject: i.subject, issuer: i.issuer, notBefore: i.notBefore, notAfter: i.notAfter, sha256: i.fingerprints.sha256, kind: i.kind };
        })
    : [];
  const failed = [...events].reverse().find((e) => e.type === 'cert_failed');
  const lifeDays = entry ? Math.round((Date.parse(entry.notAfter) - Date.parse(entry.notBefore)) / 86_400_000) : null;
  return {
    ...row,
    names: m?.names ?? [name],
    issuer: m?.issuer ?? null,
    keyType: m?.keyType ?? null,
    directory: m?.directory ?? null,
    renewalWhy:
      row.renewalWindow === 'third' && lifeDays !== null
        ? `the last third of its ${lifeDays}-day lifetime (no ARI window from the CA)`
        : row.renewalWindow
          ? WINDOW_WHY[row.renewalWindow]
          : null,
    ari: m?.ari?.window ? { ...m.ari.window, explanationUrl: m.ari.explanationUrl } : null,
    chain,
    lastFailure: failed
      ? {
          at: failed.at,
          code: (failed.data?.code as string | undefined) ?? null,
          message: failed.message,
          fix: (failed.data?.fix as string | undefined) ?? null,
          problem: failed.data?.problem ?? null,
        }
      : state.lastError
        ? { at: state.lastError.at, code: state.lastError.code, message: state.lastError.message, fix: null, problem: null }
        : null,
    events: events.slice(-50).map((e) => ({ at: e.at, type: e.type, message: e.message })),
  };
}
