/**
 * certgate as a library. The CLI is built on exactly these exports.
 * @example
 * import { inspect } from 'certgate';
 * const r = await inspect('db.internal:5432', { starttls: 'postgres' });
 * if (r.status === 'fail') console.log(r.findings.map((f) => `${f.code}: ${f.fix}`));
 */
export * from './acme/index.ts';
export { type AlertKind, type AlertPayload, type Alerts, type AlertsOptions, createAlerts, WebhookSender } from './alerts/index.ts';
export * from './diagnostics/index.ts';
export * from './edge/index.ts';
export { CertgateError, type ErrorCode, isCertgateError } from './errors.ts';
export { EVENT_CHANNEL, type EventListener } from './events.ts';
export { createLogger, type Logger, type LoggerOptions } from './log.ts';
export * from './maintenance/index.ts';
export * from './manager/index.ts';
export { CertificateView, createMetrics, type Metrics, type MetricsOptions, type NameView, type ReadyState } from './metrics/index.ts';
export { dataPaths } from './paths.ts';
export * from './pki/index.ts';
export * from './profiles/index.ts';
export * from './runtime/index.ts';
export * from './store/index.ts';
export * from './trust/index.ts';
