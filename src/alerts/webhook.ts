/**
 * @module alerts/webhook
 * Delivery of alerts to webhooks: a JSON POST, signed with HMAC-SHA256 when a secret is set
 * (`X-Certgate-Signature: sha256=<hex>` over `<timestamp>.<raw body>`, the timestamp in
 * `X-Certgate-Timestamp`, so a receiver can refuse a replay). Queued in memory with a bound,
 * sent in the background with a timeout per attempt (undici), retried with exponential backoff
 * a bounded number of times. Nothing here is ever awaited by issuance: enqueue() returns at once.
 */
import { createHmac, randomUUID } from 'node:crypto';
import { Agent, request } from 'undici';
import { CertgateError } from '../errors.ts';

export interface WebhookOptions {
  urls: readonly string[];
  /** HMAC-SHA256 key; unset: unsigned. Never logged, never in a payload. */
  secret?: string | undefined;
  /** Attempts per delivery, the first included (default 6). */
  attempts?: number;
  /** First retry delay (default 1 s); doubles each time, with jitter, up to maxBackoffMs. */
  backoffMs?: number;
  maxBackoffMs?: number;
  /** Per attempt: connect, headers and body together (default 10 s). */
  timeoutMs?: number;
  /** Deliveries waiting at most (default 1,000); beyond it the oldest is dropped and said. */
  queueLimit?: number;
  /** Deliveries in flight at once (default 4). */
  concurrency?: number;
  clock?: () => number;
  log?: (level: 'info' | 'warn' | 'error', msg: string, extra?: Record<string, unknown>) => void;
  userAgent?: string;
}

export interface DeliveryReport {
  url: string;
  id: string;
  kind: string;
  ok: boolean;
  attempts: number;
  status: number | null;
}

interface Delivery {
  id: string;
  kind: string;
  url: string;
  body: string;
  attempt: number;
  notBefore: number;
}

/** The signature of a delivery: what a receiver recomputes. */
export function signature(secret: string, timestamp: string, body: string): string {
  return `sha256=${createHmac('sha256', secret).update(`${timestamp}.${body}`).digest('hex')}`;
}

/**
 * A webhook URL as logs show it: scheme and host only. Many webhook URLs carry their credential
 * in the path or the query (Slack's /services/T…/B…/secret), or as user:password@.
 */
export function redactUrl(url: string): string {
  try {
    const u = new URL(url);
    return `${u.protocol}//${u.host}${u.pathname.length > 1 || u.search ? '/…' : ''}`;
  } catch {
    return '(invalid URL)';
  }
}

export class WebhookSender {
  readonly #o: Required<Omit<WebhookOptions, 'secret' | 'log'>> & Pick<WebhookOptions, 'secret' | 'log'>;
  readonly #queue: Delivery[] = [];
  readonly #agent: Agent;
  readonly #timers = new Set<NodeJS.Timeout>();
  readonly #idle: Array<() => void> = [];
  #active = 0;
  #closed = false;
  /** Told of each delivery's end (tests, metrics). */
  onReport: ((r: DeliveryReport) => void) | null = null;
  dropped = 0;

  constructor(options: WebhookOptions) {
    for (const url of options.urls) {
      let u: URL | null = null;
      try {
        u = new URL(url);
      } catch {
        u = null;
      }
      if (!u || (u.protocol !== 'https:' && u.protocol !== 'http:'))
        throw new CertgateError('E_OPTION', `alerts webhook "${redactUrl(url)}" is not an http:// or https:// URL`, 'e.g. https://hooks.example.com/certgate', {
          option: 'alertsWebhooks',
        });
    }
    this.#o = {
      attempts: 6,
      backoffMs: 1000,
      maxBackoffMs: 300_000,
      timeoutMs: 10_000,
      queueLimit: 1000,
      concurrency: 4,
      clock: Date.now,
      userAgent: 'certgate',
      ...options,
    };
    this.#agent = new Agent({ connectTimeout: this.#o.timeoutMs, headersTimeout: this.#o.timeoutMs, bodyTimeout: this.#o.timeoutMs });
  }

  /** Queues one payload for every webhook. Returns at once. */
  enqueue(kind: string, payload: object): void {
    if (this.#closed || this.#o.urls.length === 0) return;
    const body = JSON.stringify(payload);
    const id = (payload as { id?: string }).id ?? randomUUID();
    for (const url of this.#o.urls) {
      if (this.#queue.length >= this.#o.queueLimit) {
        const old = this.#queue.shift();
        this.dropped++;
        this.#o.log?.('warn', `alert queue full (${this.#o.queueLimit}): dropped the ${old?.kind} alert ${old?.id} for ${redactUrl(old?.url ?? '')}`);
      }
      this.#queue.push({ id, kind, url, body, attempt: 0, notBefore: 0 });
    }
    this.#pump();
  }

  /** Resolves when nothing is queued, waiting or in flight (tests; a graceful close). */
  idle(): Promise<void> {
    if (this.#queue.length === 0 && this.#active === 0 && this.#timers.size === 0) return Promise.resolve();
    return new Promise((resolve) => this.#idle.push(resolve));
  }

  get pending(): number {
    return this.#queue.length + this.#active + this.#timers.size;
  }

  #pump(): void {
    while (!this.#closed && this.#active < this.#o.concurrency && this.#queue.length) {
      const d = this.#queue.shift() as Delivery;
      this.#active++;
      void this.#send(d).finally(() => {
        this.#active--;
        this.#pump();
        this.#checkIdle();
      });
    }
    this.#checkIdle();
  }

  #checkIdle(): void {
    if (this.#queue.length === 0 && this.#active === 0 && this.#timers.size === 0) for (const r of this.#idle.splice(0)) r();
  }

  async #send(d: Delivery): Promise<void> {
    d.attempt++;
    const timestamp = String(Math.floor(this.#o.clock() / 1000));
    const headers: Record<string, string> = {
      'content-type': 'application/json',
      'user-agent': this.#o.userAgent,
      'x-certgate-event': d.kind,
      'x-certgate-delivery': d.id,
      'x-certgate-timestamp': timestamp,
    };
    if (this.#o.secret) headers['x-certgate-signature'] = signature(this.#o.secret, timestamp, d.body);
    let status: number | null = null;
    let why = '';
    try {
      const res = await request(d.url, {
        method: 'POST',
        headers,
        body: d.body,
        dispatcher: this.#agent,
        signal: AbortSignal.timeout(this.#o.timeoutMs),
      });
      status = res.statusCode;
      await res.body.dump().catch(() => {});
    } catch (err) {
      const e = err as { code?: string; name?: string; message: string };
      why = e.code ?? e.name ?? 'error';
    }
    const ok = status !== null && status >= 200 && status < 300;
    // A 4xx other than 408/429 is the receiver's final word: sending it again changes nothing.
    const final = ok || (status !== null && status >= 400 && status < 500 && status !== 408 && status !== 429);
    if (final || d.attempt >= this.#o.attempts || this.#closed) {
      if (!ok)
        this.#o.log?.('warn', `alert ${d.kind} ${d.id} not delivered to ${redactUrl(d.url)} after ${d.attempt} attempt(s): ${status ?? why}`, {
          kind: d.kind,
          status,
        });
      this.onReport?.({ url: d.url, id: d.id, kind: d.kind, ok, attempts: d.attempt, status });
      return;
    }
    const base = Math.min(this.#o.maxBackoffMs, this.#o.backoffMs * 2 ** (d.attempt - 1));
    const wait = Math.round(base * (0.5 + Math.random() / 2));
    const timer = setTimeout(() => {
      this.#timers.delete(timer);
      if (this.#closed) return this.#checkIdle();
      this.#queue.unshift(d);
      this.#pump();
    }, wait);
    timer.unref();
    this.#timers.add(timer);
  }

  /** Stops sending: what is queued or waiting for a retry is dropped; requests in flight are cut. */
  async close(): Promise<void> {
    this.#closed = true;
    for (const t of this.#timers) clearTimeout(t);
    this.#timers.clear();
    this.#queue.length = 0;
    await this.#agent.destroy().catch(() => {});
    this.#checkIdle();
  }
}
