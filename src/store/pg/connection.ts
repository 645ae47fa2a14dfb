/**
 * @module store/pg/connection
 * certgate's own connection to its PostgreSQL store: the URL checked once, TLS decided from the
 * host (verify-full unless the server is on loopback), and a failed connection classified into
 * the layers `resources test` reports (DNS, TCP, TLS, auth) plus permissions, each with its fix.
 *
 * TLS policy (README "TLS to the database"):
 *   not loopback, no sslmode or any sslmode but disable → TLS, verify-full (CA: store.ca, else the system roots)
 *   not loopback, sslmode=disable                        → plaintext, because the URL says so explicitly
 *   loopback (127.0.0.0/8, ::1, localhost, a socket)     → sslmode honoured; none means plaintext
 */
import { readFileSync } from 'node:fs';
import { isIP } from 'node:net';
import { type ConnectionOptions, checkServerIdentity, rootCertificates } from 'node:tls';
import type { PoolConfig } from 'pg';
import { CertgateError, type ErrorCode } from '../../errors.ts';

export type StoreLayer = 'url' | 'dns' | 'tcp' | 'tls' | 'auth' | 'permission' | 'schema';

export interface PgTarget {
  /** The URL without its password, for messages. */
  display: string;
  host: string;
  port: number;
  database: string;
  loopback: boolean;
  /** How TLS is used: verify-full, unverified (loopback sslmode=require), or none. */
  tls: 'verify-full' | 'unverified' | 'none';
  config: PoolConfig;
}

const SSLMODES = ['disable', 'allow', 'prefer', 'require', 'verify-ca', 'verify-full'] as const;

export function isLoopback(host: string): boolean {
  if (host.startsWith('/') || host === 'localhost') return true;
  if (isIP(host) === 4) return host.startsWith('127.');
  return host === '::1' || host === '[::1]';
}

export function isPgUrl(spec: string): boolean {
  return /^postgres(ql)?:\/\//i.test(spec);
}

function badUrl(message: string, fix: string): CertgateError {
  return new CertgateError('E_STORE_URL', message, fix, { option: 'store' });
}

function readCa(file: string): string {
  try {
    return readFileSync(file, 'utf8');
  } catch (err) {
    throw new CertgateError(
      'E_FILE_NOT_FOUND',
      `the store CA bundle ${file} cannot be read (${(err as NodeJS.ErrnoException).code})`,
      "point store.ca at the PEM bundle of the CA that signed the database server's certificate (e.g. global-bundle.pem)",
      { option: 'storeCa' },
    );
  }
}

/** Parses and checks a postgres:// URL; throws E_STORE_URL with a fix. Reads the CA file. */
export function pgTarget(url: string, options: { caFile?: string; application?: string } = {}): PgTarget {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    throw badUrl('the store URL is not a URL', 'write it as postgres://USER:PASSWORD@HOST:5432/DATABASE');
  }
  if (!/^postgres(ql)?:$/.test(u.protocol))
    throw badUrl(`the store URL scheme ${u.protocol} is not postgres:`, 'write it as postgres://USER:PASSWORD@HOST:5432/DATABASE');
  const socket = u.searchParams.get('host');
  const host = socket ?? decodeURIComponent(u.hostname.replace(/^\[|\]$/g, ''));
  if (!host) throw badUrl('the store URL has no host', 'write it as postgres://USER:PASSWORD@HOST:5432/DATABASE');
  const database = decodeURIComponent(u.pathname.replace(/^\//, ''));
  if (!database) throw badUrl('the store URL names no database', 'end it with the database: postgres://USER@HOST:5432/certgate');
  const port = u.port ? Number(u.port) : 5432;
  const modeRaw = u.searchParams.get('sslmode');
  if (modeRaw !== null && !(SSLMODES as readonly string[]).includes(modeRaw))
    throw badUrl(`sslmode=${modeRaw} is not a PostgreSQL sslmode`, `use one of ${SSLMODES.join(', ')} (or leave it out: verify-full off loopback)`);
  for (const key of u.searchParams.keys())
    if (!['sslmode', 'host', 'application_name', 'connect_timeout'].includes(key))
      throw badUrl(
        `the store URL parameter ${key} is not supported`,
        'keep only sslmode (and host for a socket directory); the CA bundle is the store.ca setting',
      );
  const loopback = isLoopback(host);
  const tls: PgTarget['tls'] = loopback
    ? modeRaw === 'verify-full' || modeRaw === 'verify-ca'
      ? 'verify-full'
      : modeRaw === 'require'
        ? 'unverified'
        : 'none'
    : modeRaw === 'disable'
      ? 'none'
      : 'verify-full';
  let ssl: ConnectionOptions | false = false;
  if (tls === 'verify-full') {
    const ca = options.caFile ? readCa(options.caFile) : [...rootCertificates];
    // pg hands tls.connect no host for an IP address: the name is checked here against the URL's host.
    ssl = { ca, rejectUnauthorized: true, checkServerIdentity: (_name, cert) => checkServerIdentity(host, cert) };
    if (!isIP(host)) ssl.servername = host;
  } else if (tls === 'unverified') ssl = { rejectUnauthorized: false };
  const user = u.username ? decodeURIComponent(u.username) : 'postgres';
  const config: PoolConfig = {
    host,
    port,
    database,
    user,
    ssl,
    application_name: options.application ?? 'certgate',
    connectionTimeoutMillis: Number(u.searchParams.get('connect_timeout') ?? 10) * 1000,
  };
  if (u.password) config.password = decodeURIComponent(u.password);
  const shown = new URL(u.toString());
  if (shown.password) shown.password = '****';
  return { display: shown.toString(), host, port, database, loopback, tls, config };
}

const CODES: Record<StoreLayer, ErrorCode> = {
  url: 'E_STORE_URL',
  dns: 'E_STORE_CONNECT',
  tcp: 'E_STORE_CONNECT',
  tls: 'E_STORE_TLS',
  auth: 'E_STORE_AUTH',
  permission: 'E_STORE_PERMISSION',
  schema: 'E_STORE_SCHEMA',
};

/** A driver's error in the operator's words: which layer failed and what to change. Never includes the password. */
export function classifyPgError(err: unknown, target: Pick<PgTarget, 'host' | 'port' | 'database' | 'tls' | 'loopback'>): CertgateError {
  if (err instanceof CertgateError) return err;
  const e = err as NodeJS.ErrnoException & { code?: string; message?: string };
  const msg = String(e?.message ?? err);
  const where = `${target.host}:${target.port}`;
  const make = (layer: StoreLayer, message: string, fix: string) =>
    new CertgateError(CODES[layer], `store ${layer}: ${message}`, fix, { cause: err, option: 'store' });
  const code = e?.code ?? '';
  if (code === 'ENOTFOUND' || code === 'EAI_AGAIN')
    return make('dns', `${target.host} does not resolve (${code})`, 'check the host in the store URL and the DNS of this machine');
  if (code === 'ECONNREFUSED')
    return make('tcp', `nothing listens on ${where} (connection refused)`, 'start PostgreSQL or fix the host and port in the store URL');
  if (code === 'ETIMEDOUT' || /timeout/i.test(msg))
    return make('tcp', `${where} did not answer in time`, 'check that PostgreSQL runs and that a firewall lets this machine reach the port');
  if (code === 'EHOSTUNREACH' || code === 'ENETUNREACH') return make('tcp', `${where} is unreachable (${code})`, 'check the network route to the database');
  if (/does not support SSL/i.test(msg))
    return make(
      'tls',
      `${where} does not offer TLS, and the store needs verify-full for a host off loopback`,
      'turn ssl on in PostgreSQL (ssl = on with a certificate), or add sslmode=disable to the URL to send the password in plaintext on purpose',
    );
  if (
    /certificate|self.signed|unable to (get|verify)|Hostname\/IP does not match|ERR_TLS_CERT|SSL|TLS/i.test(msg) ||
    /^(CERT_|DEPTH_ZERO|UNABLE_TO|ERR_TLS|ERR_SSL)/.test(code)
  )
    return make(
      'tls',
      `the database certificate of ${where} is not trusted for verify-full (${msg.slice(0, 160)})`,
      /does not match/i.test(msg)
        ? 'use the host name the database certificate is issued for in the store URL'
        : "set store.ca to the PEM bundle of the CA that signed the database's certificate (e.g. the provider's global-bundle.pem)",
    );
  if (code === '28P01' || /password authentication failed/i.test(msg))
    return make(
      'auth',
      `the database refused the user or password (${code || 'auth'})`,
      'fix the user and password in the store URL (percent-encode special characters)',
    );
  if (/client password must be a string|SASL/i.test(msg))
    return make('auth', 'the database asks for a password and the store URL has none', 'put the password in the store URL: postgres://USER:PASSWORD@HOST/DB');
  if (code === '28000' || /no pg_hba.conf entry/i.test(msg))
    return make(
      'auth',
      `the database does not let this user in from here (${msg.slice(0, 160)})`,
      'add a pg_hba.conf line for this user, database and address, or use TLS if the line is hostssl',
    );
  if (code === '3D000')
    return make(
      'auth',
      `the database "${target.database}" does not exist`,
      `create it (createdb ${target.database}) or fix the database name in the store URL`,
    );
  if (code === '42501' || /permission denied/i.test(msg))
    return make(
      'permission',
      `the store user lacks a permission (${msg.slice(0, 160)})`,
      `grant it: GRANT CREATE, USAGE ON SCHEMA public TO <user>; and own or be granted the certgate_* tables in ${target.database}`,
    );
  if (code === '57P01' || code === '57P03' || code === 'ECONNRESET' || /terminat|Connection terminated/i.test(msg))
    return new CertgateError(
      'E_STORE_DOWN',
      `store: the database at ${where} went away (${msg.slice(0, 120)})`,
      'certgate reconnects by itself; check PostgreSQL',
      {
        cause: err,
      },
    );
  return new CertgateError('E_STORE', `store: ${msg.slice(0, 200)}`, 'check the database and the store URL', { cause: err });
}
