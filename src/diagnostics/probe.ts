/**
 * @module diagnostics/probe
 * Connects to a TLS server (optionally after a STARTTLS preamble) and records what happened:
 * the chain as the server sent it (read off the wire for TLS <= 1.2), OpenSSL's verdict, and
 * any handshake failure. Never throws for a TLS failure: that is a result to explain. Throws
 * CertgateError only when no TCP connection could be made.
 */
import { isIP, type LookupFunction, connect as netConnect, type Socket } from 'node:net';
import { Duplex } from 'node:stream';
import { type ConnectionOptions, type PeerCertificate, type TLSSocket, connect as tlsConnect } from 'node:tls';
import { CertgateError } from '../errors.ts';
import { answersPostgres, type Speaks, type StartTlsProtocol, startTls } from './starttls.ts';

export interface ProbeOptions {
  host: string;
  port: number;
  /** SNI name; defaults to the host unless it is an IP address. */
  servername?: string;
  timeoutMs: number;
  starttls?: StartTlsProtocol;
  /** PEM certificates trusted for this connection (replaces, does not add to, Node's roots). */
  ca: string[];
  clientCert?: string;
  clientKey?: string;
  maxVersion?: 'TLSv1.2' | 'TLSv1.3';
  minVersion?: 'TLSv1' | 'TLSv1.2';
  ciphers?: string;
  alpn?: string[];
  /** A resolver in place of the system's (dns.lookup signature). */
  lookup?: LookupFunction;
  /** Send no SNI even for a host name (to see the certificate a server presents without it). */
  noSni?: boolean;
}

export interface HandshakeError {
  /** Node/OpenSSL code, e.g. ERR_SSL_WRONG_VERSION_NUMBER, ECONNRESET. */
  code: string;
  message: string;
  /** What the server sent first, when it was not TLS (helps name the protocol). */
  plaintextPreview: string | null;
}

export interface ProbeResult {
  address: string;
  protocol: string | null;
  cipher: string | null;
  alpn: string | null;
  handshakeMs: number;
  /** DER certificates as the server sent them (`wire`) or as OpenSSL ordered them. */
  chain: Buffer[];
  chainSource: 'wire' | 'reconstructed' | 'none';
  authorized: boolean;
  /** OpenSSL's verification code as Node reports it (e.g. UNABLE_TO_VERIFY_LEAF_SIGNATURE). */
  authorizationError: string | null;
  /** OpenSSL's text for it ("unhandled critical extension"): Node reports many codes as UNSPECIFIED. */
  authorizationText: string | null;
  /** The path OpenSSL built (leaf first, ending at a trust-store root when it found one), DER. */
  builtPath: Buffer[];
  /** Distinguished names of the CAs the server accepts for client certificates (CertificateRequest, TLS <= 1.2). */
  acceptableClientCas: string[] | null;
  /** The TLS alert the server sent, when the handshake ended with one (e.g. "unrecognized name"). */
  alert: string | null;
  /** The server asked for a client certificate (known for TLS <= 1.2 handshakes). */
  clientCertRequested: boolean | null;
  error: HandshakeError | null;
  /** The server hung up right after the handshake without sending a byte (Node-style mTLS refusal). */
  closedSilently: boolean;
}

function connectError(err: NodeJS.ErrnoException, host: string, port: number): CertgateError {
  switch (err.code) {
    case 'ENOTFOUND':
    case 'EAI_AGAIN':
    case 'EAI_NODATA':
    case 'EAI_FAIL':
      return new CertgateError('E_DNS', `cannot resolve ${host}: ${err.code}`, 'check the spelling and the DNS (or /etc/hosts) of this machine', {
        cause: err,
      });
    case 'ECONNREFUSED':
      return new CertgateError(
        'E_CONNECT_REFUSED',
        `${host}:${port} refused the connection: nothing listens there`,
        'check the port and that the service is running',
        { cause: err },
      );
    case 'EHOSTUNREACH':
    case 'ENETUNREACH':
      return new CertgateError(
        'E_UNREACHABLE',
        `${host}:${port} is unreachable (${err.code})`,
        'check routing and firewalls between this machine and the host',
        { cause: err },
      );
    default:
      return new CertgateError('E_CONNECTION_RESET', `connecting to ${host}:${port} failed: ${err.message}`, 'check the host and port', { cause: err });
  }
}

function timeoutError(host: string, port: number, ms: number, phase: string): CertgateError {
  return new CertgateError(
    'E_TIMEOUT',
    `${host}:${port} did not answer within ${ms} ms (${phase})`,
    'check firewalls and the port; raise --timeout for slow links',
  );
}

function openTcp(host: string, port: number, timeoutMs: number, lookup?: LookupFunction): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const socket = netConnect({ host, port, ...(lookup ? { lookup } : {}) });
    const timer = setTimeout(() => {
      socket.destroy();
      reject(timeoutError(host, port, timeoutMs, 'TCP connect'));
    }, timeoutMs);
    socket.once('connect', () => {
      clearTimeout(timer);
      socket.removeAllListeners('error');
      resolve(socket);
    });
    socket.once('error', (err) => {
      clearTimeout(timer);
      reject(connectError(err, host, port));
    });
  });
}

/** Passes bytes through to TLS while keeping a copy of what the server sent. */
class Tap extends Duplex {
  readonly received: Buffer[] = [];
  private readonly inner: Socket;
  constructor(inner: Socket, leftover: Buffer) {
    super();
    this.inner = inner;
    if (leftover.length) {
      this.received.push(leftover);
      this.push(leftover);
    }
    inner.on('data', (d: Buffer) => {
      if (this.received.length < 64) this.received.push(d);
      if (!this.push(d)) inner.pause();
    });
    inner.on('end', () => this.push(null));
    inner.on('error', (err) => this.destroy(err));
    inner.on('close', () => this.destroy());
  }
  override _read(): void {
    this.inner.resume();
  }
  override _write(chunk: Buffer, _enc: BufferEncoding, cb: (err?: Error | null) => void): void {
    this.inner.write(chunk, cb);
  }
  override _final(cb: () => void): void {
    this.inner.end();
    cb();
  }
  override _destroy(err: Error | null, cb: (err: Error | null) => void): void {
    this.inner.destroy();
    cb(err);
  }
}

interface WireFacts {
  certificates: Buffer[] | null;
  certificateRequest: boolean;
  /** DER names from the CertificateRequest's certificate_authorities. */
  certificateAuthorities: Buffer[];
  /** A plaintext alert record: [level, description]. */
  alert: [number, number] | null;
}

/** TLS alert descriptions (RFC 8446 §6), as OpenSSL prints them. */
export const ALERTS: Record<number, string> = {
  0: 'close notify',
  10: 'unexpected message',
  20: 'bad record mac',
  40: 'handshake failure',
  42: 'bad certificate',
  43: 'unsupported certificate',
  44: 'certificate revoked',
  45: 'certificate expired',
  46: 'certificate unknown',
  47: 'illegal parameter',
  48: 'unknown ca',
  49: 'access denied',
  50: 'decode error',
  51: 'decrypt error',
  70: 'protocol version',
  71: 'insufficient security',
  80: 'internal error',
  86: 'inappropriate fallback',
  90: 'user canceled',
  109: 'missing extension',
  110: 'unsupported extension',
  112: 'unrecognized name',
  113: 'bad certificate status response',
  115: 'unknown psk identity',
  116: 'certificate required',
  120: 'no application protocol',
};

/** Reads the plaintext handshake (TLS <= 1.2): the Certificate and CertificateRequest messages. */
export function readWireHandshake(bytes: Buffer): WireFacts {
  const facts: WireFacts = { certificates: null, certificateRequest: false, certificateAuthorities: [], alert: null };
  const hs: Buffer[] = [];
  let pos = 0;
  while (pos + 5 <= bytes.length) {
    const type = bytes[pos] as number;
    const len = bytes.readUInt16BE(pos + 3);
    if (type === 21 && len === 2 && pos + 7 <= bytes.length) {
      facts.alert = [bytes[pos + 5] as number, bytes[pos + 6] as number];
      break;
    }
    if (type !== 22) break; // anything but a handshake record: encryption has started
    hs.push(bytes.subarray(pos + 5, Math.min(pos + 5 + len, bytes.length)));
    pos += 5 + len;
  }
  const stream = Buffer.concat(hs);
  let p = 0;
  while (p + 4 <= stream.length) {
    const msgType = stream[p] as number;
    const len = stream.readUIntBE(p + 1, 3);
    const body = stream.subarray(p + 4, p + 4 + len);
    if (body.length < len) break;
    if (msgType === 11) {
      const certs: Buffer[] = [];
      let q = 3;
      while (q + 3 <= body.length) {
        const clen = body.readUIntBE(q, 3);
        certs.push(Buffer.from(body.subarray(q + 3, q + 3 + clen)));
        q += 3 + clen;
      }
      facts.certificates = certs;
    } else if (msgType === 13) {
      facts.certificateRequest = true;
      facts.certificateAuthorities = certificateAuthorities(body);
    }
    p += 4 + len;
  }
  return facts;
}

/**
 * TLS 1.2 CertificateRequest: certificate_types<1..2^8-1>, supported_signature_algorithms<2..2^16-2>,
 * certificate_authorities<0..2^16-1> of DistinguishedName<1..2^16-1> (DER Name).
 */
function certificateAuthorities(body: Buffer): Buffer[] {
  const out: Buffer[] = [];
  try {
    let q = 1 + (body[0] as number);
    q += 2 + body.readUInt16BE(q);
    const total = body.readUInt16BE(q);
    q += 2;
    const end = Math.min(body.length, q + total);
    while (q + 2 <= end) {
      const n = body.readUInt16BE(q);
      out.push(Buffer.from(body.subarray(q + 2, q + 2 + n)));
      q += 2 + n;
    }
  } catch {
    // a short or odd message: no names rather than a wrong one
  }
  return out;
}

function reconstructed(peer: PeerCertificate | undefined): Buffer[] {
  if (!peer || !Object.keys(peer).length) return [];
  const out: Buffer[] = [];
  let cur = peer as (PeerCertificate & { issuerCertificate?: PeerCertificate }) | undefined;
  const seen = new Set<string>();
  while (cur?.raw && !seen.has(cur.fingerprint256)) {
    seen.add(cur.fingerprint256);
    out.push(cur.raw);
    cur = cur.issuerCertificate as typeof cur;
  }
  return out;
}

function preview(received: Buffer[]): string | null {
  const first = Buffer.concat(received).subarray(0, 64);
  if (first.length === 0 || first[0] === 22 || first[0] === 21) return null;
  return first.toString('latin1').replace(/[^\x20-\x7e]/g, '.');
}

async function handshake(options: ProbeOptions): Promise<ProbeResult & { tapBytes: Buffer }> {
  const { host, port, timeoutMs } = options;
  const started = performance.now();
  const tcp = await openTcp(host, port, timeoutMs, options.lookup);
  const address = `${tcp.remoteAddress}:${tcp.remotePort}`;
  let leftover: Buffer = Buffer.alloc(0);
  const deadline = setTimeout(() => tcp.destroy(timeoutError(host, port, timeoutMs, 'TLS handshake')), timeoutMs);
  try {
    if (options.starttls) {
      const target = `${host.includes(':') ? `[${host}]` : host}:${port}`;
      try {
        leftover = await startTls(options.starttls, tcp, {
          silenceMs: Math.min(3000, Math.max(250, timeoutMs / 3)),
          identify: () => identify(options),
          target,
        });
      } catch (err) {
        const e = err as NodeJS.ErrnoException;
        if (e instanceof CertgateError && e.code === 'E_TIMEOUT') {
          throw new CertgateError(
            'E_STARTTLS',
            `${options.starttls}: ${target} did not complete the ${options.starttls} preamble within ${timeoutMs} ms`,
            `check that this port speaks ${options.starttls} (certgate inspect ${target} without --starttls tells what it is), or raise --timeout`,
            { cause: err },
          );
        }
        if (err instanceof CertgateError) throw err;
        throw new CertgateError(
          'E_STARTTLS',
          `${options.starttls} preamble failed: ${e.message}`,
          'check that this port speaks the protocol given to --starttls',
          { cause: err },
        );
      }
    }
    const tap = new Tap(tcp, leftover);
    const servername = options.noSni ? undefined : (options.servername ?? (isIP(host) ? undefined : host));
    const tlsOptions: ConnectionOptions = {
      socket: tap,
      rejectUnauthorized: false,
      ca: options.ca,
      checkServerIdentity: () => undefined,
      ...(servername ? { servername } : {}),
      ...(options.clientCert ? { cert: options.clientCert, key: options.clientKey } : {}),
      ...(options.maxVersion ? { maxVersion: options.maxVersion } : {}),
      ...(options.minVersion ? { minVersion: options.minVersion } : {}),
      ...(options.ciphers ? { ciphers: options.ciphers } : {}),
      ...(options.alpn ? { ALPNProtocols: options.alpn } : {}),
    };
    const socket: TLSSocket = tlsConnect(tlsOptions);
    const facts = {
      protocol: null as string | null,
      cipher: null as string | null,
      alpn: null as string | null,
      ms: 0,
      gotData: false,
      closedSilently: false,
      peer: [] as Buffer[],
      authorized: false,
      authorizationError: null as string | null,
      authorizationText: null as string | null,
    };
    const outcome = await new Promise<{ error: NodeJS.ErrnoException | null }>((resolve) => {
      let settled = false;
      let secured = false;
      const done = (error: NodeJS.ErrnoException | null) => {
        if (settled) return;
        settled = true;
        resolve({ error });
      };
      socket.once('secureConnect', () => {
        secured = true;
        facts.protocol = socket.getProtocol() ?? null;
        facts.cipher = socket.getCipher()?.name ?? null;
        facts.alpn = typeof socket.alpnProtocol === 'string' ? socket.alpnProtocol : null;
        facts.ms = Math.round((performance.now() - started) * 10) / 10;
        // Read now: once the server hangs up, the session (and its certificates) is gone.
        facts.peer = reconstructed(socket.getPeerCertificate(true) as PeerCertificate);
        facts.authorized = socket.authorized;
        facts.authorizationError = socket.authorizationError
          ? String((socket.authorizationError as unknown as Error).message ?? socket.authorizationError)
          : null;
        // Node keeps OpenSSL's text only on the handle; its code is UNSPECIFIED for most X509_V_ERR_*.
        try {
          const handle = (socket as unknown as { _handle?: { verifyError?: () => Error | null } })._handle;
          facts.authorizationText = facts.authorizationError ? (handle?.verifyError?.()?.message ?? null) : null;
        } catch {
          facts.authorizationText = null;
        }
        // TLS 1.3 servers judge the client certificate after the client's Finished: give a
        // refusal alert time to arrive before calling the handshake good.
        const elapsed = performance.now() - started;
        const grace = Math.min(1000, Math.max(60, 2 * elapsed));
        socket.on('data', () => {
          facts.gotData = true;
        });
        socket.once('end', () => {
          facts.closedSilently = !facts.gotData;
        });
        setTimeout(() => done(null), grace);
      });
      socket.on('error', (err: NodeJS.ErrnoException) => {
        // After the handshake only a TLS alert is news; a server hanging up is not.
        if (!secured || /^ERR_SSL_/.test(err.code ?? '')) done(err);
      });
      socket.once('close', () => {
        if (!secured) done(Object.assign(new Error('the server closed the connection during the handshake'), { code: 'ECONNRESET' }));
      });
      tcp.once('error', (err: NodeJS.ErrnoException) => {
        if (!secured) done(err);
      });
    });
    const handshakeMs = facts.ms || Math.round((performance.now() - started) * 10) / 10;
    const tapBytes = Buffer.concat(tap.received);
    const wire = readWireHandshake(tapBytes);
    const fromWire = wire.certificates?.length ? wire.certificates : null;
    const chain = fromWire ?? facts.peer;
    let error: HandshakeError | null = null;
    if (outcome.error) {
      const err = outcome.error;
      if (err instanceof CertgateError) throw err;
      error = { code: err.code ?? 'UNKNOWN', message: err.message, plaintextPreview: preview(tap.received) };
    }
    const result: ProbeResult & { tapBytes: Buffer } = {
      address,
      protocol: facts.protocol,
      cipher: facts.cipher,
      alpn: facts.alpn,
      handshakeMs,
      chain,
      chainSource: fromWire ? 'wire' : chain.length ? 'reconstructed' : 'none',
      authorized: facts.authorized,
      authorizationError: facts.authorizationError,
      authorizationText: facts.authorizationText,
      builtPath: facts.peer,
      acceptableClientCas: wire.certificateRequest ? wire.certificateAuthorities.map((n) => n.toString('base64')) : null,
      alert: wire.alert ? (ALERTS[wire.alert[1]] ?? `alert ${wire.alert[1]}`) : alertFromError(outcome.error),
      clientCertRequested: wire.certificates ? wire.certificateRequest : null,
      error,
      closedSilently: facts.closedSilently,
      tapBytes,
    };
    socket.destroy();
    return result;
  } finally {
    clearTimeout(deadline);
    tcp.destroy();
  }
}

/** The alert named in an OpenSSL error code (ERR_SSL_TLSV1_ALERT_UNRECOGNIZED_NAME → "unrecognized name"). */
function alertFromError(err: NodeJS.ErrnoException | null): string | null {
  const m = /(?:TLSV1|SSLV3)_ALERT_([A-Z_]+)/.exec(err?.code ?? '') ?? /(?:tlsv1|sslv3) alert ([a-z ]+)/i.exec(err?.message ?? '');
  return m ? (m[1] as string).toLowerCase().replace(/_/g, ' ') : null;
}

/**
 * Probes a server. For TLS 1.3 (whose Certificate message is encrypted) a second handshake
 * capped at TLS 1.2 reads the chain exactly as sent; when the server refuses 1.2, the chain
 * is OpenSSL's reconstruction and `chainSource` says so.
 */
export async function probe(options: ProbeOptions): Promise<ProbeResult> {
  const first = await handshake(options);
  if (first.chainSource !== 'wire' && !options.maxVersion) {
    try {
      const second = await handshake({ ...options, maxVersion: 'TLSv1.2' });
      if (second.chainSource === 'wire') {
        first.chain = second.chain;
        first.chainSource = 'wire';
        first.clientCertRequested = second.clientCertRequested;
        first.acceptableClientCas = second.acceptableClientCas;
      }
    } catch {
      // the server refuses TLS 1.2; keep the reconstructed chain
    }
  }
  const { tapBytes: _unused, ...result } = first;
  return result;
}

/**
 * What a port that stays silent speaks, from fresh connections: a TLS handshake (any
 * certificate), then a PostgreSQL SSLRequest, then an HTTP request. Null when none answers.
 */
export async function identify(options: Pick<ProbeOptions, 'host' | 'port' | 'timeoutMs' | 'lookup' | 'servername'>): Promise<Speaks | null> {
  const ms = Math.min(options.timeoutMs, 3000);
  const tcp = () => openTcp(options.host, options.port, ms, options.lookup);
  const tlsOk = await tcp()
    .then(
      (socket) =>
        new Promise<boolean>((resolve) => {
          const servername = options.servername ?? (isIP(options.host) ? undefined : options.host);
          const t = tlsConnect({ socket, rejectUnauthorized: false, ...(servername ? { servername } : {}) });
          const timer = setTimeout(() => finish(false), ms);
          function finish(ok: boolean) {
            clearTimeout(timer);
            t.destroy();
            socket.destroy();
            resolve(ok);
          }
          t.once('secureConnect', () => finish(true));
          t.once('error', () => finish(false));
          t.once('close', () => finish(false));
        }),
    )
    .catch(() => false);
  if (tlsOk) return { what: 'TLS directly (a TLS handshake without STARTTLS works)', use: '' };
  if (await isPostgresPort(options)) return { what: 'PostgreSQL', use: '--starttls postgres' };
  const http = await tcp()
    .then(
      (socket) =>
        new Promise<boolean>((resolve) => {
          const timer = setTimeout(() => finish(false), ms);
          function finish(ok: boolean) {
            clearTimeout(timer);
            socket.destroy();
            resolve(ok);
          }
          socket.once('data', (d: Buffer) => finish(/^HTTP\/\d/.test(d.toString('latin1'))));
          socket.once('error', () => finish(false));
          socket.once('close', () => finish(false));
          socket.write(`HEAD / HTTP/1.0\r\nHost: ${options.host}\r\n\r\n`);
        }),
    )
    .catch(() => false);
  return http ? { what: 'plain HTTP', use: null } : null;
}

/** Opens a fresh connection and asks whether the port is PostgreSQL. */
export async function isPostgresPort(options: Pick<ProbeOptions, 'host' | 'port' | 'timeoutMs' | 'lookup'>): Promise<boolean> {
  try {
    const tcp = await openTcp(options.host, options.port, options.timeoutMs, options.lookup);
    return await answersPostgres(tcp, Math.min(options.timeoutMs, 3000));
  } catch {
    return false;
  }
}
