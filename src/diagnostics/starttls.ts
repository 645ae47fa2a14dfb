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
  /** Detaches and hands back any bytes read past the preamble. */
  release(): Buffer {
    this.socket.off('data', this.onData);
    this.socket.off('end', this.onEnd);
    this.socket.off('error', this.onError);
    this.socket.pause();
    return this.buf;
  }
}

function refused(protocol: string, detail: string, fix: string): CertgateError {
  return new CertgateError('E_STARTTLS', `${protocol}: ${detail}`, fix);
}

async function postgres(socket: Socket, r: Reader): Promise<void> {
  const req = Buffer.alloc(8);
  req.writeInt32BE(8, 0);
  req.writeInt32BE(80877103, 4); // SSLRequest
  socket.write(req);
  const [answer] = await r.read((b) => (b.length >= 1 ? 1 : null));
  if (answer === 0x53) return; // 'S'
  if (answer === 0x4e)
    throw refused(
      'postgres',
      'the server answered N: SSL is off on this PostgreSQL',
      'set ssl = on with ssl_cert_file and ssl_key_file in postgresql.conf, then reload',
    );
  throw refused('postgres', `unexpected reply 0x${(answer ?? 0).toString(16)} to SSLRequest`, 'check that this port is PostgreSQL');
}

const CLIENT_SSL = 0x800;
const CLIENT_PROTOCOL_41 = 0x200;
const CLIENT_SECURE_CONNECTION = 0x8000;

async function mysql(socket: Socket, r: Reader): Promise<void> {
  const header = await r.read((b) => (b.length >= 4 ? 4 : null));
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

/** Runs the preamble; returns bytes already read past it (normally none). */
export async function startTls(protocol: StartTlsProtocol, socket: Socket): Promise<Buffer> {
  const r = new Reader(socket);
  if (protocol === 'postgres') await postgres(socket, r);
  else if (protocol === 'mysql') await mysql(socket, r);
  else await smtp(socket, r);
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
