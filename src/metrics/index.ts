/**
 * @module metrics
 * Prometheus metrics on prom-client, in its own Registry (never the global default), with
 * cert-manager's names where they exist so that existing alert rules port over
 * (certmanager_certificate_* → certgate_certificate_*). Fed from the one event path (issuance
 * attempts, failures), from the certificate view (per-name gauges, read at scrape time from
 * memory), from the edge observer (handshakes, proxied requests, on-demand decisions), from
 * acme-client's requests and from the trust store. A scrape never reads storage.
 *
 * Cardinality: per-name series exist only for managed names (a stored certificate or an
 * issuance attempt; a random SNI never makes one), at most `maxNames` of them (default
 * 10,000: those expiring soonest); the rest are counted in `certgate_certificates{state}` and
 * `certgate_metrics_names_dropped`. Every other label has a fixed, small set of values.
 */
import { type Aggregator, AggregatorRegistry, Counter, Gauge, Histogram, type MetricObjectWithValues, type MetricValue, Registry } from 'prom-client';
import { type AcmeRequestObservation, observeAcmeRequests } from '../acme/requests.ts';
import type { EdgeObserver, HandshakeOutcome, OnDemandDecision } from '../edge/observer.ts';
import { CertgateError } from '../errors.ts';
import type { CertEvent } from '../store/store.ts';
import { type CertificateView, type NameView, READY_STATES, readyState } from './view.ts';

export { CertificateView, type NameView, READY_STATES, type ReadyState, readyState } from './view.ts';

export const DEFAULT_MAX_NAMES = 10_000;

export type MetricsJson = MetricObjectWithValues<MetricValue<string>>[];

export interface MetricsOptions {
  /** The certificates (per-name gauges); absent in a serving worker (the primary has them). */
  view?: CertificateView | null;
  /** Names with their own series (default 10,000). */
  maxNames?: number;
  clock?: () => number;
  /** Other processes' metrics (serve --workers: the workers'), merged into text(). */
  peers?: () => Promise<MetricsJson[]>;
  /** Count acme-client's requests (default true). They are process-wide: one Metrics per process should. */
  acmeRequests?: boolean;
}

export interface Metrics {
  /** The Content-Type of text(): Prometheus text format 0.0.4. */
  readonly contentType: string;
  /** The exposition text: what GET /metrics answers. */
  text(): Promise<string>;
  /** This process's metrics as prom-client JSON (what a worker hands to the primary); the per-name gauges are in text() only. */
  json(): Promise<MetricsJson>;
  readonly registry: Registry;
  /** Hand every certificate event here (the runtime's onEvent). */
  onEvent(event: CertEvent): void;
  /** The edge's observer: handshakes, proxied requests, on-demand decisions. */
  readonly edge: EdgeObserver;
  /** The trust store loaded a set: its size and the files it refused. */
  trustLoaded(certificates: number, rejectedFiles: number): void;
  close(): void;
}

/** RFC 8555 (and ARI, profiles) problem types: the failure reasons a CA may give. Anything else is "other". */
const PROBLEM_TYPES = new Set([
  'accountDoesNotExist',
  'alreadyRevoked',
  'badCSR',
  'badNonce',
  'badPublicKey',
  'badRevocationReason',
  'badSignatureAlgorithm',
  'caa',
  'compound',
  'connection',
  'dns',
  'externalAccountRequired',
  'incorrectResponse',
  'invalidContact',
  'malformed',
  'orderNotReady',
  'rateLimited',
  'rejectedIdentifier',
  'serverInternal',
  'tls',
  'unauthorized',
  'unsupportedContact',
  'unsupportedIdentifier',
  'userActionRequired',
  'badReplacement',
  'invalidProfile',
]);

/** A label value as the text format wants it (names are DNS names; escaped anyway). */
function labelValue(v: string): string {
  return /[\\"\n]/.test(v) ? v.replace(/\\/g, '\\\\').replace(/\n/g, '\\n').replace(/"/g, '\\"') : v;
}

/** A failure's reason label: the CA's problem type (rateLimited, unauthorized, ...), else certgate's error code. */
export function failureReason(event: CertEvent): string {
  const problem = event.data?.problem as { type?: unknown; subproblems?: Array<{ type?: unknown }> } | null | undefined;
  const type = typeof problem?.type === 'string' ? problem.type : null;
  if (type) {
    const short = type.replace(/^urn:ietf:params:acme:error:/, '');
    return PROBLEM_TYPES.has(short) ? short : 'other';
  }
  const code = event.data?.code;
  return typeof code === 'string' && /^E_[A-Z0-9_]{1,40}$/.test(code) ? code : 'other';
}

/**
 * A metric family whose samples are computed at scrape time, registered as prom-client takes any
 * object with a `get()`: no label hashing per sample (10,000 names are 80,000 samples).
 */
function family(
  registry: Registry,
  f: { name: string; help: string; type: 'gauge' | 'counter' | 'histogram'; aggregator: Aggregator; values: () => Array<MetricValue<string>> },
): void {
  const { name, help, type, aggregator } = f;
  registry.registerMetric({ name, help, type, aggregator, get: async () => ({ name, help, type, aggregator, values: f.values() }) } as never);
}

const HANDSHAKE_OUTCOMES: readonly HandshakeOutcome[] = ['full', 'resumed', 'failed'];
const DECISIONS: readonly OnDemandDecision[] = ['issued', 'refused', 'over_budget', 'failed'];
const REQUEST_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30];
const ACME_BUCKETS = [0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30];

export function createMetrics(options: MetricsOptions = {}): Metrics {
  const maxNames = options.maxNames ?? DEFAULT_MAX_NAMES;
  if (!Number.isInteger(maxNames) || maxNames < 0)
    throw new CertgateError('E_OPTION', `metrics maxNames must be a whole number of at least 0, got ${maxNames}`, 'use the default (10000)', {
      option: 'metricsMaxNames',
    });
  const clock = options.clock ?? Date.now;
  const view = options.view ?? null;
  const registry = new Registry();
  const registers = [registry];

  // Per-name gauges: computed at scrape time from the view, at most maxNames names.
  let scrape: { at: number; shown: NameView[]; dropped: number } | null = null;
  const shownNames = (): { shown: NameView[]; dropped: number } => {
    // One selection per scrape, shared by the gauges below (they collect in the same tick).
    const now = clock();
    if (scrape && scrape.at === now) return scrape;
    const all = view ? [...view.entries()] : [];
    let shown = all;
    if (all.length > maxNames) {
      // The names closest to expiry are the ones an alert rule needs.
      shown = all.sort((a, b) => (a.notAfter ?? 0) - (b.notAfter ?? 0)).slice(0, maxNames);
    }
    scrape = { at: now, shown, dropped: all.length - shown.length };
    return scrape;
  };
  // The per-name families are written here, not by prom-client: 10,000 names are 80,000 samples,
  // and formatting them one label object at a time took most of a scrape (470 ms against 60 ms).
  // They exist in the process that has the view only, so the workers' merge never needs them.
  const perNameFamilies: Array<{ name: string; help: string; lines: (shown: NameView[], now: number, out: string[]) => void }> = [];
  const perName = (name: string, help: string, value: (v: NameView) => number | null) =>
    perNameFamilies.push({
      name,
      help,
      lines: (shown, _now, out) => {
        for (const v of shown) {
          const x = value(v);
          if (x !== null) out.push(`${name}{name="${labelValue(v.name)}"} ${x}`);
        }
      },
    });
  if (view) {
    perName('certgate_certificate_not_after_timestamp_seconds', 'The certificate notAfter (expiry), Unix seconds', (v) =>
      v.notAfter === null ? null : v.notAfter / 1000,
    );
    perName('certgate_certificate_expiration_timestamp_seconds', 'The certificate expiry, Unix seconds (cert-manager name; equals not_after)', (v) =>
      v.notAfter === null ? null : v.notAfter / 1000,
    );
    perName('certgate_certificate_not_before_timestamp_seconds', 'The certificate notBefore, Unix seconds', (v) =>
      v.notBefore === null ? null : v.notBefore / 1000,
    );
    perName(
      'certgate_certificate_renewal_timestamp_seconds',
      'When certgate renews the certificate (a point in the ARI window, else two thirds into its lifetime), Unix seconds',
      (v) => (v.renewalAt === null ? null : v.renewalAt / 1000),
    );
    perNameFamilies.push({
      name: 'certgate_certificate_ready_status',
      help: 'The name state: 1 for its current state, 0 for the others (valid, renewing, failing, needs_action)',
      lines: (shown, now, out) => {
        for (const v of shown) {
          const s = readyState(v, now);
          const n = labelValue(v.name);
          for (const state of READY_STATES) out.push(`certgate_certificate_ready_status{name="${n}",state="${state}"} ${state === s ? 1 : 0}`);
        }
      },
    });
    new Gauge({
      name: 'certgate_certificates',
      help: 'Managed names by state, all of them (beyond the per-name cap too)',
      labelNames: ['state'],
      registers,
      aggregator: 'max',
      collect() {
        const now = clock();
        const counts: Record<string, number> = { valid: 0, renewing: 0, failing: 0, needs_action: 0 };
        for (const v of view.entries()) {
          const state = readyState(v, now);
          counts[state] = (counts[state] ?? 0) + 1;
        }
        for (const state of READY_STATES) this.set({ state }, counts[state] ?? 0);
      },
    });
    new Gauge({
      name: 'certgate_metrics_names_dropped',
      help: 'Managed names without per-name series because of the cap (metrics.maxNames)',
      registers,
      aggregator: 'max',
      collect() {
        this.set(shownNames().dropped);
      },
    });
  }

  const attempts = new Counter({ name: 'certgate_issuance_attempts_total', help: 'Issuances started (each try for a name)', registers });
  const failures = new Counter({
    name: 'certgate_issuance_failures_total',
    help: "Issuance failures by reason: the CA's problem type (rateLimited, unauthorized, ...) or certgate's error code",
    labelNames: ['reason'],
    registers,
  });
  const obtained = new Counter({ name: 'certgate_issuance_successes_total', help: 'Certificates obtained', registers });
  const exhausted = new Counter({
    name: 'certgate_issuance_attempts_exhausted_total',
    help: 'Names that stopped being retried (attempts exhausted)',
    registers,
  });

  const acmeRequests = new Counter({
    name: 'certgate_acme_client_requests_total',
    help: 'Requests to the ACME CA by action (newOrder, finalize, ...) and HTTP status ("error": no response)',
    labelNames: ['action', 'status'],
    registers,
  });
  const acmeDuration = new Histogram({
    name: 'certgate_acme_client_request_duration_seconds',
    help: 'Duration of requests to the ACME CA by action and status',
    labelNames: ['action', 'status'],
    buckets: ACME_BUCKETS,
    registers,
  });
  const stopAcme =
    options.acmeRequests === false
      ? () => {}
      : observeAcmeRequests((o: AcmeRequestObservation) => {
          acmeRequests.inc({ action: o.action, status: o.status });
          acmeDuration.observe({ action: o.action, status: o.status }, o.seconds);
        });

  // The handshake path counts in plain numbers; the counter reads them at scrape time.
  const handshakeCounts = { full: 0, resumed: 0, failed: 0 };
  new Counter({
    name: 'certgate_tls_handshakes_total',
    help: 'TLS handshakes on the HTTPS port by outcome (full, resumed, failed)',
    labelNames: ['outcome'],
    registers,
    collect() {
      this.reset();
      for (const outcome of HANDSHAKE_OUTCOMES) this.inc({ outcome }, handshakeCounts[outcome]);
    },
  });
  const decisions = new Counter({
    name: 'certgate_ondemand_decisions_total',
    help: 'On-demand certificate decisions at the handshake (issued, refused, over_budget, failed)',
    labelNames: ['decision'],
    registers,
  });
  for (const decision of DECISIONS) decisions.inc({ decision }, 0);
  // Requests are counted in plain arrays too (one per status class: bucket counts, sum, count).
  const classes = ['aborted', '1xx', '2xx', '3xx', '4xx', '5xx'];
  const perClass = classes.map(() => ({ buckets: new Float64Array(REQUEST_BUCKETS.length), sum: 0, count: 0 }));
  family(registry, {
    name: 'certgate_proxy_requests_total',
    help: 'Requests proxied to an upstream by status class (2xx, ...; aborted: the client left before an answer)',
    type: 'counter',
    aggregator: 'sum',
    values: () => perClass.flatMap((c, i) => (c.count ? [{ value: c.count, labels: { code: classes[i] as string } }] : [])),
  });
  family(registry, {
    name: 'certgate_proxy_request_duration_seconds',
    help: 'Duration of requests proxied to an upstream, by status class',
    type: 'histogram',
    aggregator: 'sum',
    values: () =>
      perClass.flatMap((c, i) => {
        if (!c.count) return [];
        const code = classes[i] as string;
        const name = 'certgate_proxy_request_duration_seconds';
        let cumulative = 0;
        const out: Array<MetricValue<string>> = REQUEST_BUCKETS.map((le, b) => {
          cumulative += c.buckets[b] as number;
          return { value: cumulative, labels: { le, code }, metricName: `${name}_bucket` } as MetricValue<string>;
        });
        out.push({ value: c.count, labels: { le: '+Inf', code }, metricName: `${name}_bucket` } as MetricValue<string>);
        out.push({ value: c.sum, labels: { code }, metricName: `${name}_sum` } as MetricValue<string>);
        out.push({ value: c.count, labels: { code }, metricName: `${name}_count` } as MetricValue<string>);
        return out;
      }),
  });

  const trustSize = new Gauge({
    name: 'certgate_trust_store_certificates',
    help: 'CA certificates trusted from ca-certs (beside the system roots)',
    registers,
    aggregator: 'max',
  });
  const trustRejected = new Gauge({
    name: 'certgate_trust_store_rejected_files',
    help: 'Files in ca-certs the trust store refused',
    registers,
    aggregator: 'max',
  });
  const trustReloads = new Counter({ name: 'certgate_trust_store_reloads_total', help: 'Trust store loads (the first one and every reload)', registers });

  const edge: EdgeObserver = {
    handshake(outcome) {
      handshakeCounts[outcome]++;
    },
    request(status, seconds) {
      const c = perClass[status >= 100 && status < 600 ? Math.floor(status / 100) : 0] as (typeof perClass)[number];
      c.count++;
      c.sum += seconds;
      let b = 0;
      while (b < REQUEST_BUCKETS.length && seconds > (REQUEST_BUCKETS[b] as number)) b++;
      if (b < REQUEST_BUCKETS.length) c.buckets[b] = (c.buckets[b] ?? 0) + 1;
      // (above the last bucket: only in +Inf, which is the count)
    },
    onDemand(decision) {
      decisions.inc({ decision });
    },
  };

  const json = () => registry.getMetricsAsJSON() as Promise<MetricsJson>;
  const perNameText = (): string => {
    if (!perNameFamilies.length) return '';
    const { shown } = shownNames();
    const now = clock();
    const out: string[] = [];
    for (const f of perNameFamilies) {
      out.push('', `# HELP ${f.name} ${f.help}`, `# TYPE ${f.name} gauge`);
      f.lines(shown, now, out);
    }
    return `${out.join('\n')}\n`;
  };
  return {
    contentType: registry.contentType,
    registry,
    edge,
    json,
    async text() {
      await view?.settled();
      if (!options.peers) return (await registry.metrics()) + perNameText();
      const [own, others] = await Promise.all([json(), options.peers().catch(() => [] as MetricsJson[])]);
      return (await AggregatorRegistry.aggregate([own, ...others]).metrics()) + perNameText();
    },
    onEvent(event) {
      if (event.type === 'cert_obtaining') attempts.inc();
      else if (event.type === 'cert_failed') failures.inc({ reason: failureReason(event) });
      else if (event.type === 'cert_obtained') obtained.inc();
      else if (event.type === 'attempts_exhausted') exhausted.inc();
    },
    trustLoaded(certificates, rejectedFiles) {
      trustSize.set(certificates);
      trustRejected.set(rejectedFiles);
      trustReloads.inc();
    },
    close() {
      stopAcme();
    },
  };
}
