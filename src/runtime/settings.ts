/**
 * @module runtime/settings
 * Everything the running server is built from: plain, typed data. The CLI fills it from flags,
 * CERTGATE_* variables and the config file; an embedder fills it directly. Nothing here knows
 * where a value came from. Durations are milliseconds; `null` means "off".
 */
import type { ChallengeType } from '../acme/challenges.ts';
import type { KeyType } from '../acme/issuer.ts';

export interface AcmeSettings {
  /** The data directory (absolute). */
  data: string;
  /** A postgres:// URL: the shared PostgreSQL store; undefined: the filesystem under data. */
  store: string | undefined;
  /** CA bundle for the store connection's TLS; undefined: the system roots. */
  storeCa: string | undefined;
  /** A PostgreSQL lock lease (ms), renewed every third of it while held. */
  storeLease: number;
  /** Preset (`letsencrypt`, `letsencrypt-staging`, `zerossl`) or the directory's https:// URL. */
  acmeDirectory: string;
  acmeEmail: string | undefined;
  acmeAgreeTos: boolean;
  /** PEM file of the CA that signed the ACME directory's own certificate (Pebble, a private CA). */
  acmeCaRoot: string | undefined;
  /** Challenge types in order of preference; undefined: http-01, tls-alpn-01 (+ dns-01 with a hook). */
  challenges: ChallengeType[] | undefined;
  dnsHook: string | undefined;
  keyType: KeyType;
  /** The main domain; undefined: the first domain visited. */
  domain: string | undefined;
  ask: string | undefined;
  maintenanceInterval: number;
  /** New orders per account per 3 hours that certgate allows itself (the CA's limit; 300 for Let's Encrypt). */
  acmeOrderBudget: number;
  allowIp: boolean;
  /** Where HTTP-01 is answered (and serve's HTTP listener); null: none. */
  httpPort: number | null;
  /** Where TLS-ALPN-01 is answered (and serve's HTTPS listener); null: none. */
  httpsPort: number | null;
  /** The store key (32 bytes, hex or base64) that seals private keys at rest; undefined: plain. Never logged. */
  storeKey: string | undefined;
  /** A file holding the store key (instead of storeKey). */
  storeKeyFile: string | undefined;
  /** The previous store key, still read while a rekey moves the store to storeKey. */
  storeKeyOld: string | undefined;
  storeKeyOldFile: string | undefined;
}

export interface ServerSettings extends AcmeSettings {
  mode: 'production' | 'development';
  upstream: string | null;
  routes: Record<string, string>;
  host: string | undefined;
  redirect: boolean;
  hsts: boolean;
  hstsMaxAge: number;
  hstsIncludeSubdomains: boolean;
  hstsPreload: boolean;
  /** Trusted load-balancer addresses (CIDRs); null: not behind a proxy. */
  behindProxy: string[] | null;
  behindProxyTls: boolean;
  /** The certificate for clients without SNI; undefined: the main domain's, else a local-CA one. */
  defaultSni: string | undefined;
  accessLog: boolean;
  onDemandPerMinute: number;
  onDemandPerClient: number;
  onDemandWait: number;
  /** Prometheus metrics (served on the admin listener at /metrics). */
  metrics: boolean;
  /** Names with their own per-name series; the rest are counted in aggregates. */
  metricsMaxNames: number;
  /** Webhook URLs alerts are POSTed to; null: no alerts. */
  alertsWebhooks: string[] | null;
  /** HMAC-SHA256 key for the X-Certgate-Signature header; undefined: unsigned. */
  alertsSecret: string | undefined;
  /** The admin API and dashboard: `host:port`, `unix:/path`, or `off`. */
  adminListen: string;
  /** TLS for the admin listener: `off`, `local-ca`, or a managed domain whose certificate it uses. Required off loopback. */
  adminTls: string;
}

/** Settings that SIGHUP can change without a restart. */
export const RELOADABLE = [
  'upstream',
  'routes',
  'redirect',
  'hsts',
  'hstsMaxAge',
  'hstsIncludeSubdomains',
  'hstsPreload',
  'behindProxy',
  'defaultSni',
] as const satisfies ReadonlyArray<keyof ServerSettings>;

/** Settings whose values are secrets: never shown (config show, the admin API), never logged. */
export const SECRET_SETTINGS: ReadonlySet<string> = new Set(['storeKey', 'storeKeyOld', 'alertsSecret', 'alertsWebhooks']);
