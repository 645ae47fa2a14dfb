/**
 * @module diagnostics/starttls
 * The plain-text preambles that come before TLS on database and mail ports.
 */
import type { Socket } from 'node:net';
import { CertgateError } from '../errors.ts';

export type StartTlsProtocol = 'postgres' | 'mysql' | 'smtp';

export const STARTTLS_PROTOCOLS: readonly StartTlsProtocol[] = ['postgres', 'mysql', 'smtp'];

export const DEFAULT_PORTS: Record<StartTlsProtocol | 'tls', number> = { tls: 443, postgres: 5432, mysql: 3306, smtp: 587 };

/** Reads from a socket until `need` says how many bytes make a complete reply. */
class Reader {
  private buf = Buffer.alloc(0);
  private wake: (() => void) | null = null;
  private failure: Error | null = null;
  private readonly onData = (d: Buffer) => {
    this.buf = Buffer.concat([this.buf, d]);
    this.wake?.();
  };
  private readonly onEnd = () => {
    this.failure = new CertgateError(
      'E_STARTTLS',
      'the server closed the connection during the STARTTLS preamble',
      'check that this port speaks the protocol given to --starttls',
    );
    this.wake?.();
  };
  private readonly onError = (err: Error) => {
    this.failure = err;
    this.wake?.();
  };
  private readonly socket: Socket;
  constructor(socket: Socket) {
    this.socket = socket;
    socket.on('data', this.onData);
    socket.on('end', this.onEnd);
    // A socket destroyed by a timer ends with 'close' only: a reader waiting on it must wake too.
    socket.on('close', this.onEnd);
    socket.on('error', this.onError);
  }
  async read(need: (buf: Buffer) => number | null): Promise<Buffer> {
    for (;;) {
      const n = need(this.buf);
      if (n !== null && n <= this.buf.length) {
        const out = this.buf.subarray(0, n);
        this.buf = this.buf.subarray(n);
        return out;
      }
      if (this.failure) throw this.failure;
      await new Promise<void>((resolve) => {
        this.wake = resolve;
      });
      this.wake = null;
    }
  }
  /** Bytes received and not yet consumed. */
  pending(): Buffer {
    return this.buf;
  }
  /** Detaches and hands back any bytes read past the preamble. */
  release(): Buffer {
    this.socket.off('data', this.onData);
    this.socket.off('end', this.onEnd);
    this.socket.off('close', this.onEnd);
    this.socket.off('error', this.onError);
    this.socket.pause();
    return this.buf;
  }
}

function refused(protocol: string, detail: string, fix: string): CertgateError {
  return new CertgateError('E_STARTTLS', `${protocol}: ${detail}`, fix);
}

const NAMES: Record<StartTlsProtocol, string> = { postgres: 'PostgreSQL', mysql: 'MySQL', smtp: 'SMTP' };

/** What a server that spoke (or answered) seems to speak, from its first bytes. */
export interface Speaks {
  /** In the operator's words: "TLS directly", "MySQL", "SMTP", "plain HTTP", ... */
  what: string;
  /** The flag that reaches it instead, e.g. "--starttls mysql"; "" for TLS without STARTTLS. */
  use: string | null;
}

export function speaksFrom(bytes: Buffer): Speaks | null {
  if (bytes.length === 0) return null;
  const text = bytes.subarray(0, 64).toString('latin1');
  if (bytes[0] === 0x16 || bytes[0] === 0x15) return { what: 'TLS directly (it answered with a TLS record)', use: '' };
  if (/^HTTP\/\d/.test(text)) return { what: 'plain HTTP', use: null };
  if (/^SSH-/.test(text)) return { what: 'SSH', use: null };
  if (/^\d{3}[ -]/.test(text)) return { what: `SMTP (it greeted "${text.split(/\r?\n/)[0]?.slice(0, 40)}")`, use: '--starttls smtp' };
  if (bytes.length >= 5 && bytes[3] === 0 && (bytes[4] === 10 || bytes[4] === 0xff) && bytes.readUIntLE(0, 3) <= 4096)
    return { what: 'MySQL (it sent a MySQL greeting)', use: '--starttls mysql' };
  if (bytes[0] === 0x45 && /SFATAL|VFATAL|unsupported frontend protocol/.test(text)) return { what: 'PostgreSQL', use: '--starttls postgres' };
  return null;
}

/** The error for a server that speaks something else than --starttls said. */
export function notThisProtocol(protocol: StartTlsProtocol, speaks: Speaks, target?: string): CertgateError {
  const instead =
    speaks.use === ''
      ? `drop --starttls: this port speaks TLS from the first byte${target ? ` (certgate inspect ${target})` : ''}`
      : speaks.use
        ? `use ${speaks.use} instead of --starttls ${protocol}${target ? `: certgate inspect ${target} ${speaks.use}` : ''}`
        : `this port is not ${NAMES[protocol]}: check the port number`;
  return refused(protocol, `the server does not speak ${NAMES[protocol]}: it seems to speak ${speaks.what}`, instead);
}

/** Thrown by a `need` function as soon as the bytes cannot be the protocol's. */
class NotProtocol extends Error {
  readonly bytes: Buffer;
  constructor(bytes: Buffer) {
    super('not this protocol');
    this.bytes = Buffer.from(bytes);
  }
}

async function postgres(socket: Socket, r: Reader): Promise<void> {
  const req = Buffer.alloc(8);
  req.writeInt32BE(8, 0);
  req.writeInt32BE(80877103, 4); // SSLRequest
  socket.write(req);
  const [answer] = await r.read((b) => (b.length >= 1 ? 1 : null));
  // PostgreSQL answers SSLRequest with one byte and waits: anything more came from a server
  // that speaks first (MySQL's greeting may even start with "S").
  if (r.pending().length || (answer !== 0x53 && answer !== 0x4e)) throw new NotProtocol(Buffer.concat([Buffer.from([answer ?? 0]), r.pending()]));
  if (answer === 0x53) return; // 'S'
  if (answer === 0x4e)
    throw refused(
      'postgres',
      'the server answered N: SSL is off on this PostgreSQL',
      'set ssl = on with ssl_cert_file and ssl_key_file in postgresql.conf, then reload',
    );
}

const CLIENT_SSL = 0x800;
const CLIENT_PROTOCOL_41 = 0x200;
const CLIENT_SECURE_CONNECTION = 0x8000;

async function mysql(socket: Socket, r: Reader): Promise<void> {
  const header = await r.read((b) => {
    // A greeting: 3-byte length, sequence 0, then protocol 10 (or 0xff, an error packet).
    if (b.length >= 5 && !(b[3] === 0 && (b[4] === 10 || b[4] === 0xff) && b.readUIntLE(0, 3) <= 4096)) throw new NotProtocol(b);
    return b.length >= 5 ? 4 : null;
  });
  const len = header.readUIntLE(0, 3);
  const payload = await r.read((b) => (b.length >= len ? len : null));
  if (payload[0] === 0xff)
    throw refused('mysql', `the server refused the connection: ${payload.subarray(3).toString('utf8')}`, 'check that this host may connect');
  if (payload[0] !== 10) throw refused('mysql', 'the greeting is not MySQL protocol 10', 'check that this port is MySQL or MariaDB');
  const versionEnd = payload.indexOf(0, 1);
  // capability flags (lower 2 bytes) follow: thread id (4), auth data (8), filler (1)
  const capsLow = payload.readUInt16LE(versionEnd + 1 + 4 + 8 + 1);
  if (!(capsLow & CLIENT_SSL))
    throw refused(
      'mysql',
      'the server does not offer TLS (no CLIENT_SSL capability)',
      'configure ssl_cert, ssl_key (and ssl_ca) on the MySQL/MariaDB server and restart it',
    );
  const req = Buffer.alloc(4 + 32);
  req.writeUIntLE(32, 0, 3);
  req[3] = (header[3] ?? 0) + 1; // sequence id
  req.writeUInt32LE(CLIENT_SSL | CLIENT_PROTOCOL_41 | CLIENT_SECURE_CONNECTION, 4);
  req.writeUInt32LE(16 * 1024 * 1024, 8);
  req[12] = 45; // utf8mb4_general_ci
  socket.write(req);
}

function smtpReply(b: Buffer): number | null {
  // Every SMTP line starts with a 3-digit code: anything else is not SMTP, and need not be waited out.
  if (b.length >= 4 && !/^\d{3}[ \-\r\n]/.test(b.subarray(0, 4).toString('latin1'))) throw new NotProtocol(b);
  if (b.length > 0 && b.length < 4 && !/^\d+$/.test(b.toString('latin1'))) throw new NotProtocol(b);
  // a reply ends with a line "NNN text" (space, not dash, after the code)
  let start = 0;
  for (;;) {
    const nl = b.indexOf('\n', start);
    if (nl < 0) return null;
    const line = b.subarray(start, nl).toString('latin1');
    if (/^\d{3}(?: |\r?$)/.test(line)) return nl + 1;
    start = nl + 1;
  }
}

async function smtp(socket: Socket, r: Reader): Promise<void> {
  const greeting = (await r.read(smtpReply)).toString('latin1');
  if (!greeting.startsWith('220')) throw refused('smtp', `greeting was "${greeting.trim()}"`, 'check that this port is an SMTP server');
  socket.write('EHLO certgate.invalid\r\n');
  const ehlo = (await r.read(smtpReply)).toString('latin1');
  if (!/^250[ -]STARTTLS/im.test(ehlo))
    throw refused('smtp', 'the server does not offer STARTTLS', 'enable STARTTLS on the mail server, or connect to its implicit-TLS port (465)');
  socket.write('STARTTLS\r\n');
  const go = (await r.read(smtpReply)).toString('latin1');
  if (!go.startsWith('220')) throw refused('smtp', `STARTTLS was answered "${go.trim()}"`, 'check the mail server log');
}

export interface StartTlsOptions {
  /**
   * How long the server may stay silent before certgate asks `identify` what it speaks (default
   * 3000 ms). A silent server was probably waiting for the client: TLS, HTTP or PostgreSQL.
   */
  silenceMs?: number;
  /** Looks at the port from a fresh connection: what does it speak, when it says nothing? */
  identify?: () => Promise<Speaks | null>;
  /** HOST:PORT, for the fix. */
  target?: string;
}

/** Runs the preamble; returns bytes already read past it (normally none). */
export async function startTls(protocol: StartTlsProtocol, socket: Socket, options: StartTlsOptions = {}): Promise<Buffer> {
  const r = new Reader(socket);
  const preamble = protocol === 'postgres' ? postgres(socket, r) : protocol === 'mysql' ? mysql(socket, r) : smtp(socket, r);
  // The preamble may fail after we stopped listening to it (the socket is destroyed): not news.
  preamble.catch(() => {});
  let timer: NodeJS.Timeout | undefined;
  const silent = new Promise<'silent'>((resolve) => {
    timer = setTimeout(() => resolve('silent'), options.silenceMs ?? 3000);
  });
  try {
    const first = await Promise.race([preamble, silent]);
    if (first === 'silent' && r.pending().length === 0 && options.identify) {
      const speaks = await options.identify();
      if (speaks) throw notThisProtocol(protocol, speaks, options.target);
    }
    await preamble;
  } catch (err) {
    if (err instanceof NotProtocol) {
      const speaks = speaksFrom(err.bytes) ?? {
        what: `something else (it sent "${err.bytes
          .subarray(0, 24)
          .toString('latin1')
          .replace(/[^\x20-\x7e]/g, '.')}")`,
        use: null,
      };
      throw notThisProtocol(protocol, speaks, options.target);
    }
    throw err;
  } finally {
    clearTimeout(timer);
  }
  return r.release();
}

/**
 * True when the port answers a PostgreSQL SSLRequest: used to tell an operator who forgot
 * --starttls postgres what the port is (PostgreSQL drops a TLS ClientHello without a word).
 */
export async function answersPostgres(socket: Socket, timeoutMs: number): Promise<boolean> {
  const r = new Reader(socket);
  const timer = setTimeout(() => socket.destroy(), timeoutMs);
  try {
    await postgres(socket, r);
    return true;
  } catch (err) {
    return err instanceof CertgateError && /answered N/.test(err.message);
  } finally {
    clearTimeout(timer);
    r.release();
    socket.destroy();
  }
}
