/**
 * @module alerts
 * Webhook alerts on the conditions an operator must hear about: a name failing, its attempts
 * exhausted, a certificate in the last tenth of its life, the CA unreachable for an hour, a
 * trust file rejected. Fed from the event path, the certificate view and the trust store; one
 * alert per condition per name until the condition clears (then a new occurrence alerts
 * again). Delivery is fire and forget (alerts/webhook.ts): issuance never waits for a webhook.
 */
import { randomUUID } from 'node:crypto';
import type { NameView } from '../metrics/view.ts';
import type { CertEvent } from '../store/store.ts';
import { type WebhookOptions, WebhookSender } from './webhook.ts';

export { type DeliveryReport, redactUrl, signature, WebhookSender } from './webhook.ts';

export type AlertKind = 'name_failing' | 'attempts_exhausted' | 'certificate_expiring' | 'ca_unreachable' | 'trust_file_rejected';

/** What a webhook receives (JSON). `detail` depends on `kind`; see the README for each. */
export interface AlertPayload {
  version: 1;
  /** Unique per alert; the same in every retry of it (X-Certgate-Delivery). */
  id: string;
  kind: AlertKind;
  at: string;
  /** The certificate name; for ca_unreachable the CA's directory URL; for trust_file_rejected the file. */
  name: string;
  summary: string;
  detail: Record<string, unknown>;
}

/** A trust file the trust store refused (trust/load.ts TrustProblem). */
export interface RejectedFile {
  file: string;
  code: string;
  message: string;
  fix: string;
}

export interface AlertsOptions extends Omit<WebhookOptions, 'clock'> {
  clock?: () => number;
  /** How long the CA must stay unreachable before it is said (default 1 h). */
  unreachableAfterMs?: number;
  /** The share of the lifetime left below which a certificate alerts (default 0.1: its last tenth). */
  lifeFraction?: number;
  /** Between checks of the time-based conditions (default 60 s). */
  checkIntervalMs?: number;
  /** Each alert raised, before delivery (tests, the log). */
  onAlert?: (payload: AlertPayload) => void;
}

export interface Alerts {
  onEvent(event: CertEvent): void;
  /** A certificate view entry changed (null: the name is gone). */
  onViewChange(entry: NameView | null, name: string): void;
  /** The trust store loaded: the files it refused this time (an empty list clears them all). */
  trustLoaded(rejected: readonly RejectedFile[]): void;
  /** Checks the time-based conditions against these names now (also run on a timer after start()). */
  check(names?: Iterable<NameView>): void;
  start(names: () => Iterable<NameView>): void;
  /** Resolves when every alert raised so far is delivered or given up. */
  idle(): Promise<void>;
  readonly sender: WebhookSender;
  close(): Promise<void>;
}

export function createAlerts(options: AlertsOptions): Alerts {
  const clock = options.clock ?? Date.now;
  const unreachableAfterMs = options.unreachableAfterMs ?? 3600_000;
  const lifeFraction = options.lifeFraction ?? 0.1;
  // The signature's timestamp is the wall clock's (a receiver compares it with its own); the
  // injected clock times the conditions only.
  const { clock: _conditionClock, ...delivery } = options;
  const sender = new WebhookSender(delivery);
  const active = new Set<string>();
  /** Per CA (the issuer id): since when every attempt failed to reach it. */
  const unreachable = new Map<string, { since: number; code: string }>();
  let timer: NodeJS.Timeout | null = null;

  const raise = (kind: AlertKind, name: string, summary: string, detail: Record<string, unknown>) => {
    const key = `${kind}\0${name}`;
    if (active.has(key)) return;
    active.add(key);
    const payload: AlertPayload = { version: 1, id: randomUUID(), kind, at: new Date(clock()).toISOString(), name, summary, detail };
    options.log?.('warn', `alert ${kind}: ${summary}`, { kind, name });
    try {
      options.onAlert?.(payload);
    } catch {
      // a hook must not break the event path
    }
    sender.enqueue(kind, payload);
  };
  const clear = (kind: AlertKind, name: string) => active.delete(`${kind}\0${name}`);

  const checkUnreachable = () => {
    const now = clock();
    for (const [issuer, u] of unreachable) {
      if (now - u.since < unreachableAfterMs) continue;
      const directory = issuer.replace(/^acme:/, '');
      raise('ca_unreachable', directory, `the ACME CA ${directory} has been unreachable since ${new Date(u.since).toISOString()}`, {
        directory,
        since: new Date(u.since).toISOString(),
        code: u.code,
        fix: 'check that the CA is up and reachable from this host (DNS, firewall, proxy); certgate keeps retrying',
      });
    }
  };

  const checkLife = (v: NameView) => {
    if (v.notAfter === null || v.notBefore === null) return;
    const now = clock();
    const lifetime = v.notAfter - v.notBefore;
    if (lifetime > 0 && v.notAfter - now <= lifetime * lifeFraction) {
      const left = Math.max(0, Math.round((v.notAfter - now) / 1000));
      raise(
        'certificate_expiring',
        v.name,
        `${v.name}: the certificate has ${left} s of its ${Math.round(lifetime / 1000)} s left and has not been renewed (expires ${new Date(v.notAfter).toISOString()})`,
        {
          notBefore: new Date(v.notBefore).toISOString(),
          notAfter: new Date(v.notAfter).toISOString(),
          remainingSeconds: left,
          lifetimeSeconds: Math.round(lifetime / 1000),
          state: v.flagged ? 'needs_action' : v.failing ? 'failing' : 'renewing',
          lastError: v.lastError,
          fix: `run certgate logs ${v.name} for why renewal has not happened; certgate issue ${v.name} --force renews now`,
        },
      );
    } else {
      clear('certificate_expiring', v.name);
    }
  };

  const issuerOf = (e: CertEvent) => (typeof e.data?.issuer === 'string' ? e.data.issuer : 'acme');

  return {
    sender,
    onEvent(e) {
      if (e.type === 'cert_failed') {
        const code = typeof e.data?.code === 'string' ? e.data.code : 'E_INTERNAL';
        const problem = (e.data?.problem as Record<string, unknown> | null | undefined) ?? null;
        raise('name_failing', e.name, `${e.name}: issuance failed: ${e.message}`, {
          code,
          message: e.message,
          fix: e.data?.fix ?? null,
          problem,
          counted: e.data?.counted ?? null,
          issuer: e.data?.issuer ?? null,
        });
        if (code === 'E_ACME_UNREACHABLE') {
          const issuer = issuerOf(e);
          if (!unreachable.has(issuer)) unreachable.set(issuer, { since: clock(), code });
          checkUnreachable();
        } else if (problem) {
          // The CA answered (with a problem document): it is reachable.
          unreachable.delete(issuerOf(e));
          clear('ca_unreachable', issuerOf(e).replace(/^acme:/, ''));
        }
      } else if (e.type === 'attempts_exhausted') {
        raise('attempts_exhausted', e.name, `${e.name}: ${e.message}`, {
          lastError: e.data?.lastError ?? null,
          fix: `fix the cause, then run certgate issue ${e.name} --force`,
        });
      } else if (e.type === 'cert_obtained') {
        clear('name_failing', e.name);
        clear('attempts_exhausted', e.name);
        // An issuance went through: every CA this process talks to answered lately enough.
        for (const issuer of unreachable.keys()) clear('ca_unreachable', issuer.replace(/^acme:/, ''));
        unreachable.clear();
      } else if (e.type === 'attempts_reset') {
        clear('attempts_exhausted', e.name);
      } else if (e.type === 'domain_removed') {
        for (const kind of ['name_failing', 'attempts_exhausted', 'certificate_expiring'] as const) clear(kind, e.name);
      }
    },
    onViewChange(entry, name) {
      if (!entry) {
        clear('certificate_expiring', name);
        return;
      }
      checkLife(entry);
    },
    trustLoaded(rejected) {
      const now = new Set<string>();
      for (const r of rejected) {
        const key = `${r.file}`;
        now.add(key);
        raise('trust_file_rejected', r.file, `ca-certs/${r.file} was rejected: ${r.message}`, { file: r.file, code: r.code, message: r.message, fix: r.fix });
      }
      for (const key of [...active]) {
        const [kind, name] = key.split('\0') as [AlertKind, string];
        if (kind === 'trust_file_rejected' && !now.has(name)) active.delete(key);
      }
    },
    check(names) {
      checkUnreachable();
      if (names) for (const v of names) checkLife(v);
    },
    start(names) {
      if (timer) return;
      timer = setInterval(() => this.check(names()), options.checkIntervalMs ?? 60_000);
      timer.unref();
    },
    idle: () => sender.idle(),
    async close() {
      if (timer) clearInterval(timer);
      timer = null;
      await sender.close();
    },
  };
}
