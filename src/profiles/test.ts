/**
 * @module profiles/test
 * `resources test`: a connection checked layer by layer (DNS, TCP, TLS, authentication,
 * topology), each with its own verdict and fix, so an operator sees where it breaks.
 */
import { lookup as dnsLookup } from 'node:dns/promises';
import { isIP, type LookupFunction, connect as netConnect } from 'node:net';
import { type InspectResult, inspect } from '../diagnostics/inspect.ts';
import { CertgateError } from '../errors.ts';
import { decodeCertificate } from '../pki/certificate.ts';
import type { Finding, Status } from '../pki/findings.ts';
import { parsePem } from '../pki/pem.ts';
import { ioredisOptions, mongodbOptions, mysql2Options, pgOptions, undiciDispatcher } from './drivers.ts';
import { classifyMongoError, missingMongoRoles } from './mongo.ts';
import type { ResolvedTls } from './resolve.ts';
import type { Resource } from './schema.ts';

export type Layer = 'dns' | 'tcp' | 'tls' | 'auth' | 'topology';

/**
 * Stable codes of what the auth layer found, where a driver's own text would not say what to
 * change. Documented in the README with `resources test --json`.
 */
export type AuthCode =
  | 'AUTH_PASSWORD_MISSING'
  | 'AUTH_PASSWORD_REFUSED'
  | 'AUTH_CLIENT_CERT_MISSING'
  | 'AUTH_CLIENT_CERT_USER'
  | 'AUTH_DRIVER_PINNED_CA_ISSUED';

export interface LayerResult {
  layer: Layer;
  status: 'ok' | 'warn' | 'fail' | 'skipped';
  ms: number | null;
  message: string;
  fix: string | null;
  /** Set when the auth layer recognised the failure (see AuthCode). */
  code?: AuthCode;
  findings?: Finding[];
}

export interface ResourceTestResult {
  resource: string;
  kind: Resource['kind'];
  target: string;
  mode: ResolvedTls['mode'];
  status: Status;
  warning: string | null;
  layers: LayerResult[];
}

export interface TestOptions {
  timeoutMs?: number;
  password?: string;
  lookup?: LookupFunction;
}

const ms = (t0: number) => Math.round((performance.now() - t0) * 10) / 10;

async function dnsLayer(r: Resource, options: TestOptions): Promise<LayerResult> {
  if (isIP(r.host)) return { layer: 'dns', status: 'skipped', ms: null, message: `${r.host} is an IP address`, fix: null };
  const t0 = performance.now();
  try {
    const addresses = options.lookup
      ? await new Promise<string[]>((resolve, reject) =>
          (options.lookup as LookupFunction)(r.host, { all: true }, (err, addrs) =>
            err ? reject(err) : resolve((addrs as unknown as Array<{ address: string }>).map((a) => a.address)),
          ),
        )
      : (await dnsLookup(r.host, { all: true })).map((a) => a.address);
    return { layer: 'dns', status: 'ok', ms: ms(t0), message: `${r.host} → ${addresses.join(', ')}`, fix: null };
  } catch (err) {
    return {
      layer: 'dns',
      status: 'fail',
      ms: ms(t0),
      message: `${r.host} does not resolve (${(err as NodeJS.ErrnoException).code})`,
      fix: 'check the host name in the resource and the DNS of this machine (or /etc/hosts)',
    };
  }
}

async function tcpLayer(r: Resource, options: TestOptions, timeoutMs: number): Promise<LayerResult> {
  const t0 = performance.now();
  return new Promise((resolve) => {
    const socket = netConnect({ host: r.host, port: r.port, ...(options.lookup ? { lookup: options.lookup } : {}) });
    const timer = setTimeout(() => {
      socket.destroy();
      resolve({
        layer: 'tcp',
        status: 'fail',
        ms: ms(t0),
        message: `${r.host}:${r.port} did not answer within ${timeoutMs} ms`,
        fix: 'check firewalls and security groups between this machine and the host',
      });
    }, timeoutMs);
    socket.once('connect', () => {
      clearTimeout(timer);
      const addr = `${socket.remoteAddress}:${socket.remotePort}`;
      socket.destroy();
      resolve({ layer: 'tcp', status: 'ok', ms: ms(t0), message: `connected to ${addr}`, fix: null });
    });
    socket.once('error', (err: NodeJS.ErrnoException) => {
      clearTimeout(timer);
      resolve({
        layer: 'tcp',
        status: 'fail',
        ms: ms(t0),
        message:
          err.code === 'ECONNREFUSED' ? `${r.host}:${r.port} refused the connection: nothing listens there` : `${r.host}:${r.port}: ${err.code ?? err.message}`,
        fix: err.code === 'ECONNREFUSED' ? 'check the port and that the service runs' : 'check routing and firewalls',
      });
    });
  });
}

const TRUST_CODES = new Set(['SELF_SIGNED_LEAF', 'UNTRUSTED_ROOT', 'CHAIN_INCOMPLETE', 'HOSTNAME_MISMATCH', 'VERIFY_FAILED']);

/** Applies the mode's meaning to what inspect found. */
export function applyMode(result: InspectResult, t: ResolvedTls, r: Resource): Finding[] {
  // inspect's fixes name its own flags; here the fix is in the resource file.
  let findings = result.findings.map((f) =>
    f.code === 'CLIENT_CERT_REQUIRED'
      ? {
          ...f,
          fix: `set tls.clientCert and tls.clientKey in the resource (a certificate the server's CA issued): certgate resources add ${r.name} --kind ${r.kind} ... --client-cert FILE --client-key FILE --replace`,
        }
      : f,
  );
  if (t.mode === 'verify-ca') {
    if (findings.some((f) => f.code === 'HOSTNAME_MISMATCH')) {
      findings = findings.filter((f) => f.code !== 'HOSTNAME_MISMATCH');
      findings.push({
        code: 'HOSTNAME_MISMATCH',
        severity: 'info',
        certificate: 0,
        message: `verify-ca: the certificate does not name ${t.servername ?? r.host}, and this mode does not check names; any certificate from the same CA would pass`,
        fix: 'use mode full with the right servername when you can',
      });
    }
  } else if (t.mode === 'pinned') {
    const leaf = result.chain[0];
    const matches = leaf && (t.pinnedFingerprints.includes(leaf.fingerprints.sha256) || t.spkiPins.includes(leaf.spkiSha256));
    findings = findings.filter((f) => !TRUST_CODES.has(f.code) && !(f.code === 'CHAIN_ROOT_SENT'));
    if (leaf && !matches) {
      findings.unshift({
        code: 'VERIFY_FAILED',
        severity: 'error',
        certificate: 0,
        message: `the server presents a different certificate than the one pinned (SHA-256 ${leaf.fingerprints.sha256})`,
        fix: `if it was renewed on purpose, pin the new one: certgate resources pin ${r.name} --from ${r.host}:${r.port}`,
      });
    }
  } else if (t.mode === 'skip') {
    findings = findings.map((f) => (f.severity === 'error' && TRUST_CODES.has(f.code) ? { ...f, severity: 'warning' } : f));
    findings.push({
      code: 'VERIFY_FAILED',
      severity: 'warning',
      certificate: null,
      message: t.warning ?? 'verification is off',
      fix: 'pin the certificate (mode pinned) or add its CA (mode full) instead of skipping',
    });
  }
  return findings;
}

async function tlsLayer(r: Resource, t: ResolvedTls, options: TestOptions, timeoutMs: number): Promise<LayerResult> {
  const t0 = performance.now();
  const starttls = r.kind === 'postgres' ? 'postgres' : r.kind === 'mysql' ? 'mysql' : undefined;
  try {
    const result = await inspect(`${r.host.includes(':') ? `[${r.host}]` : r.host}:${r.port}`, {
      caPem: t.ca,
      caLabel: t.mode === 'pinned' ? 'the pinned certificate' : 'the resource CA + trust store',
      systemRoots: false,
      timeoutMs,
      ...(t.servername ? { servername: t.servername } : {}),
      ...(starttls ? { starttls } : {}),
      ...(t.cert ? { clientCert: t.cert, clientKey: t.key } : {}),
      ...(options.lookup ? { lookup: options.lookup } : {}),
    });
    const findings = applyMode(result, t, r);
    const errors = findings.filter((f) => f.severity === 'error');
    const warnings = findings.filter((f) => f.severity === 'warning');
    const status = errors.length ? 'fail' : warnings.length ? 'warn' : 'ok';
    const first = errors[0] ?? warnings[0];
    return {
      layer: 'tls',
      status,
      ms: ms(t0),
      message: first
        ? first.message
        : `${result.tls?.protocol ?? 'TLS'} with "${result.chain[0]?.subjectCommonName ?? result.chain[0]?.subject}", verified (${t.mode})`,
      fix: first ? first.fix : null,
      findings,
    };
  } catch (err) {
    const e = err as CertgateError;
    return { layer: 'tls', status: 'fail', ms: ms(t0), message: e.message, fix: e.fix ?? null };
  }
}

function timeout<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(
      () => reject(new CertgateError('E_TIMEOUT', `${what} did not finish within ${ms} ms`, 'raise --timeout, or check the server')),
      ms,
    );
    p.then(
      (v) => {
        clearTimeout(timer);
        resolve(v);
      },
      (e) => {
        clearTimeout(timer);
        reject(e);
      },
    );
  });
}

interface AuthOutcome {
  status: LayerResult['status'];
  message: string;
  fix: string | null;
  code?: AuthCode;
  topology?: LayerResult;
}

/** The subject and issuer CNs of the first certificate in PEM text. */
function names(pem: string): { cn: string | null; issuer: string; selfIssued: boolean } | null {
  const der = parsePem(pem).find((b) => b.label === 'CERTIFICATE')?.der;
  if (!der) return null;
  const info = decodeCertificate(der).info;
  return { cn: info.subjectCommonName, issuer: info.issuerCommonName ?? info.issuer, selfIssued: info.subject === info.issuer };
}

const passwordFix = (r: Resource) =>
  `set password.env or password.file in the resource: password: { env: VAR } or { file: PATH } (certgate resources add ${r.name} ... --password-env VAR --replace)`;

async function authPostgres(r: Resource, t: ResolvedTls, o: TestOptions, timeoutMs: number): Promise<AuthOutcome> {
  const { default: pg } = await import('pg');
  const client = new pg.Client({ ...pgOptions(r, t, o.password), connectionTimeoutMillis: timeoutMs });
  client.on('error', () => {});
  try {
    await timeout(client.connect(), timeoutMs, 'the PostgreSQL login');
    const res = await client.query('select current_user as u, version() as v');
    return { status: 'ok', message: `logged in as ${res.rows[0]?.u}; ${String(res.rows[0]?.v).split(' on ')[0]}`, fix: null };
  } catch (err) {
    const e = err as { code?: string; message: string };
    // pg's own text for SCRAM without a password is "SASL: SCRAM-SERVER-FIRST-MESSAGE: client password must be a string".
    if (o.password === undefined && (e.code === '28P01' || /client password must be a string|password/i.test(e.message)))
      return {
        status: 'fail',
        code: 'AUTH_PASSWORD_MISSING',
        message: `PostgreSQL asks user ${r.user} for a password, and the resource gives none`,
        fix: passwordFix(r),
      };
    if (e.code === '28P01')
      return {
        status: 'fail',
        code: 'AUTH_PASSWORD_REFUSED',
        message: `PostgreSQL refused the password for user ${r.user}`,
        fix: 'check the password reference in the resource (password.env / password.file) and the password the server has for this user',
      };
    if (e.code === '28000' && /certificate authentication failed/i.test(e.message) && t.cert) {
      const cn = names(t.cert)?.cn ?? '(none)';
      return {
        status: 'fail',
        code: 'AUTH_CLIENT_CERT_USER',
        message: `PostgreSQL cert authentication maps the client certificate's CN to the user: the CN is "${cn}", the user is "${r.user}"`,
        fix: `use a client certificate with CN=${r.user}, or set user: ${cn} in the resource, or map "${cn}" to ${r.user} in pg_ident.conf (map=NAME on the hostssl line)`,
      };
    }
    if (e.code === '28000' && /certificate/i.test(e.message) && !t.cert)
      return {
        status: 'fail',
        code: 'AUTH_CLIENT_CERT_MISSING',
        message: `PostgreSQL wants a client certificate for user ${r.user} and the resource has none: ${e.message}`,
        fix: `set tls.clientCert and tls.clientKey in the resource, with a certificate whose CN is ${r.user} (certgate resources add ${r.name} ... --client-cert FILE --client-key FILE --replace)`,
      };
    if (e.code === '28000') {
      return {
        status: 'fail',
        message: `PostgreSQL refused the login: ${e.message}`,
        fix: 'add a hostssl line for this user and address to pg_hba.conf, then reload',
      };
    }
    if (e.code === '3D000') return { status: 'fail', message: e.message, fix: 'check database in the resource' };
    return { status: 'fail', message: `PostgreSQL: ${e.message}`, fix: 'see the TLS layer above and the PostgreSQL log' };
  } finally {
    await client.end().catch(() => {});
  }
}

async function authMysql(r: Resource, t: ResolvedTls, o: TestOptions, timeoutMs: number): Promise<AuthOutcome> {
  const mysql = await import('mysql2/promise');
  let conn: Awaited<ReturnType<typeof mysql.createConnection>> | undefined;
  try {
    conn = await timeout(mysql.createConnection({ ...mysql2Options(r, t, o.password), connectTimeout: timeoutMs }), timeoutMs, 'the MySQL login');
    const [rows] = await conn.query('select current_user() as u, version() as v');
    const row = (rows as Array<{ u: string; v: string }>)[0];
    return { status: 'ok', message: `logged in as ${row?.u}; server ${row?.v}`, fix: null };
  } catch (err) {
    const e = err as { code?: string; message: string };
    if (e.code === 'ER_ACCESS_DENIED_ERROR' && o.password === undefined)
      return { status: 'fail', code: 'AUTH_PASSWORD_MISSING', message: `${e.message}: the resource gives no password`, fix: passwordFix(r) };
    if (e.code === 'ER_ACCESS_DENIED_ERROR')
      return { status: 'fail', message: e.message, fix: 'check the user and the password reference; the grant must allow this host' };
    if (e.code === 'ER_BAD_DB_ERROR') return { status: 'fail', message: e.message, fix: 'check database in the resource' };
    const pinned = t.mode === 'pinned' && r.tls.pinnedCert ? names(r.tls.pinnedCert) : null;
    if (
      pinned &&
      !pinned.selfIssued &&
      /UNABLE_TO_VERIFY_LEAF_SIGNATURE|UNABLE_TO_GET_ISSUER_CERT|unable to verify the first certificate|local issuer/i.test(`${e.code} ${e.message}`)
    )
      // mysql2 builds its own secure context from ca/cert/key only, dropping allowPartialTrustChain:
      // a pinned leaf is then no anchor unless it signed itself. certgate's own TLS probe above keeps it.
      return {
        status: 'fail',
        code: 'AUTH_DRIVER_PINNED_CA_ISSUED',
        message: `mysql2 refused the pinned certificate (${e.code}): "${pinned.cn}" is issued by "${pinned.issuer}", and mysql2 trusts a pinned certificate only when it is self-signed (it builds its own TLS context, without partial-chain trust), so the TLS layer above passes and the driver does not`,
        fix: `use mode full with the issuing CA for this resource: certgate resources add ${r.name} --kind mysql ... --ca ROOT.pem --replace (or mode verify-ca)`,
      };
    return { status: 'fail', message: `MySQL: ${e.message}`, fix: 'see the TLS layer above and the server log' };
  } finally {
    await conn?.end().catch(() => {});
  }
}

async function authRedis(r: Resource, t: ResolvedTls, o: TestOptions, timeoutMs: number): Promise<AuthOutcome> {
  const { Redis } = await import('ioredis');
  const client = new Redis({
    ...ioredisOptions(r, t, o.password),
    lazyConnect: true,
    connectTimeout: timeoutMs,
    maxRetriesPerRequest: 0,
    retryStrategy: () => null,
    enableOfflineQueue: false,
  });
  // ioredis rejects with "Connection is closed" and tells the reason on its error event.
  const events: Error[] = [];
  client.on('error', (e: Error) => events.push(e));
  try {
    await timeout(client.connect(), timeoutMs, 'the Redis connection');
    const pong = await client.ping();
    const info = await client.info('server');
    const version = /redis_version:(\S+)/.exec(info)?.[1];
    return { status: 'ok', message: `PING → ${pong}; Redis ${version ?? '?'}`, fix: null };
  } catch (err) {
    const e = events.find((x) => x.message !== 'Connection is closed.') ?? (err as Error);
    if (/WRONGPASS|invalid username-password/i.test(e.message))
      return { status: 'fail', message: `Redis refused the credentials: ${e.message}`, fix: 'check the user and the password reference' };
    if (/NOAUTH/i.test(e.message))
      return { status: 'fail', message: 'Redis wants a password and none was given', fix: 'add password: { env: VAR } to the resource' };
    return { status: 'fail', message: `Redis: ${e.message}`, fix: 'see the TLS layer above and the Redis log' };
  } finally {
    client.disconnect();
  }
}

async function authHttps(r: Resource, t: ResolvedTls, _o: TestOptions, timeoutMs: number): Promise<AuthOutcome> {
  const { request } = await import('undici');
  const dispatcher = undiciDispatcher(t);
  const url = r.url ?? `https://${r.host.includes(':') ? `[${r.host}]` : r.host}:${r.port}/`;
  try {
    const res = await request(url, { dispatcher, method: 'GET', headersTimeout: timeoutMs, bodyTimeout: timeoutMs });
    await res.body.dump();
    if (res.statusCode === 401 || res.statusCode === 403)
      return {
        status: 'warn',
        message: `GET ${url} → ${res.statusCode}: reachable, and it wants credentials`,
        fix: 'configure the credentials your app sends',
      };
    if (res.statusCode >= 500) return { status: 'warn', message: `GET ${url} → ${res.statusCode}`, fix: 'TLS works; the application answered with an error' };
    return { status: 'ok', message: `GET ${url} → ${res.statusCode}`, fix: null };
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    return {
      status: 'fail',
      message: `GET ${url}: ${e.message}`,
      fix:
        e.code === 'ERR_CERTGATE_PIN_MISMATCH'
          ? `pin the new certificate: certgate resources pin ${r.name} --from ${r.host}:${r.port}`
          : 'see the TLS layer above',
    };
  } finally {
    await dispatcher.close();
  }
}

async function authMongo(r: Resource, t: ResolvedTls, o: TestOptions, timeoutMs: number): Promise<AuthOutcome> {
  const { MongoClient } = await import('mongodb');
  const auth = r.user ? `${encodeURIComponent(r.user)}${o.password !== undefined ? `:${encodeURIComponent(o.password)}` : ''}@` : '';
  const query = new URLSearchParams({
    serverSelectionTimeoutMS: String(timeoutMs),
    connectTimeoutMS: String(timeoutMs),
    ...(r.replicaSet ? { replicaSet: r.replicaSet } : { directConnection: 'true' }),
  });
  const client = new MongoClient(`mongodb://${auth}${r.host.includes(':') ? `[${r.host}]` : r.host}:${r.port}/?${query}`, mongodbOptions(t));
  try {
    await client.connect();
    const admin = client.db('admin');
    const hello = await admin.command({ hello: 1 });
    const db = r.database ?? 'admin';
    const status = await client.db(db).command({ connectionStatus: 1 });
    const roles = (status.authInfo?.authenticatedUserRoles ?? []) as Array<{ role: string; db: string }>;
    const missing = r.user ? missingMongoRoles(roles, db) : [];
    const topology: LayerResult =
      hello.setName || !r.replicaSet
        ? {
            layer: 'topology',
            status: hello.isWritablePrimary || hello.setName ? 'ok' : 'warn',
            ms: null,
            message: hello.setName
              ? `replica set ${hello.setName}, ${hello.isWritablePrimary ? 'primary' : 'not primary'}`
              : 'standalone server (no replica set)',
            fix: hello.setName ? null : 'platforms like Appsmith need a replica set: start mongod with --replSet and run rs.initiate()',
          }
        : { layer: 'topology', status: 'fail', ms: null, message: 'no replica set: the server reports none', fix: 'run rs.initiate() as an admin user' };
    if (missing.length)
      return {
        status: 'fail',
        message: `logged in, but the user lacks ${missing.join(' and ')}`,
        fix: 'grant them: db.grantRolesToUser(USER, [{role:"readWrite",db:DB},{role:"clusterMonitor",db:"admin"}])',
        topology,
      };
    return {
      status: 'ok',
      message: r.user ? `logged in as ${r.user} with ${roles.map((x) => `${x.role}@${x.db}`).join(', ') || 'no roles'}` : 'connected (no user given)',
      fix: null,
      topology,
    };
  } catch (err) {
    const c = classifyMongoError(err);
    const outcome: AuthOutcome = { status: 'fail', message: c.message, fix: c.fix };
    if (c.layer === 'topology') outcome.topology = { layer: 'topology', status: 'fail', ms: null, message: c.message, fix: c.fix };
    return outcome;
  } finally {
    await client.close().catch(() => {});
  }
}

const AUTH = { postgres: authPostgres, mysql: authMysql, redis: authRedis, https: authHttps, mongodb: authMongo };

/**
 * Tests a resource layer by layer; stops at the first layer that fails.
 * @example const r = await testResource(resource, resolveTls(resource, ctx), { password });
 */
export async function testResource(r: Resource, t: ResolvedTls, options: TestOptions = {}): Promise<ResourceTestResult> {
  const timeoutMs = options.timeoutMs ?? 10_000;
  const layers: LayerResult[] = [];
  const done = (): ResourceTestResult => {
    const worst = layers.some((l) => l.status === 'fail') ? 'fail' : layers.some((l) => l.status === 'warn') || t.warning ? 'warn' : 'ok';
    return { resource: r.name, kind: r.kind, target: `${r.host}:${r.port}`, mode: t.mode, status: worst, warning: t.warning, layers };
  };
  const skipRest = (from: Layer[]) => {
    for (const layer of from) layers.push({ layer, status: 'skipped', ms: null, message: 'not tried: an earlier layer failed', fix: null });
  };
  const steps: Array<[Layer, () => Promise<LayerResult>]> = [
    ['dns', () => dnsLayer(r, options)],
    ['tcp', () => tcpLayer(r, options, timeoutMs)],
    ['tls', () => tlsLayer(r, t, options, timeoutMs)],
  ];
  for (let i = 0; i < steps.length; i++) {
    const result = await (steps[i] as [Layer, () => Promise<LayerResult>])[1]();
    layers.push(result);
    if (result.status === 'fail') {
      skipRest([...steps.slice(i + 1).map(([layer]) => layer), 'auth']);
      return done();
    }
  }
  const t0 = performance.now();
  if ((r.kind === 'postgres' || r.kind === 'mysql') && !r.user) {
    layers.push({
      layer: 'auth',
      status: 'skipped',
      ms: null,
      message: 'no user in the resource',
      fix: 'add user (and password: { env: VAR }) to test the login',
    });
    return done();
  }
  const outcome = await AUTH[r.kind](r, t, options, timeoutMs);
  layers.push({
    layer: 'auth',
    status: outcome.status,
    ms: ms(t0),
    message: outcome.message,
    fix: outcome.fix,
    ...(outcome.code ? { code: outcome.code } : {}),
  });
  if (outcome.topology) layers.push(outcome.topology);
  return done();
}
