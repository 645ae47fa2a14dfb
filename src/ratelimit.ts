/**
 * @module ratelimit
 * Token buckets that mirror a CA's published limits, so that certgate slows itself down before
 * the CA has to (Let's Encrypt's defaults below). Time is injected.
 */

export interface BucketSpec {
  capacity: number;
  /** The bucket refills completely over this many ms. */
  periodMs: number;
}

export const LETS_ENCRYPT_LIMITS = {
  /** New orders per account: 300 per 3 hours. */
  ordersPerAccount: { capacity: 300, periodMs: 3 * 3600_000 },
  /** Certificates per registered domain: 50 per week. */
  certsPerDomain: { capacity: 50, periodMs: 7 * 86_400_000 },
  /** Failed validations per hostname: 5 per hour. */
  failuresPerName: { capacity: 5, periodMs: 3600_000 },
} satisfies Record<string, BucketSpec>;

export class TokenBuckets {
  readonly #spec: BucketSpec;
  readonly #clock: () => Date;
  readonly #buckets = new Map<string, { tokens: number; at: number }>();

  constructor(spec: BucketSpec, clock: () => Date) {
    this.#spec = spec;
    this.#clock = clock;
  }

  #refill(key: string): { tokens: number; at: number } {
    const now = this.#clock().getTime();
    const b = this.#buckets.get(key) ?? { tokens: this.#spec.capacity, at: now };
    const add = ((now - b.at) / this.#spec.periodMs) * this.#spec.capacity;
    const next = { tokens: Math.min(this.#spec.capacity, b.tokens + add), at: now };
    this.#buckets.set(key, next);
    return next;
  }

  available(key: string): number {
    return Math.floor(this.#refill(key).tokens);
  }

  /** Takes one token; false when none is left. */
  take(key: string, reserve = 0): boolean {
    const b = this.#refill(key);
    if (b.tokens - 1 < reserve) return false;
    b.tokens -= 1;
    return true;
  }

  /** When the next token arrives. */
  nextAt(key: string): Date {
    const b = this.#refill(key);
    const missing = Math.max(0, 1 - b.tokens);
    return new Date(this.#clock().getTime() + (missing / this.#spec.capacity) * this.#spec.periodMs);
  }
}
