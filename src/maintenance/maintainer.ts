/**
 * @module maintenance/maintainer
 * The renewal loop: a boring scan first, then acting on what is due. A certificate is due in
 * its renewal window: the CA's (ARI) when offered, else the last third of its lifetime (30
 * days of 90, 2 of 6), or a fixed renewBefore. Due work is ordered by expiry, limited by a
 * budget per cycle and by rate-limit buckets; failures back off and stop after maxAttempts.
 */

import type { AcmeIssuer } from '../acme/issuer.ts';
import { CertgateError } from '../errors.ts';
import type { CertManager } from '../manager/manager.ts';
import { registeredDomain } from '../manager/policy.ts';
import type { DomainRegistry } from '../manager/registry.ts';
import { type BucketSpec, LETS_ENCRYPT_LIMITS, TokenBuckets } from '../ratelimit.ts';
import type { Locker } from '../store/storage.ts';
import type { IndexEntry, Store } from '../store/store.ts';

/** The longest single timer Node keeps (2^31-1 ms); longer ones fire at once. */
const MAX_TIMER_MS = 2_147_483_647;
const MAX_INTERVAL_MS = 365 * 86_400_000;

export interface MaintainerOptions {
  store: Store;
  manager: CertManager;
  /** For ARI lookups; optional. */
  issuer?: AcmeIssuer;
  /** Names to keep: a stored certificate whose name left the registry is not renewed. */
  registry?: DomainRegistry;
  clock?: () => Date;
  /** Between cycles (default 24 h; at most 365 days). */
  intervalMs?: number;
  /** Each cycle's report (the loop started by start()). */
  onReport?: (report: CycleReport) => void;
  /** A cycle that failed as a whole (the loop goes on). */
  onError?: (err: unknown) => void;
  /** Renewals per cycle (default 200). */
  budget?: number;

  /** Renew this long before expiry instead of the last third of the lifetime. */
  renewBeforeMs?: number;
  /** Renewals in flight at once (default 4). */
  concurrency?: number;
  limits?: { ordersPerAccount: BucketSpec; certsPerDomain: BucketSpec; failuresPerName: BucketSpec };
  /** Share of the order bucket kept for new domains (default 0.2). */
  newDomainShare?: number;
  /** ARI lookups per cycle (default 200). */
  ariBudget?: number;
  /**
   * Several nodes on one store: the loop's cycle runs under this lock (tryLock: a node that
   * finds it held skips), and a last-cycle record in the store keeps the next node from running
   * another one before the interval: one cycle per interval across the cluster. A cycle that
   * failed (the database away) is tried again after retryMs (default 5 s), not a whole interval.
   */
  shared?: { locker: Locker; retryMs?: number };
}

export const MAINTENANCE_LOCK = 'maintenance';
export const LAST_CYCLE_DOC = 'maintenance-last-cycle';

export interface CycleReport {
  at: string;
  scanned: number;
  due: number;
  renewed: string[];
  failed: Array<{ name: string; code: string; message: string }>;
  /** Due, but left for a later cycle: budget, rate limit, backoff, flagged. */
  deferred: Array<{ name: string; why: string }>;
  scanMs: number;
  dryRun: boolean;
}

export interface DueEntry extends IndexEntry {
  dueAt: string;
  window: 'ari' | 'fixed' | 'third';
}

export function dueAt(entry: IndexEntry, renewBeforeMs?: number): { at: number; window: DueEntry['window'] } {
  if (entry.ariStart && entry.ariEnd) {
    // A point inside the CA's window, stable per certificate, spreads renewals out.
    const s = Date.parse(entry.ariStart);
    const e = Date.parse(entry.ariEnd);
    let h = 0;
    for (const ch of entry.serialNumber) h = (h * 31 + ch.charCodeAt(0)) >>> 0;
    return { at: s + ((h % 1000) / 1000) * (e - s), window: 'ari' };
  }
  const nb = Date.parse(entry.notBefore);
  const na = Date.parse(entry.notAfter);
  if (renewBeforeMs !== undefined) return { at: na - renewBeforeMs, window: 'fixed' };
  return { at: na - (na - nb) / 3, window: 'third' };
}

export class Maintainer {
  readonly #o: Required<Omit<MaintainerOptions, 'issuer' | 'registry' | 'renewBeforeMs' | 'onReport' | 'onError' | 'shared'>> &
    Pick<MaintainerOptions, 'issuer' | 'registry' | 'renewBeforeMs' | 'onReport' | 'onError' | 'shared'>;
  readonly #domains: TokenBuckets;
  readonly #failures: TokenBuckets;
  #timer: NodeJS.Timeout | null = null;
  #started = false;
  #closed = false;
  #running: Promise<CycleReport> | null = null;

  constructor(options: MaintainerOptions) {
    const clock = options.clock ?? (() => new Date());
    this.#o = {
      clock,
      intervalMs: 24 * 3600_000,
      budget: 200,
      concurrency: 4,
      limits: LETS_ENCRYPT_LIMITS,
      newDomainShare: 0.2,
      ariBudget: 200,
      ...options,
    };
    for (const [k, v] of Object.entries({ intervalMs: this.#o.intervalMs, budget: this.#o.budget, concurrency: this.#o.concurrency })) {
      if (!Number.isFinite(v) || v <= 0)
        throw new CertgateError('E_OPTION', `maintenance ${k} must be a positive number, got ${v}`, 'use the default', { option: k });
    }
    if (this.#o.intervalMs > MAX_INTERVAL_MS)
      throw new CertgateError('E_OPTION', `maintenance interval ${this.#o.intervalMs} ms is over 365 days`, 'use 24h (the default) or less', {
        option: 'maintenanceInterval',
      });
    this.#domains = new TokenBuckets(this.#o.limits.certsPerDomain, clock);
    this.#failures = new TokenBuckets(this.#o.limits.failuresPerName, clock);
  }

  /**
   * The loop: a cycle now (in the background), then one every interval after the last one ended.
   * Reports and failures go to onReport / onError.
   */
  start(): void {
    if (this.#started) return;
    this.#started = true;
    const shared = this.#o.shared;
    const cycle = () => {
      this.#timer = null;
      if (this.#closed) return;
      let next = this.#o.intervalMs;
      void (shared ? this.#sharedCycle(shared.locker) : this.runCycle())
        .then(
          (r) => {
            if (r) this.#o.onReport?.(r);
          },
          (err) => {
            if (shared) next = Math.min(next, shared.retryMs ?? 5_000);
            this.#o.onError?.(err);
          },
        )
        .finally(() => this.#schedule(next, cycle));
    };
    cycle();
  }

  /**
   * Node's timers overflow past 2^31-1 ms (24.8 days) and then fire at once, every time: a long
   * interval is waited for in steps, checked against the clock.
   */
  #schedule(ms: number, fn: () => void): void {
    if (this.#closed) return;
    const due = Date.now() + ms;
    const step = () => {
      const left = due - Date.now();
      if (left <= 0) return fn();
      this.#timer = setTimeout(step, Math.min(left, MAX_TIMER_MS));
      this.#timer.unref();
    };
    step();
  }

  async close(): Promise<void> {
    this.#closed = true;
    if (this.#timer) clearTimeout(this.#timer);
    await this.#running?.catch(() => {});
  }

  /** The scan: what is due now, ordered by expiry. Reads the index only. */
  async scan(): Promise<{ entries: IndexEntry[]; due: DueEntry[]; ms: number }> {
    const t0 = performance.now();
    const entries = await this.#o.store.scan();
    const now = this.#o.clock().getTime();
    const managed = this.#o.registry ? new Set(await this.#o.registry.managedNames()) : null;
    const due: DueEntry[] = [];
    for (const e of entries) {
      if (managed && !managed.has(e.name)) continue;
      const d = dueAt(e, this.#o.renewBeforeMs);
      if (d.at <= now) due.push({ ...e, dueAt: new Date(d.at).toISOString(), window: d.window });
    }
    due.sort((a, b) => a.notAfter.localeCompare(b.notAfter));
    return { entries, due, ms: performance.now() - t0 };
  }

  /** The cluster's cycle: null when another node holds it or ran one within the interval. */
  async #sharedCycle(locker: Locker): Promise<CycleReport | null> {
    const release = await locker.tryLock(MAINTENANCE_LOCK);
    if (!release) return null;
    try {
      const last = await this.#o.store.getDocument<{ at: string }>(LAST_CYCLE_DOC);
      // A tenth of the interval of slack: nodes' timers drift, the record is by their clocks.
      if (last && this.#o.clock().getTime() - Date.parse(last.at) < this.#o.intervalMs * 0.9) return null;
      const report = await this.runCycle();
      await this.#o.store.putDocument(LAST_CYCLE_DOC, { at: report.at, scanned: report.scanned, renewed: report.renewed.length });
      return report;
    } finally {
      await release();
    }
  }

  runCycle(options: { dryRun?: boolean } = {}): Promise<CycleReport> {
    if (this.#running) return this.#running;
    this.#running = this.#cycle(Boolean(options.dryRun)).finally(() => {
      this.#running = null;
    });
    return this.#running;
  }

  async #refreshAri(entries: IndexEntry[]): Promise<void> {
    const issuer = this.#o.issuer;
    if (!issuer) return;
    const now = this.#o.clock();
    let budget = this.#o.ariBudget;
    for (const e of entries) {
      if (budget <= 0) break;
      const bundle = await this.#o.store.getBundle(e.name);
      if (!bundle || bundle.meta.directory !== issuer.directory) continue;
      const recheck = bundle.meta.ari?.recheckAt ? Date.parse(bundle.meta.ari.recheckAt) : 0;
      if (recheck > now.getTime()) continue;
      budget--;
      const ari = await issuer.renewalInfo(bundle, now);
      if (!ari) continue;
      await this.#o.store.updateMeta(e.name, { ...bundle.meta, ari });
      e.ariStart = ari.window?.start ?? null;
      e.ariEnd = ari.window?.end ?? null;
      await this.#o.manager.event(e.name, 'ari_checked', `the CA suggests renewing between ${ari.window?.start} and ${ari.window?.end}`, {
        explanationUrl: ari.explanationUrl,
      });
    }
  }

  async #cycle(dryRun: boolean): Promise<CycleReport> {
    const now = this.#o.clock();
    const { store, manager } = this.#o;
    let { entries, due, ms } = await this.scan();
    if (!dryRun && this.#o.issuer) {
      await this.#refreshAri(entries);
      ({ due } = await this.scan());
    }
    const report: CycleReport = {
      at: now.toISOString(),
      scanned: entries.length,
      due: due.length,
      renewed: [],
      failed: [],
      deferred: [],
      scanMs: Math.round(ms),
      dryRun,
    };
    const work: DueEntry[] = [];
    for (const d of due) {
      const state = await store.getState(d.name);
      if (state.flagged) {
        report.deferred.push({ name: d.name, why: `stopped after ${state.attempts} failed attempts; run certgate issue ${d.name} --force` });
        continue;
      }
      if (state.nextAttemptAt && Date.parse(state.nextAttemptAt) > now.getTime()) {
        report.deferred.push({ name: d.name, why: `backing off until ${state.nextAttemptAt}` });
        continue;
      }
      if (work.length >= this.#o.budget) {
        report.deferred.push({ name: d.name, why: `over this cycle's budget of ${this.#o.budget}` });
        continue;
      }
      const reserve = Math.floor(this.#o.limits.ordersPerAccount.capacity * this.#o.newDomainShare);
      if (this.#o.manager.ordersAvailable() - work.length - 1 < reserve) {
        report.deferred.push({ name: d.name, why: `orders per account near the CA's limit; ${reserve} kept for new domains` });
        continue;
      }
      const reg = registeredDomain(d.name);
      if (this.#domains.available(reg) < 1) {
        report.deferred.push({ name: d.name, why: `certificates for ${reg} near the CA's weekly limit; next at ${this.#domains.nextAt(reg).toISOString()}` });
        continue;
      }
      if (this.#failures.available(d.name) < 1) {
        report.deferred.push({ name: d.name, why: `too many failed validations for ${d.name} in the last hour` });
        continue;
      }
      if (!dryRun) this.#domains.take(reg);
      work.push(d);
    }
    if (dryRun) {
      report.renewed = work.map((w) => w.name);
      return report;
    }
    for (const d of work) await manager.event(d.name, 'renewal_due', `due since ${d.dueAt} (${d.window} window); expires ${d.notAfter}`);
    let next = 0;
    const worker = async () => {
      while (next < work.length) {
        const d = work[next++] as DueEntry;
        try {
          await manager.obtain(d.name, { renew: true, reason: 'renewal' });
          report.renewed.push(d.name);
        } catch (err) {
          const e = err as CertgateError & { problem?: { retryAfter?: number } };
          report.failed.push({ name: d.name, code: e.code ?? 'E_INTERNAL', message: e.message });
          if (e.code === 'E_ACME_CHALLENGE') this.#failures.take(d.name);
        }
      }
    };
    await Promise.all(Array.from({ length: Math.min(this.#o.concurrency, work.length) }, worker));
    return report;
  }
}
