/**
 * @module manager/manager
 * Obtain, certmagic's way: take the lock for the name, look in the store again (another
 * worker or node may have finished), issue, write all or nothing, release. Concurrent requests
 * for one name in this process share one issuance.
 */
import type { KeyType } from '../acme/issuer.ts';
import { CertgateError } from '../errors.ts';
import type { Issuer } from '../issuer.ts';
import { type BucketSpec, LETS_ENCRYPT_LIMITS, TokenBuckets } from '../ratelimit.ts';
import { canonicalName } from '../store/names.ts';
import type { LockHolder } from '../store/storage.ts';
import type { CertEvent, CertificateBundle, DomainState, Locker, Store } from '../store/store.ts';
import { EMPTY_STATE } from '../store/store.ts';

export interface ManagerOptions {
  store: Store;
  locker: Locker;
  /** Tried in turn for each name until one issues (e.g. Let's Encrypt, then ZeroSSL). */
  issuers: readonly Issuer[];
  clock?: () => Date;
  keyType?: KeyType;
  /** Extra names for a certificate (e.g. www. alongside the apex), by its main name. */
  sans?: (name: string) => string[];
  /** Failed attempts before a name stops being retried automatically (default 5). */
  maxAttempts?: number;
  /** First backoff after a failure (default 1 h); doubles with each failure. */
  backoffMs?: number;
  /** Issuances in flight at once (default 10); more wait their turn. */
  concurrency?: number;
  /** New orders per account (default Let's Encrypt's 300 per 3 hours). */
  ordersPerAccount?: BucketSpec;
  /**
   * Several nodes sharing one account (a PostgreSQL store): the order budget is counted by the
   * cluster, in fixed windows of the bucket's period, instead of per process.
   */
  sharedBudget?: { take(key: string, limit: number, windowMs: number): Promise<boolean> };
  /** Told when another process or node holds the name's lock and this one waits for it. */
  onLockWait?: (name: string, holder: LockHolder | null) => void;
}

/**
 * Failures that reached the CA, or the validation it asked for: these count as attempts and
 * back off. A local mistake (configuration, a full disk, an unreachable CA) is not the name's
 * fault and must not lock it out after five tries; it is retried after a short pause.
 */
const CA_FAILURES = new Set(['E_ACME_PROBLEM', 'E_ACME_RATE_LIMITED', 'E_ACME_CHALLENGE', 'E_ACME_DNS_HOOK']);
const LOCAL_RETRY_MS = 5 * 60_000;

/**
 * A failure the CA answered counts as an attempt. A problem document means the CA itself said
 * no (a CAA record, a refused email) whatever the code: not counting it would order a refused
 * name again every few minutes.
 */
function isCaFailure(err: CertgateError & { problem?: unknown }): boolean {
  return CA_FAILURES.has(err.code) || Boolean(err.problem);
}

export interface ObtainOptions {
  /** Issue even when a valid certificate is stored (and past the attempts limit). */
  force?: boolean;
  /** Treat the stored certificate as due (a renewal). */
  renew?: boolean;
  reason?: string;
  signal?: AbortSignal;
}

export interface ObtainResult {
  name: string;
  issued: boolean;
  bundle: CertificateBundle;
  ms: number;
}

export class CertManager {
  readonly #o: ManagerOptions;
  readonly #clock: () => Date;
  readonly #inflight = new Map<string, Promise<ObtainResult>>();
  /** The account's order budget, shared with maintenance (which keeps a share for new names). */
  readonly #orders: TokenBuckets;
  #active = 0;
  readonly #queue: Array<() => void> = [];

  constructor(options: ManagerOptions) {
    if (!options.issuers?.length)
      throw new CertgateError('E_OPTION', 'the manager needs at least one issuer', 'pass { issuers: [new AcmeIssuer(...)] }', { option: 'issuers' });
    this.#o = options;
    this.#clock = options.clock ?? (() => new Date());
    this.#orders = new TokenBuckets(options.ordersPerAccount ?? LETS_ENCRYPT_LIMITS.ordersPerAccount, this.#clock);
  }

  async #slot(): Promise<() => void> {
    const limit = this.#o.concurrency ?? 10;
    if (this.#active >= limit) await new Promise<void>((resolve) => this.#queue.push(resolve));
    this.#active++;
    return () => {
      this.#active--;
      this.#queue.shift()?.();
    };
  }

  /** Orders the account may still place now (maintenance keeps a share for new names). */
  ordersAvailable(): number {
    return this.#orders.available('account');
  }

  /** The stored certificate for a name, if any (what the edge serves while it waits). */
  stored(name: string): Promise<CertificateBundle | null> {
    return this.#o.store.getBundle(name);
  }

  /** The name's attempts and backoff. */
  state(name: string): Promise<DomainState> {
    return this.#o.store.getState(name);
  }

  async event(name: string, type: CertEvent['type'], message: string, data?: Record<string, unknown>): Promise<void> {
    await this.#o.store.appendEvent({ at: this.#clock().toISOString(), name, type, message, ...(data ? { data } : {}) });
  }

  obtain(input: string, options: ObtainOptions = {}): Promise<ObtainResult> {
    const name = canonicalName(input);
    const running = this.#inflight.get(name);
    if (running) return running;
    const p = this.#obtain(name, options).finally(() => this.#inflight.delete(name));
    this.#inflight.set(name, p);
    return p;
  }

  async #obtain(name: string, options: ObtainOptions): Promise<ObtainResult> {
    const { store, locker, issuers } = this.#o;
    const started = performance.now();
    const lockKey = `issue-${name}`;
    const release = await locker.lock(lockKey, {
      ...(options.signal ? { signal: options.signal } : {}),
      onWait: (holder) => this.#o.onLockWait?.(name, holder),
    });
    try {
      const existing = await store.getBundle(name);
      const now = this.#clock();
      if (existing && !options.force && !options.renew && Date.parse(existing.meta.notAfter) > now.getTime()) {
        return { name, issued: false, bundle: existing, ms: performance.now() - started };
      }
      if (existing && options.renew && !options.force) {
        // Another node may have renewed it while we waited for the lock.
        const issuedAt = Date.parse(existing.meta.issuedAt);
        if (now.getTime() - issuedAt < 60_000) return { name, issued: false, bundle: existing, ms: performance.now() - started };
      }
      const state = await store.getState(name);
      if (state.flagged && !options.force) {
        throw new CertgateError(
          'E_ATTEMPTS_EXHAUSTED',
          `${name} failed ${state.attempts} times and is no longer retried automatically (last: ${state.lastError?.message ?? 'unknown'})`,
          `fix the cause, then run certgate issue ${name} --force`,
        );
      }
      await this.event(name, 'cert_obtaining', `obtaining a certificate for ${name}${options.reason ? ` (${options.reason})` : ''}`);
      const names = [name, ...(this.#o.sans?.(name) ?? [])];
      const replacesFor = (issuer: Issuer) => (existing && issuer.canReplace?.(existing.meta) ? (existing.meta.ari?.certId ?? undefined) : undefined);
      // A pair the store cannot keep would be ordered, finalised and thrown away: spent rate
      // limits for nothing. Ask the store first.
      try {
        await store.checkWritable?.();
      } catch (err) {
        await this.event(name, 'cert_failed', `not ordered: ${(err as Error).message}`, { code: (err as CertgateError).code ?? 'E_STORE', counted: false });
        throw err;
      }
      const spec = this.#o.ordersPerAccount ?? LETS_ENCRYPT_LIMITS.ordersPerAccount;
      const shared = this.#o.sharedBudget;
      if (shared ? !(await shared.take(`orders:${issuers[0]?.id ?? 'account'}`, spec.capacity, spec.periodMs)) : !this.#orders.take('account')) {
        throw new CertgateError(
          'E_ACME_RATE_LIMITED',
          `${name}: certgate holds back: the account's order budget is spent (the CA's published limit)`,
          shared
            ? `wait for the cluster's order window (${Math.round(spec.periodMs / 60_000)} min) to pass, or raise ordersPerAccount if your CA allows more`
            : `wait until ${this.#orders.nextAt('account').toISOString()}, or raise ordersPerAccount if your CA allows more`,
        );
      }
      let bundle: CertificateBundle | null = null;
      const done = await this.#slot();
      try {
        // Each issuer in turn; the name's attempt is counted once, by the last failure.
        let last: (CertgateError & { problem?: { retryAfter?: number } }) | null = null;
        for (const issuer of issuers) {
          const replaces = replacesFor(issuer);
          try {
            bundle = await issuer.issue(names, {
              ...(this.#o.keyType ? { keyType: this.#o.keyType } : {}),
              ...(replaces ? { replaces } : {}),
              ...(options.signal ? { signal: options.signal } : {}),
            });
            break;
          } catch (err) {
            last = err as CertgateError & { problem?: { retryAfter?: number } };
            const counted = isCaFailure(last);
            await this.event(name, 'cert_failed', last.message, {
              code: last.code ?? 'E_INTERNAL',
              fix: last.fix ?? null,
              problem: last.problem ?? null,
              counted,
              issuer: issuer.id,
            });
          }
        }
        if (!bundle) {
          const e = last as CertgateError & { problem?: { retryAfter?: number } };
          if (isCaFailure(e)) await this.#recordFailure(name, e);
          else await this.#recordLocalFailure(name, e);
          throw e;
        }
      } finally {
        done();
      }
      bundle.meta.issuedAt = this.#clock().toISOString();
      // Fenced where the locker fences: a holder whose lease lapsed mid-order (a pause) cannot
      // overwrite the newer pair another node wrote meanwhile (E_FENCED, nothing written).
      try {
        await store.putBundle(name, bundle, release.fence !== undefined ? { lock: lockKey, fence: release.fence } : undefined);
      } catch (err) {
        if ((err as CertgateError).code !== 'E_FENCED') throw err;
        // The newer pair another node wrote is the one to serve; this one is dropped unseen.
        await this.event(name, 'cert_failed', (err as CertgateError).message, { code: 'E_FENCED', counted: false });
        const newer = await store.getBundle(name);
        if (newer) return { name, issued: false, bundle: newer, ms: performance.now() - started };
        throw err;
      }
      if (state.attempts) await this.event(name, 'attempts_reset', `attempts reset after a successful issuance (${state.attempts} before)`);
      await store.putState(name, { ...EMPTY_STATE });
      const ms = performance.now() - started;
      await this.event(name, 'cert_obtained', `obtained: ${bundle.meta.issuer}, valid until ${bundle.meta.notAfter}`, {
        serial: bundle.meta.serialNumber,
        ms: Math.round(ms),
      });
      return { name, issued: true, bundle, ms };
    } finally {
      await release();
    }
  }

  /** A local failure: remembered with a short pause before the next try, not counted. */
  async #recordLocalFailure(name: string, err: CertgateError): Promise<void> {
    const now = this.#clock();
    const state = await this.#o.store.getState(name);
    await this.#o.store.putState(name, {
      ...state,
      lastError: { code: err.code ?? 'E_INTERNAL', message: err.message, at: now.toISOString() },
      nextAttemptAt: new Date(now.getTime() + LOCAL_RETRY_MS).toISOString(),
    });
  }

  /** Counts a failure, schedules the next try (Retry-After, else exponential backoff), flags at the limit. */
  async #recordFailure(name: string, err: CertgateError & { problem?: { retryAfter?: number } }): Promise<void> {
    const { store } = this.#o;
    const now = this.#clock();
    const maxAttempts = this.#o.maxAttempts ?? 5;
    const state = await store.getState(name);
    const attempts = state.attempts + 1;
    const retryAfter = err.problem?.retryAfter;
    const wait = retryAfter && retryAfter > 0 ? retryAfter * 1000 : (this.#o.backoffMs ?? 3600_000) * 2 ** (attempts - 1);
    const flagged = attempts >= maxAttempts;
    const nextAttemptAt = flagged ? null : new Date(now.getTime() + wait).toISOString();
    await store.putState(name, {
      attempts,
      lastError: { code: err.code ?? 'E_INTERNAL', message: err.message, at: now.toISOString() },
      nextAttemptAt,
      flagged,
    });
    if (flagged) {
      await this.event(
        name,
        'attempts_exhausted',
        `failed ${attempts} times; no more automatic attempts. Fix the cause, then run certgate issue ${name} --force`,
        { lastError: err.message },
      );
    } else {
      await this.event(name, 'renewal_scheduled', `attempt ${attempts} of ${maxAttempts} failed; next try after ${nextAttemptAt}`, {
        retryAfter: retryAfter ?? null,
      });
    }
  }
}
