/**
 * @module cli/settings/rows
 * The one place that names flags, CERTGATE_* variables and config-file paths. Each row is one
 * setting of the runtime (src/runtime/settings.ts); the compiler checks that the serve table
 * covers every runtime setting.
 */
import { join } from 'node:path';
import { z } from 'zod';
import { KEY_TYPES, type KeyType } from '../../acme/issuer.ts';
import { DEFAULT_ADMIN_LISTEN, parseAdminListen } from '../../admin/listen.ts';
import type { AcmeSettings, ServerSettings } from '../../runtime/settings.ts';
import { decodeStoreKey, STORE_KEY_FORMAT } from '../../store/crypt.ts';
import type { Kind } from './kinds.ts';
import { bool, cidr, duration, hostName, int, listenHost, listOf, oneOf, path, port, routes, text, urlOf, workers } from './kinds.ts';
import { type Context, type Row, row } from './table.ts';

/** HOST:PORT, unix:/path or off, checked by the admin listener's own parser. */
const adminListen: Kind<string> = {
  expect: 'HOST:PORT, unix:/path/to.sock, or off',
  arg: 'ADDR',
  schema: text.schema.refine((v) => {
    try {
      parseAdminListen(v);
      return true;
    } catch {
      return false;
    }
  }),
  fromText: (t) => t.trim(),
};

const CHALLENGES = ['http-01', 'tls-alpn-01', 'dns-01'] as const;
const MINUTE = 60_000;
const DAY = 86_400_000;

/** serve listens on 443/80 as root, 8443/8080 otherwise (the first README command works as it is); issue answers on 443/80. */
const privileged = (rootPort: number, userPort: number) => (ctx: Context) => (ctx.command !== 'serve' || ctx.root ? rootPort : userPort);

function defaultData(ctx: Context): string {
  const base = ctx.env.XDG_DATA_HOME || join(ctx.env.HOME || '/root', '.local', 'share');
  return join(base, 'certgate');
}

/** A store key's text; the value is never echoed (the rows are secret). */
const storeKeyText = {
  expect: STORE_KEY_FORMAT,
  arg: 'KEY',
  schema: z.string().refine((t) => decodeStoreKey(t) !== null),
  fromText: (t: string) => t,
};

type Rows<S> = { [K in keyof S]-?: Row<S[K]> };

export const ACME_ROWS: Rows<AcmeSettings> = {
  data: row<string>({
    flag: 'data',
    env: 'CERTGATE_DATA',
    file: 'data',
    kind: path('DIR'),
    default: defaultData,
    defaultText: '$XDG_DATA_HOME/certgate or ~/.local/share/certgate',
    help: 'the data directory: certificates, keys, state, ca-certs, resources',
  }),
  store: row<string | undefined>({
    flag: 'store',
    env: 'CERTGATE_STORE',
    // An object in the file, beside store.ca and store.lease.
    file: 'store.url',
    kind: {
      ...text,
      arg: 'URL',
      expect: 'a postgres:// URL (postgres://USER:PASSWORD@HOST:5432/DATABASE)',
      schema: z.string().regex(/^postgres(ql)?:\/\/\S+$/i),
    },
    default: undefined,
    defaultText: 'the data directory (filesystem)',
    help: 'a PostgreSQL store shared by several nodes: postgres://USER:PASSWORD@HOST:5432/DATABASE (TLS verify-full off loopback)',
  }),
  storeCa: row<string | undefined>({
    flag: 'store-ca',
    env: 'CERTGATE_STORE_CA',
    file: 'store.ca',
    kind: path(),
    default: undefined,
    defaultText: 'the system roots',
    help: "PEM bundle of the CA that signed the database server's certificate (e.g. global-bundle.pem)",
  }),
  storeLease: row<number>({
    flag: 'store-lease',
    env: 'CERTGATE_STORE_LEASE',
    file: 'store.lease',
    kind: duration(1_000, 3_600_000),
    default: 60_000,
    help: 'how long a PostgreSQL lock lease lasts unrenewed (renewed every third of it while held)',
  }),
  acmeDirectory: row<string>({
    flag: 'directory',
    env: 'CERTGATE_ACME_DIRECTORY',
    file: 'acme.directory',
    kind: { ...text, arg: 'URL|PRESET', expect: 'letsencrypt, letsencrypt-staging, zerossl or an https:// directory URL' },
    default: 'letsencrypt',
    help: 'the ACME CA: letsencrypt, letsencrypt-staging, zerossl, or the https:// URL of any directory',
  }),
  acmeEmail: row<string | undefined>({
    flag: 'email',
    env: 'CERTGATE_ACME_EMAIL',
    file: 'acme.email',
    kind: { ...text, arg: 'EMAIL', expect: 'an email address' },
    default: undefined,
    help: "the ACME account's contact; required for a public CA",
  }),
  acmeAgreeTos: row<boolean>({
    flag: 'agree-tos',
    env: 'CERTGATE_ACME_AGREE_TOS',
    file: 'acme.agreeToTerms',
    kind: bool,
    default: false,
    help: "agreement to the CA's terms of service (required, explicit)",
  }),
  acmeCaRoot: row<string | undefined>({
    flag: 'ca-root',
    env: 'CERTGATE_ACME_CA_ROOT',
    file: 'acme.caRoot',
    kind: path(),
    default: undefined,
    help: "PEM of the CA that signed the ACME directory's own HTTPS certificate (Pebble, a private CA)",
  }),
  challenges: row<Array<(typeof CHALLENGES)[number]> | undefined>({
    flag: 'challenges',
    env: 'CERTGATE_CHALLENGES',
    file: 'acme.challenges',
    kind: listOf(oneOf(CHALLENGES), 'LIST'),
    default: undefined,
    defaultText: 'http-01,tls-alpn-01 (+ dns-01 with a hook)',
    help: 'challenge types in order; a failed validation moves to the next type',
  }),
  dnsHook: row<string | undefined>({
    flag: 'dns-hook',
    env: 'CERTGATE_DNS_HOOK',
    file: 'acme.dnsHook',
    kind: { ...text, arg: 'CMD', expect: 'a command' },
    default: undefined,
    help: 'DNS-01: a command that publishes (present) and removes (cleanup) the TXT record',
  }),
  keyType: row<KeyType>({
    flag: 'key-type',
    env: 'CERTGATE_KEY_TYPE',
    file: 'acme.keyType',
    kind: oneOf(KEY_TYPES),
    default: 'ec-p256',
    help: "the certificates' key type",
  }),
  domain: row<string | undefined>({
    flag: 'domain',
    env: 'CERTGATE_DOMAIN',
    file: 'domain',
    kind: hostName,
    default: undefined,
    defaultText: 'the first domain visited',
    help: 'the main domain',
  }),
  ask: row<string | undefined>({
    flag: 'ask',
    env: 'CERTGATE_ASK',
    file: 'ask',
    kind: urlOf(['http', 'https']),
    default: undefined,
    help: 'names not registered here are allowed when GET URL?domain=NAME answers 2xx',
  }),
  maintenanceInterval: row<number>({
    flag: 'maintenance-interval',
    env: 'CERTGATE_MAINTENANCE_INTERVAL',
    file: 'maintenanceInterval',
    kind: duration(MINUTE, 30 * DAY),
    default: DAY,
    defaultText: '24h',
    help: 'between maintenance cycles',
  }),
  acmeOrderBudget: row<number>({
    flag: 'acme-order-budget',
    env: 'CERTGATE_ACME_ORDER_BUDGET',
    file: 'acme.orderBudget',
    kind: int(1, 1_000_000),
    default: 300,
    help: "new orders per account in 3 hours, counted by certgate before the CA does (Let's Encrypt's limit); raise it only for a CA that allows more (a private CA, Pebble)",
  }),
  allowIp: row<boolean>({
    flag: 'allow-ip',
    env: 'CERTGATE_ALLOW_IP',
    file: 'acme.allowIp',
    kind: bool,
    default: false,
    help: 'the CA issues for IP addresses',
  }),
  httpPort: row<number | null>({
    flag: 'http-port',
    env: 'CERTGATE_HTTP_PORT',
    file: 'listen.http',
    kind: port,
    nullable: true,
    default: privileged(80, 8080),
    defaultText: '80 (serve: 8080 unless root)',
    help: 'HTTP: ACME HTTP-01, the redirect to HTTPS (or the app, behind a proxy); off: none',
  }),
  httpsPort: row<number | null>({
    flag: 'https-port',
    env: 'CERTGATE_HTTPS_PORT',
    file: 'listen.https',
    kind: port,
    nullable: true,
    default: privileged(443, 8443),
    defaultText: '443 (serve: 8443 unless root)',
    help: 'HTTPS and TLS-ALPN-01; off: no HTTPS listener (behind a TLS-terminating proxy)',
  }),
  // No flag for a key itself: a command line is visible to every user in the process list.
  storeKey: row<string | undefined>({
    env: 'CERTGATE_STORE_KEY',
    file: 'storeKey',
    kind: storeKeyText,
    default: undefined,
    defaultText: 'none: keys stored plain',
    secret: true,
    help: 'encrypts private keys and ACME account keys at rest (AES-256-GCM): 32 bytes as 64 hex digits or base64 (openssl rand -base64 32)',
  }),
  storeKeyFile: row<string | undefined>({
    flag: 'store-key-file',
    env: 'CERTGATE_STORE_KEY_FILE',
    file: 'storeKeyFile',
    kind: path(),
    default: undefined,
    help: 'a file holding the store key (a Docker or systemd secret), instead of CERTGATE_STORE_KEY',
  }),
  storeKeyOld: row<string | undefined>({
    env: 'CERTGATE_STORE_KEY_OLD',
    file: 'storeKeyOld',
    kind: storeKeyText,
    default: undefined,
    secret: true,
    help: 'the previous store key: still read (never written) while store rekey moves the store to the new one',
  }),
  storeKeyOldFile: row<string | undefined>({
    flag: 'store-key-old-file',
    env: 'CERTGATE_STORE_KEY_OLD_FILE',
    file: 'storeKeyOldFile',
    kind: path(),
    default: undefined,
    help: 'a file holding the previous store key, instead of CERTGATE_STORE_KEY_OLD',
  }),
};

const SERVER_ONLY: Rows<Omit<ServerSettings, keyof AcmeSettings>> = {
  mode: row<'production' | 'development'>({
    flag: 'mode',
    env: 'CERTGATE_MODE',
    file: 'mode',
    kind: oneOf(['production', 'development'] as const),
    default: 'production',
    help: 'development: the local CA only; production: ACME for public names when configured',
  }),
  upstream: row<string | null>({
    flag: 'upstream',
    env: 'CERTGATE_UPSTREAM',
    file: 'upstream',
    kind: urlOf(['http'], { origin: true }),
    nullable: true,
    default: null,
    defaultText: "none (certgate's own page)",
    help: 'the app, e.g. http://127.0.0.1:3000',
  }),
  routes: row<Record<string, string>>({
    flag: 'route',
    env: 'CERTGATE_ROUTES',
    file: 'routes',
    kind: { ...routes, arg: 'HOST=URL[,HOST=URL]' },
    default: {},
    defaultText: 'none',
    help: 'hosts with their own upstream',
  }),
  host: row<string | undefined>({
    flag: 'host',
    env: 'CERTGATE_HOST',
    file: 'listen.host',
    kind: listenHost,
    default: undefined,
    defaultText: 'all addresses',
    help: 'the address to listen on',
  }),
  redirect: row<boolean>({
    flag: 'redirect',
    env: 'CERTGATE_REDIRECT',
    file: 'redirect',
    kind: bool,
    default: true,
    help: '308 from HTTP to HTTPS',
  }),
  hsts: row<boolean>({
    flag: 'hsts',
    env: 'CERTGATE_HSTS',
    file: 'hsts',
    kind: bool,
    default: true,
    // `hsts: { maxAge: ... }` in the file means HSTS on.
    fromFile: (v) => (v !== null && typeof v === 'object' && !Array.isArray(v) ? true : v),
    help: 'Strict-Transport-Security, sent over HTTPS and never for local names',
  }),
  hstsMaxAge: row<number>({
    flag: 'hsts-max-age',
    env: 'CERTGATE_HSTS_MAX_AGE',
    file: 'hsts.maxAge',
    kind: { ...int(0, 63_072_000), arg: 'SECONDS' },
    default: 31_536_000,
    help: 'HSTS max-age in seconds',
  }),
  hstsIncludeSubdomains: row<boolean>({
    flag: 'hsts-include-subdomains',
    env: 'CERTGATE_HSTS_INCLUDE_SUBDOMAINS',
    file: 'hsts.includeSubDomains',
    kind: bool,
    default: false,
    help: 'HSTS includeSubDomains',
  }),
  hstsPreload: row<boolean>({
    flag: 'hsts-preload',
    env: 'CERTGATE_HSTS_PRELOAD',
    file: 'hsts.preload',
    kind: bool,
    default: false,
    help: 'HSTS preload',
  }),
  behindProxy: row<string[] | null>({
    flag: 'behind-proxy',
    env: 'CERTGATE_BEHIND_PROXY',
    file: 'behindProxy.trustedProxies',
    kind: listOf(cidr, 'CIDR[,CIDR]'),
    nullable: true,
    default: null,
    defaultText: 'off',
    help: 'TLS ends at a load balancer at these addresses; forwarded headers are trusted from them only',
  }),
  behindProxyTls: row<boolean>({
    flag: 'behind-proxy-tls',
    env: 'CERTGATE_BEHIND_PROXY_TLS',
    file: 'behindProxy.tls',
    kind: bool,
    default: false,
    help: 'behind a load balancer, keep the HTTPS listener for it',
  }),
  defaultSni: row<string | undefined>({
    flag: 'default-sni',
    env: 'CERTGATE_DEFAULT_SNI',
    file: 'defaultSni',
    kind: hostName,
    default: undefined,
    defaultText: 'the main domain, else localhost',
    help: 'the certificate for clients that send no SNI',
  }),
  accessLog: row<boolean>({
    flag: 'access-log',
    env: 'CERTGATE_ACCESS_LOG',
    file: 'accessLog',
    kind: bool,
    default: false,
    help: 'one JSON line per request on standard output',
  }),
  onDemandPerMinute: row<number>({
    flag: 'on-demand-per-minute',
    env: 'CERTGATE_ON_DEMAND_PER_MINUTE',
    file: 'onDemand.perMinute',
    kind: int(0, 10_000),
    default: 30,
    help: 'on-demand issuances per minute, all names together',
  }),
  onDemandPerClient: row<number>({
    flag: 'on-demand-per-client',
    env: 'CERTGATE_ON_DEMAND_PER_CLIENT',
    file: 'onDemand.perClient',
    kind: int(0, 10_000),
    default: 10,
    help: 'on-demand issuances one client address (IPv6: its /64) may cause per 10 minutes',
  }),
  onDemandWait: row<number>({
    flag: 'on-demand-wait',
    env: 'CERTGATE_ON_DEMAND_WAIT',
    file: 'onDemand.wait',
    kind: duration(0, 10 * MINUTE),
    default: 20_000,
    defaultText: '20s',
    help: 'how long a first handshake waits for its certificate before the "on its way" page',
  }),
  metrics: row<boolean>({
    flag: 'metrics',
    env: 'CERTGATE_METRICS',
    file: 'metrics',
    kind: bool,
    default: true,
    // `metrics: { maxNames: ... }` in the file means metrics on.
    fromFile: (v) => (v !== null && typeof v === 'object' && !Array.isArray(v) ? true : v),
    help: 'Prometheus metrics, served at /metrics on the admin listener',
  }),
  metricsMaxNames: row<number>({
    flag: 'metrics-max-names',
    env: 'CERTGATE_METRICS_MAX_NAMES',
    file: 'metrics.maxNames',
    kind: int(0, 1_000_000),
    default: 10_000,
    help: 'names with their own metric series (those expiring soonest); the rest are counted in certgate_certificates{state}',
  }),
  alertsWebhooks: row<string[] | null>({
    flag: 'alerts-webhook',
    env: 'CERTGATE_ALERTS_WEBHOOK',
    file: 'alerts.webhook',
    kind: listOf(urlOf(['http', 'https']), 'URL[,URL]'),
    nullable: true,
    // One URL or a list in the file.
    fromFile: (v) => (typeof v === 'string' ? [v] : v),
    default: null,
    defaultText: 'off',
    // A webhook URL is often its own credential (Slack's, Discord's): never shown.
    secret: true,
    help: 'webhooks that receive alerts (JSON POST): a name failing, attempts exhausted, a certificate in its last tenth of life, the CA unreachable for an hour, a trust file rejected',
  }),
  alertsSecret: row<string | undefined>({
    env: 'CERTGATE_ALERTS_SECRET',
    file: 'alerts.secret',
    kind: { ...text, arg: 'SECRET', expect: 'a non-empty secret' },
    default: undefined,
    secret: true,
    defaultText: 'unsigned',
    help: 'HMAC-SHA256 key of the X-Certgate-Signature header; no flag (a flag shows in ps); never logged or shown',
  }),
  adminListen: row<string>({
    flag: 'admin-listen',
    env: 'CERTGATE_ADMIN_LISTEN',
    file: 'admin.listen',
    kind: adminListen,
    default: DEFAULT_ADMIN_LISTEN,
    help: 'the admin API and dashboard: HOST:PORT, unix:/path/to.sock, or off; off loopback it needs admin.tls',
  }),
  adminTls: row<string>({
    flag: 'admin-tls',
    env: 'CERTGATE_ADMIN_TLS',
    file: 'admin.tls',
    kind: {
      ...text,
      arg: 'off|local-ca|DOMAIN',
      expect: 'off, local-ca, or a managed domain whose certificate the admin listener uses',
      schema: text.schema.refine((v) => v === 'off' || v === 'local-ca' || hostName.schema.safeParse(v).success),
    },
    default: 'off',
    help: "TLS for the admin listener: off (loopback and sockets only), local-ca, or a managed domain's certificate",
  }),
};

export const SERVER_ROWS: Rows<ServerSettings> = { ...ACME_ROWS, ...SERVER_ONLY };

/** Rows the CLI reads but the runtime does not take. */
export const CONFIG_ROW = row<string | undefined>({
  flag: 'config',
  env: 'CERTGATE_CONFIG',
  kind: path(),
  default: undefined,
  help: 'a YAML or JSON configuration file',
});

export const WORKERS_ROW = row<'auto' | number>({
  flag: 'workers',
  env: 'CERTGATE_WORKERS',
  file: 'workers',
  kind: workers,
  default: 1,
  help: 'serving processes; auto: one per core',
});

export const SERVE_TABLE = { config: CONFIG_ROW, ...SERVER_ROWS, workers: WORKERS_ROW };
export const ACME_TABLE = { config: CONFIG_ROW, ...ACME_ROWS };
export const DATA_TABLE = { data: ACME_ROWS.data };

/** `store rekey`: the store (a data directory or a PostgreSQL URL) and the store keys (the new one, and the old one it replaces). */
export const STORE_TABLE = {
  config: CONFIG_ROW,
  data: ACME_ROWS.data,
  store: ACME_ROWS.store,
  storeCa: ACME_ROWS.storeCa,
  storeKey: ACME_ROWS.storeKey,
  storeKeyFile: ACME_ROWS.storeKeyFile,
  storeKeyOld: ACME_ROWS.storeKeyOld,
  storeKeyOldFile: ACME_ROWS.storeKeyOldFile,
};
