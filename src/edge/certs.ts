/**
 * @module edge/certs
 * Which certificate a handshake gets. Memory first (exact, SAN, wildcard); local names from the
 * local CA; registered names on demand at their first handshake, within a global and a
 * per-client budget; and, while a name is pending, failing or over budget, a local-CA
 * certificate for that name with the reason kept on the connection, so that the visitor gets an
 * explaining page instead of a bare handshake failure.
 */
import { isIP } from 'node:net';
import type { SecureContext, TLSSocket } from 'node:tls';
import { createSecureContext } from 'node:tls';
import type { ChallengeAnswers } from '../acme/challenges.ts';
import type { CertCache, NameContexts } from '../cache/cache.ts';
import type { Issuer } from '../issuer.ts';
import { isLocalName } from '../localca/local-ca.ts';
import type { CertManager } from '../manager/manager.ts';
import type { DomainRegistry } from '../manager/registry.ts';
import { canonicalName } from '../store/names.ts';
import type { CertificateBundle } from '../store/store.ts';
import type { OnDemandDecision } from './observer.ts';
import { asNameContexts, ConnectionSlots } from './slots.ts';

/** Why a connection was given a stand-in certificate. */
export interface StandIn {
  kind: 'pending' | 'failed' | 'budget';
  detail: string;
}

export interface HandshakeOptions {
  cache: CertCache;
  /** The issuer for local names (localhost, IPs, LAN names): the local CA, or any Issuer. */
  localCa: Issuer;
  answers: ChallengeAnswers;
  registry?: DomainRegistry | undefined;
  manager?: CertManager | undefined;
  /** New on-demand certificates per minute, all names together (default 30). */
  onDemandPerMinute?: number | undefined;
  /** New on-demand certificates one client address may cause per 10 minutes (default 10; IPv6 by /64). */
  onDemandPerClient?: number | undefined;
  /** How long a first handshake waits for its certificate before the visitor gets the "pending" page (default 20 s). */
  onDemandTimeoutMs?: number | undefined;
  /** Counts the on-demand budgets for the whole cluster (a PostgreSQL store) instead of this process. */
  sharedBudget?: { take(key: string, limit: number, windowMs: number): Promise<boolean> } | undefined;
  /** A failed name is not tried again on demand before this long (default 5 min, or the store's backoff). */
  retryFailedMs?: number | undefined;
  clock?: (() => number) | undefined;
  log?: ((level: 'info' | 'warn' | 'error', msg: string, extra?: Record<string, unknown>) => void) | undefined;
  /** Told of each on-demand decision (metrics). */
  onDecision?: ((decision: OnDemandDecision) => void) | undefined;
}

interface Selection {
  ctx?: NameContexts;
  standIn?: StandIn;
}

/**
 * Kept on the TLS socket itself, not in a WeakMap: an HTTP/2 request reaches its socket
 * through the session's proxy object, which forwards property reads but is not the socket.
 */
const STAND_IN = Symbol('certgate.standIn');
const LOCAL_NAME = /^[a-z0-9]([a-z0-9.-]{0,251}[a-z0-9])?$/;
const CLIENT_WINDOW_MS = 600_000;
const MAX_TRACKED = 10_000;

/** The budget key of a client: its IPv4 address, or the /64 of an IPv6 one (one host owns a /64). */
export function clientKey(address: string | undefined): string {
  if (!address) return 'unknown';
  const a = address.startsWith('::ffff:') ? address.slice(7) : address;
  if (isIP(a) !== 6) return a;
  const [head = '', tail = ''] = a.split('::');
  const left = head ? head.split(':') : [];
  const right = tail ? tail.split(':') : [];
  const groups = a.includes('::') ? [...left, ...Array(8 - left.length - right.length).fill('0'), ...right] : left;
  return `${groups
    .slice(0, 4)
    .map((g) => g.replace(/^0+(?=.)/, ''))
    .join(':')}::/64`;
}

export class HandshakeCertificates {
  readonly #o: HandshakeOptions & { onDemandPerMinute: number; onDemandPerClient: number; onDemandTimeoutMs: number; retryFailedMs: number };
  readonly #clock: () => number;
  readonly #pending = new Map<string, Promise<Selection>>();
  /** Names refused recently: refused again from memory, without asking anyone. */
  readonly #refused = new Map<string, number>();
  /** Names whose issuance failed, and when to try again. */
  readonly #failed = new Map<string, { detail: string; retryAt: number }>();
  /** Names whose issuance is still running after the first handshake stopped waiting. */
  readonly #issuing = new Set<string>();
  readonly #standIns = new Map<string, { ctx: SecureContext; notAfter: number }>();
  readonly #perClient = new Map<string, { since: number; count: number }>();
  #minute = { at: 0, count: 0 };

  constructor(options: HandshakeOptions) {
    this.#o = {
      ...options,
      onDemandPerMinute: options.onDemandPerMinute ?? 30,
      onDemandPerClient: options.onDemandPerClient ?? 10,
      onDemandTimeoutMs: options.onDemandTimeoutMs ?? 20_000,
      retryFailedMs: options.retryFailedMs ?? 300_000,
    };
    this.#clock = options.clock ?? Date.now;
  }

  /** The certificates the server's default context holds: a handshake that resolves to them needs no switch. */
  #default: { name: string; bundle: CertificateBundle; alt: CertificateBundle | undefined } | null = null;
  readonly #slots = new ConnectionSlots();

  /**
   * Call with what the server's default context now holds (one certificate, or an ECDSA and an
   * RSA one), before handshakes use it: a switch to another name must empty its slots.
   */
  async setDefault(name: string, bundles: CertificateBundle | readonly CertificateBundle[]): Promise<void> {
    const list: readonly CertificateBundle[] = Array.isArray(bundles) ? bundles : [bundles as CertificateBundle];
    await this.#slots.setDefault(list);
    this.#default = { name, bundle: list[0] as CertificateBundle, alt: list[1] };
  }

  /** Why this TLS connection got a stand-in certificate, if it did. */
  standInFor(socket: object | undefined): StandIn | undefined {
    return socket ? (socket as Record<symbol, StandIn | undefined>)[STAND_IN] : undefined;
  }

  /** Node's SNICallback. `this` is the TLS socket (Node calls it as the socket's method): the client's address for its budget. */
  sniCallback(): (this: TLSSocket, servername: string, cb: (err: Error | null, ctx?: SecureContext) => void) => void {
    const self = this;
    return function (this: TLSSocket, servername, cb) {
      const name = servername.toLowerCase();
      // The common case answers synchronously from memory: no promise per handshake.
      let hit = self.#o.answers.alpn.size ? null : self.#o.cache.resolve(name);
      if (hit && self.#localDue(hit)) hit = null;
      const d = self.#default;
      if (hit && d && hit === d.name && self.#o.cache.holds(hit, d.bundle, d.alt)) {
        // The server's own context already holds this pair: no context switch (Node copies the
        // certificate, chain and key into the connection on a switch, a measurable share of a handshake).
        cb(null);
        return;
      }
      const socket = this as TLSSocket | undefined;
      if (hit) {
        let ctx: NameContexts | undefined;
        try {
          ctx = self.#o.cache.context(hit) as NameContexts;
          self.#slots.apply(socket, ctx);
        } catch (err) {
          // A stored pair OpenSSL will not load: this handshake fails, the edge goes on.
          self.#o.log?.('error', `the certificate for ${hit} cannot be loaded: ${(err as Error).message}`, { host: hit });
          cb(err as Error);
          return;
        }
        cb(null, ctx.main);
        return;
      }
      self.#select(name, socket?.remoteAddress).then(
        (sel) => {
          if (sel.standIn && socket) (socket as unknown as Record<symbol, StandIn>)[STAND_IN] = sel.standIn;
          if (!sel.ctx) {
            cb(new Error(`no certificate for "${servername.slice(0, 100)}"`));
            return;
          }
          try {
            self.#slots.apply(socket, sel.ctx);
          } catch (err) {
            cb(err as Error);
            return;
          }
          cb(null, sel.ctx.main);
        },
        (err) => cb(err as Error),
      );
    };
  }

  async #select(name: string, clientAddress: string | undefined): Promise<Selection> {
    const alpn = name ? this.#o.answers.alpnContext(name) : undefined;
    if (alpn) return { ctx: asNameContexts(alpn) };
    const { cache } = this.#o;
    const hit = cache.resolve(name);
    if (hit && !this.#localDue(hit)) return { ctx: cache.context(hit) as NameContexts };
    // localhost, LAN and .internal names (single labels too) go to the local CA.
    if (isLocalName(name) && LOCAL_NAME.test(name) && !name.includes('..')) return this.#once(`local:${name}`, () => this.#local(name));
    let canonical: string;
    try {
      canonical = canonicalName(name);
    } catch {
      return {}; // a garbage SNI: no certificate, the handshake fails fast
    }
    return this.#once(canonical, () => this.#onDemand(canonical, clientAddress));
  }

  /** One issuance per name at a time: the handshakes that arrive meanwhile wait for the same one. */
  #once(key: string, work: () => Promise<Selection>): Promise<Selection> {
    const running = this.#pending.get(key);
    if (running) return running;
    const p = work().finally(() => this.#pending.delete(key));
    this.#pending.set(key, p);
    return p;
  }

  #localDue(name: string): boolean {
    const b = this.#o.cache.get(name);
    if (b?.meta.directory !== 'local') return false;
    const nb = Date.parse(b.meta.notBefore);
    const na = Date.parse(b.meta.notAfter);
    return this.#clock() > na - (na - nb) / 3;
  }

  async #local(name: string): Promise<Selection> {
    this.#o.cache.put(name, await this.#o.localCa.issue([name]));
    return { ctx: this.#o.cache.context(name) as NameContexts };
  }

  /** A local-CA certificate for the name itself, so that its visitor can be told what is going on. */
  async #standIn(name: string): Promise<SecureContext> {
    const have = this.#standIns.get(name);
    if (have && have.notAfter > this.#clock() + 3600_000) return have.ctx;
    const b = await this.#o.localCa.issue([name]);
    const ctx = createSecureContext({ cert: b.certPem, key: b.keyPem });
    this.#standIns.delete(name);
    this.#standIns.set(name, { ctx, notAfter: Date.parse(b.meta.notAfter) });
    if (this.#standIns.size > 1000) this.#standIns.delete(this.#standIns.keys().next().value as string);
    return ctx;
  }

  async #withStandIn(name: string, standIn: StandIn): Promise<Selection> {
    return { ctx: asNameContexts(await this.#standIn(name)), standIn };
  }

  #remember<V>(map: Map<string, V>, key: string, value: V): void {
    map.delete(key);
    map.set(key, value);
    if (map.size > MAX_TRACKED) map.delete(map.keys().next().value as string);
  }

  /** Takes one of the client's on-demand tokens; false when it has used them up. */
  #clientAllows(address: string | undefined): boolean {
    const key = clientKey(address);
    const now = this.#clock();
    const b = this.#perClient.get(key);
    if (!b || now - b.since >= CLIENT_WINDOW_MS) {
      this.#remember(this.#perClient, key, { since: now, count: 1 });
      return true;
    }
    if (b.count >= this.#o.onDemandPerClient) return false;
    b.count++;
    return true;
  }

  async #onDemand(name: string, clientAddress: string | undefined): Promise<Selection> {
    const { registry, manager, cache } = this.#o;
    const now = this.#clock();
    const refusedAt = this.#refused.get(name);
    if (refusedAt !== undefined && now - refusedAt < 60_000) {
      this.#o.onDecision?.('refused');
      return {};
    }
    const failed = this.#failed.get(name);
    if (failed && failed.retryAt > now) return this.#withStandIn(name, { kind: 'failed', detail: failed.detail });
    if (this.#issuing.has(name)) return this.#withStandIn(name, { kind: 'pending', detail: 'the certificate is being obtained from the CA right now' });
    if (!registry || !manager) return {};
    const decision = await registry.decide(name, { visit: true });
    if (!decision.allowed) {
      this.#o.onDecision?.('refused');
      this.#remember(this.#refused, name, now);
      this.#o.log?.('info', `refused on-demand certificate for ${name}: ${decision.reason}`, { host: name });
      return {};
    }
    const stored = await manager.stored(name);
    if (stored && Date.parse(stored.meta.notAfter) > now) {
      cache.put(name, stored);
      return { ctx: cache.context(name) as NameContexts };
    }
    // A name that failed before (this process or an earlier one) waits for its backoff.
    const state = await manager.state(name);
    const nextAt = state.nextAttemptAt ? Date.parse(state.nextAttemptAt) : 0;
    if (state.flagged || nextAt > now) {
      const detail = state.lastError?.message ?? 'an earlier attempt failed';
      this.#remember(this.#failed, name, { detail, retryAt: state.flagged ? now + this.#o.retryFailedMs : nextAt });
      return this.#withStandIn(name, { kind: 'failed', detail });
    }
    const shared = this.#o.sharedBudget;
    if (shared) {
      // Counted by the cluster; the database away means no issuance now (it would wait anyway).
      const verdict = await shared
        .take(`on-demand-client:${clientKey(clientAddress)}`, this.#o.onDemandPerClient, CLIENT_WINDOW_MS)
        .then(async (ok) => (ok ? ((await shared.take('on-demand-minute', this.#o.onDemandPerMinute, 60_000)) ? 'ok' : 'minute') : 'client'))
        .catch(() => 'down' as const);
      if (verdict !== 'ok') {
        this.#o.onDecision?.('over_budget');
        this.#o.log?.(
          'warn',
          `on-demand budget (${verdict === 'down' ? 'the store is unreachable' : `cluster-wide, per ${verdict}`}) spent; not asking the CA for ${name}`,
          { host: name },
        );
        return this.#withStandIn(name, { kind: 'budget', detail: 'too many new certificates were requested; try again shortly' });
      }
    } else if (!this.#clientAllows(clientAddress)) {
      this.#o.onDecision?.('over_budget');
      this.#o.log?.('warn', `on-demand budget of client ${clientKey(clientAddress)} spent; not asking the CA for ${name}`, { host: name });
      return this.#withStandIn(name, { kind: 'budget', detail: 'too many new names were asked for from your address; try again in a few minutes' });
    }
    const minute = Math.floor(now / 60_000);
    if (this.#minute.at !== minute) this.#minute = { at: minute, count: 0 };
    if (!shared && this.#minute.count >= this.#o.onDemandPerMinute) {
      this.#o.onDecision?.('over_budget');
      this.#o.log?.('warn', `on-demand budget of ${this.#o.onDemandPerMinute} per minute spent; not asking the CA for ${name}`, { host: name });
      return this.#withStandIn(name, { kind: 'budget', detail: 'too many new certificates were requested this minute; try again shortly' });
    }
    this.#minute.count++;
    this.#issuing.add(name);
    const obtained = manager.obtain(name, { reason: 'on demand, first handshake' }).then(
      (result) => {
        cache.put(name, result.bundle);
        this.#failed.delete(name);
        this.#o.onDecision?.('issued');
        this.#o.log?.('info', `obtained a certificate for ${name} on demand in ${Math.round(result.ms)} ms`, { host: name });
        return { ctx: cache.context(name) as NameContexts } as Selection;
      },
      async (err: Error) => {
        this.#o.onDecision?.('failed');
        if (decision.source === 'first-visit') await registry.releaseFirstVisit(name, err.message).catch(() => false);
        const st = await manager.state(name).catch(() => null);
        const retryAt = st?.nextAttemptAt ? Math.min(Date.parse(st.nextAttemptAt), this.#clock() + 3600_000) : this.#clock() + this.#o.retryFailedMs;
        this.#remember(this.#failed, name, { detail: err.message, retryAt: Math.max(retryAt, this.#clock() + 60_000) });
        this.#o.log?.('error', `on-demand certificate for ${name} failed: ${err.message}`, { host: name });
        return this.#withStandIn(name, { kind: 'failed', detail: err.message });
      },
    );
    obtained.then(
      () => this.#issuing.delete(name),
      () => this.#issuing.delete(name),
    );
    let timer: NodeJS.Timeout | undefined;
    const waited = new Promise<null>((resolve) => {
      timer = setTimeout(() => resolve(null), this.#o.onDemandTimeoutMs);
      timer.unref();
    });
    const first = await Promise.race([obtained, waited]);
    clearTimeout(timer);
    return first ?? this.#withStandIn(name, { kind: 'pending', detail: 'the certificate is being obtained from the CA right now' });
  }

  /** A renewed or new certificate: served from the next handshake on. */
  update(name: string, bundle: CertificateBundle): void {
    this.#o.cache.put(name, bundle);
    this.#failed.delete(name);
  }
}
