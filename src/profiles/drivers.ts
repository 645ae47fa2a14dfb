/**
 * @module profiles/drivers
 * One vocabulary (full, verify-ca, pinned, skip) mapped onto each driver, with its traps:
 * pg's sslmode in a URL replaces the ssl object; mysql2 checks the hostname only with
 * verifyIdentity; ioredis needs servername; mongodb wants its own option names and files.
 */
import { createHash, type X509Certificate } from 'node:crypto';
import type { ConnectionOptions, PeerCertificate } from 'node:tls';
import { checkServerIdentity } from 'node:tls';
import { buildConnector, Agent as UndiciAgent } from 'undici';
import type { ResolvedTls } from './resolve.ts';
import type { Resource } from './schema.ts';

function pinError(host: string, got: string): Error {
  return Object.assign(new Error(`certificate of ${host} does not match the pin (it presented ${got})`), { code: 'ERR_CERTGATE_PIN_MISMATCH' });
}

/** tls.connect options that do what the mode's name says. */
export function tlsOptions(t: ResolvedTls): ConnectionOptions {
  const base: ConnectionOptions = {
    ca: t.ca,
    ...(t.servername ? { servername: t.servername } : {}),
    ...(t.cert ? { cert: t.cert, key: t.key } : {}),
  };
  switch (t.mode) {
    case 'full':
      return { ...base, rejectUnauthorized: true, checkServerIdentity };
    case 'verify-ca':
      // Any certificate from the same CA passes: the docs say so, loudly.
      return { ...base, rejectUnauthorized: true, checkServerIdentity: () => undefined };
    case 'pinned':
      return {
        ...base,
        // The pinned certificate is the one anchor, even when a CA issued it (Node >= 20.18).
        allowPartialTrustChain: true,
        rejectUnauthorized: true,
        checkServerIdentity: (host: string, cert: PeerCertificate) => {
          if (t.pinnedFingerprints.length && !t.pinnedFingerprints.includes(cert.fingerprint256)) return pinError(host, cert.fingerprint256);
          return undefined;
        },
      };
    case 'skip':
      return { ...base, rejectUnauthorized: false, checkServerIdentity: () => undefined };
  }
}

/** Where and as whom, in the field names pg and mysql2 share. */
interface SqlTarget {
  host: string;
  port: number;
  database?: string;
  user?: string;
  password?: string;
}

function sqlTarget(r: Resource, password: string | undefined): SqlTarget {
  return {
    host: r.host,
    port: r.port,
    ...(r.database ? { database: r.database } : {}),
    ...(r.user ? { user: r.user } : {}),
    ...(password !== undefined ? { password } : {}),
  };
}

export interface PgOptions extends SqlTarget {
  ssl: ConnectionOptions;
}

/** Options for `new pg.Client(...)` / `new pg.Pool(...)`. Pass no connectionString with sslmode. */
export function pgOptions(r: Resource, t: ResolvedTls, password?: string): PgOptions {
  return { ...sqlTarget(r, password), ssl: tlsOptions(t) };
}

/**
 * Removes sslmode, sslcert, sslkey, sslrootcert and ssl from a PostgreSQL URL: pg lets them
 * replace the ssl object, which would silently undo the profile.
 */
export function stripPgSslParams(connectionString: string): { url: string; removed: string[] } {
  const u = new URL(connectionString);
  const removed: string[] = [];
  for (const key of [...u.searchParams.keys()]) {
    if (/^(ssl|sslmode|sslcert|sslkey|sslrootcert|sslpassword|sslcompression|uselibpqcompat)$/i.test(key)) {
      removed.push(key);
      u.searchParams.delete(key);
    }
  }
  return { url: u.toString(), removed };
}

export interface Mysql2Options extends SqlTarget {
  ssl: { ca: string[]; cert?: string; key?: string; rejectUnauthorized: boolean; verifyIdentity: boolean };
}

/** Options for mysql2's createConnection/createPool. mysql2 checks the hostname only with verifyIdentity. */
export function mysql2Options(r: Resource, t: ResolvedTls, password?: string): Mysql2Options {
  return {
    ...sqlTarget(r, password),
    ssl: {
      ca: t.ca,
      ...(t.cert ? { cert: t.cert, key: t.key as string } : {}),
      rejectUnauthorized: t.mode !== 'skip',
      // pinned: only the pinned certificate is in ca, and a leaf cannot issue; no name check needed.
      verifyIdentity: t.mode === 'full',
    },
  };
}

export interface IoredisOptions {
  host: string;
  port: number;
  username?: string;
  password?: string;
  tls: ConnectionOptions;
}

/** Options for `new Redis(...)`. ioredis passes no SNI on its own: servername is set here. */
export function ioredisOptions(r: Resource, t: ResolvedTls, password?: string): IoredisOptions {
  return {
    host: r.host,
    port: r.port,
    ...(r.user ? { username: r.user } : {}),
    ...(password !== undefined ? { password } : {}),
    tls: { ...tlsOptions(t), servername: t.servername ?? r.host },
  };
}

export interface MongoTlsOptions {
  tls: true;
  /** PEM text of the CAs; the file form is written by the caller when the URI needs tlsCAFile. */
  ca?: string[];
  cert?: string;
  key?: string;
  tlsAllowInvalidHostnames: boolean;
  tlsAllowInvalidCertificates: boolean;
  servername?: string;
  checkServerIdentity?: ConnectionOptions['checkServerIdentity'];
}

/**
 * MongoClient options. The URI equivalents are tls=true, tlsCAFile (the CA list as a file),
 * tlsCertificateKeyFile (client cert + key in one file), tlsAllowInvalidHostnames (verify-ca,
 * pinned) and tlsAllowInvalidCertificates (skip).
 */
export function mongodbOptions(t: ResolvedTls): MongoTlsOptions {
  return {
    tls: true,
    ca: t.ca,
    ...(t.cert ? { cert: t.cert, key: t.key as string } : {}),
    ...(t.servername ? { servername: t.servername } : {}),
    tlsAllowInvalidHostnames: t.mode !== 'full',
    tlsAllowInvalidCertificates: t.mode === 'skip',
    ...(t.mode === 'pinned' ? { checkServerIdentity: tlsOptions(t).checkServerIdentity } : {}),
  };
}

/** The URI query for mongodb, given the files written for it. */
export function mongodbUriParams(t: ResolvedTls, files: { caFile?: string; certKeyFile?: string }): URLSearchParams {
  const q = new URLSearchParams({ tls: 'true' });
  if (files.caFile) q.set('tlsCAFile', files.caFile);
  if (files.certKeyFile) q.set('tlsCertificateKeyFile', files.certKeyFile);
  if (t.mode !== 'full') q.set('tlsAllowInvalidHostnames', 'true');
  if (t.mode === 'skip') q.set('tlsAllowInvalidCertificates', 'true');
  return q;
}

/**
 * An undici dispatcher for an https resource. SPKI pins are checked on every new connection
 * (the chain may be anything: the pin is the trust).
 */
export function undiciDispatcher(t: ResolvedTls, options: UndiciAgent.Options = {}): UndiciAgent {
  if (t.mode === 'pinned' && t.spkiPins.length && !t.pinnedFingerprints.length) {
    const connector = buildConnector({
      ...(t.servername ? { servername: t.servername } : {}),
      ...(t.cert ? { cert: t.cert, key: t.key } : {}),
      rejectUnauthorized: false,
    });
    const pins = new Set(t.spkiPins);
    const connect: buildConnector.connector = (opts, callback) =>
      connector(opts, (err, socket) => {
        if (err || !socket) return callback(err as Error, null);
        const peer = (socket as unknown as { getPeerX509Certificate(): X509Certificate | undefined }).getPeerX509Certificate();
        const spki = peer
          ? createHash('sha256')
              .update(peer.publicKey.export({ type: 'spki', format: 'der' }))
              .digest('base64')
          : '';
        if (!pins.has(spki)) {
          socket.destroy();
          return callback(pinError(opts.hostname, `sha256//${spki}`), null);
        }
        return callback(null, socket);
      });
    return new UndiciAgent({ ...options, connect });
  }
  return new UndiciAgent({ ...options, connect: tlsOptions(t) as buildConnector.BuildOptions });
}
