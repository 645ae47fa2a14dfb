/**
 * @module diagnostics/grade/hello
 * One TLS handshake with chosen versions, suites and extensions, reduced to the facts a grade
 * needs. Never throws: a refused handshake is a result (its OpenSSL code says why).
 */
import type { LookupFunction } from 'node:net';
import { connect, type SecureVersion, type TLSSocket } from 'node:tls';

/** Everything Node's OpenSSL can speak, old and weak included: a scanner offers what servers might accept. */
export const LEGACY_CIPHERS = 'ALL:COMPLEMENTOFALL:!PSK:!SRP:!aNULL@SECLEVEL=0';

export interface HelloOptions {
  host: string;
  port: number;
  /** SNI; null sends none (tls.connect sends none unless told). */
  servername: string | null;
  timeoutMs: number;
  minVersion?: SecureVersion;
  maxVersion?: SecureVersion;
  /** OpenSSL cipher string (TLS <= 1.2 suites and TLS 1.3 suite names alike). */
  ciphers?: string;
  alpn?: string[];
  requestOCSP?: boolean;
  session?: Buffer;
  /** OpenSSL option bits, e.g. SSL_OP_NO_TICKET to test session-id resumption alone. */
  secureOptions?: number;
  /** Keep the socket open and hand it over (the HSTS request); the caller destroys it. */
  keep?: boolean;
  /** Wait this long after the handshake for a TLS 1.3 session ticket. */
  waitSessionMs?: number;
  lookup?: LookupFunction;
}

export interface Hello {
  ok: boolean;
  protocol: string | null;
  cipher: string | null;
  alpn: string | null;
  /** DER of the certificate the server presented (leaf), or null. */
  leafDer: Buffer | null;
  ocspStapled: boolean;
  /** A session to resume with (ticket or id), when the server gave one. */
  session: Buffer | null;
  ticket: boolean;
  reused: boolean;
  /** The ephemeral key exchange (ECDH curve or DH group size), when there was one. */
  ephemeral: { type: string; name: string | null; size: number } | null;
  /** Node/OpenSSL error code when the handshake failed, e.g. ERR_SSL_UNSUPPORTED_PROTOCOL. */
  error: string | null;
  errorMessage: string | null;
  socket: TLSSocket | null;
}

const failed = (error: string, message: string): Hello => ({
  ok: false,
  protocol: null,
  cipher: null,
  alpn: null,
  leafDer: null,
  ocspStapled: false,
  session: null,
  ticket: false,
  reused: false,
  ephemeral: null,
  error,
  errorMessage: message,
  socket: null,
});

export function hello(options: HelloOptions): Promise<Hello> {
  return new Promise((resolve) => {
    let socket: TLSSocket;
    let stapled = false;
    let session: Buffer | null = null;
    let done = false;
    const finish = (h: Hello) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      if (h.socket) {
        // handed over
      } else if (h.ok) {
        // A clean close_notify: OpenSSL drops a session from its cache when a connection dies mid-way,
        // which would make a resumable server look like one without session ids.
        socket.end();
        setTimeout(() => socket.destroy(), 500).unref();
      } else socket?.destroy();
      resolve(h);
    };
    const timer = setTimeout(() => finish(failed('E_TIMEOUT', `no TLS answer within ${options.timeoutMs} ms`)), options.timeoutMs);
    try {
      socket = connect({
        host: options.host,
        port: options.port,
        ...(options.servername ? { servername: options.servername } : {}),
        rejectUnauthorized: false,
        // Node refuses DH groups under 1024 bits; a scanner wants to see them to name them.
        minDHSize: 1,
        // A scanner judges the name itself; Node's check would only end the handshake early.
        checkServerIdentity: () => undefined,
        ...(options.minVersion ? { minVersion: options.minVersion } : {}),
        ...(options.maxVersion ? { maxVersion: options.maxVersion } : {}),
        ciphers: options.ciphers ?? LEGACY_CIPHERS,
        ...(options.alpn ? { ALPNProtocols: options.alpn } : {}),
        ...(options.requestOCSP ? { requestOCSP: true } : {}),
        ...(options.session ? { session: options.session } : {}),
        ...(options.secureOptions ? { secureOptions: options.secureOptions } : {}),
        ...(options.lookup ? { lookup: options.lookup } : {}),
      });
    } catch (err) {
      // e.g. ERR_SSL_NO_CIPHER_MATCH: this OpenSSL cannot offer what was asked
      const e = err as NodeJS.ErrnoException;
      finish(failed(e.code ?? 'ERR_TLS', e.message));
      return;
    }
    socket.on('OCSPResponse', (res: Buffer | null) => {
      stapled = Boolean(res && res.length > 0);
    });
    socket.on('session', (s: Buffer) => {
      session = s;
    });
    socket.on('error', (err: NodeJS.ErrnoException) => finish(failed(err.code ?? 'ERR_TLS', err.message.split('\n')[0] ?? err.message)));
    socket.on('close', () => finish(failed('ECONNRESET', 'the server closed the connection during the handshake')));
    socket.once('secureConnect', () => {
      const report = () => {
        const cipher = socket.getCipher();
        const leaf = socket.getPeerCertificate();
        const ticket = socket.getTLSTicket();
        finish({
          ok: true,
          protocol: socket.getProtocol(),
          cipher: cipher?.name ?? null,
          alpn: socket.alpnProtocol || null,
          leafDer: leaf && 'raw' in leaf ? leaf.raw : null,
          ocspStapled: stapled,
          session: session ?? socket.getSession() ?? null,
          ticket: Boolean(ticket && ticket.length > 0),
          reused: socket.isSessionReused(),
          ephemeral: ephemeralOf(socket),
          error: null,
          errorMessage: null,
          socket: options.keep ? socket : null,
        });
      };
      if (options.waitSessionMs && socket.getProtocol() === 'TLSv1.3' && !session) {
        // TLS 1.3 tickets come after the handshake, with the first server flight.
        const t = setTimeout(report, options.waitSessionMs);
        socket.once('session', () => {
          clearTimeout(t);
          setImmediate(report);
        });
        socket.resume();
      } else report();
    });
  });
}

function ephemeralOf(socket: TLSSocket): Hello['ephemeral'] {
  const e = socket.getEphemeralKeyInfo() as { type?: string; name?: string; size?: number } | null;
  return e?.type && e.size ? { type: e.type, name: e.name ?? null, size: e.size } : null;
}
