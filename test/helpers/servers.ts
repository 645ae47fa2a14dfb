/**
 * Real TLS servers on loopback for tests. Each returns its port and a close() that the test
 * registers with t.after().
 */
import { createServer as createHttpServer } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { createServer as createNetServer, type Server, type Socket } from 'node:net';
import { Duplex } from 'node:stream';
import { createSecureContext, createServer as createTlsServer, type SecureContextOptions, TLSSocket } from 'node:tls';

export interface Running {
  port: number;
  close(): Promise<void>;
}

function listen(server: Server): Promise<number> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve((server.address() as AddressInfo).port));
  });
}

function closer(server: Server, sockets: Set<Socket>): () => Promise<void> {
  return () =>
    new Promise((resolve) => {
      for (const s of sockets) s.destroy();
      server.close(() => resolve());
    });
}

function track(server: Server): Set<Socket> {
  const sockets = new Set<Socket>();
  server.on('connection', (s: Socket) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  return sockets;
}

export interface TlsServerOptions {
  /** PEM certificates in the order the server sends them. */
  chain: string[];
  key: string;
  /** Require a client certificate issued by these CAs. */
  requestCert?: { ca: string[] };
  maxVersion?: 'TLSv1.2' | 'TLSv1.3';
  minVersion?: 'TLSv1' | 'TLSv1.2' | 'TLSv1.3';
  ciphers?: string;
}

export async function startTlsServer(options: TlsServerOptions): Promise<Running> {
  const ctx: SecureContextOptions = {
    cert: options.chain.join(''),
    key: options.key,
    ...(options.maxVersion ? { maxVersion: options.maxVersion } : {}),
    ...(options.minVersion ? { minVersion: options.minVersion } : {}),
    ...(options.ciphers ? { ciphers: options.ciphers } : {}),
  };
  const server = createTlsServer({
    ...ctx,
    ...(options.requestCert ? { requestCert: true, rejectUnauthorized: true, ca: options.requestCert.ca } : {}),
  });
  server.on('secureConnection', (s) => {
    s.on('error', () => {});
    s.end('hello\n');
  });
  server.on('tlsClientError', () => {});
  const sockets = track(server as unknown as Server);
  const port = await listen(server as unknown as Server);
  return { port, close: closer(server as unknown as Server, sockets) };
}

/** A plain HTTP server (the "plain-text port" case, and AIA URLs). */
export async function startHttpServer(handler: (path: string) => { status: number; body: Buffer | string } | undefined): Promise<Running> {
  const server = createHttpServer((req, res) => {
    const out = handler(req.url ?? '/') ?? { status: 404, body: 'not found' };
    res.writeHead(out.status);
    res.end(out.body);
  });
  const sockets = track(server as unknown as Server);
  const port = await listen(server as unknown as Server);
  return { port, close: closer(server as unknown as Server, sockets) };
}

/**
 * A minimal STARTTLS server: speaks the SMTP or MySQL preamble in plain text, then TLS.
 * Real enough to test certgate's side of the protocol; PostgreSQL tests use a real server.
 */
export async function startStartTlsServer(protocol: 'smtp' | 'mysql', tls: TlsServerOptions): Promise<Running> {
  const secure = { secureContext: createSecureContext({ cert: tls.chain.join(''), key: tls.key }), isServer: true as const };
  const server = createNetServer((socket) => {
    socket.on('error', () => {});
    const upgrade = (leftover: Buffer = Buffer.alloc(0)) => {
      socket.removeAllListeners('data');
      // A client may send its TLS hello in the same packet as the preamble's last bytes.
      const t = new TLSSocket(leftover.length ? withLeftover(socket, leftover) : socket, secure);
      t.on('error', () => {});
      t.on('secure', () => t.end());
    };
    if (protocol === 'smtp') {
      socket.write('220 mail.test ESMTP ready\r\n');
      let buf = '';
      socket.on('data', (d) => {
        buf += d.toString('latin1');
        while (buf.includes('\r\n')) {
          const line = buf.slice(0, buf.indexOf('\r\n'));
          buf = buf.slice(buf.indexOf('\r\n') + 2);
          if (/^EHLO/i.test(line)) socket.write('250-mail.test\r\n250-PIPELINING\r\n250 STARTTLS\r\n');
          else if (/^STARTTLS/i.test(line)) {
            socket.write('220 go ahead\r\n', () => upgrade());
            return;
          } else socket.write('502 no\r\n');
        }
      });
    } else {
      // MySQL protocol 10 greeting with CLIENT_SSL, then expect the 32-byte SSL request.
      const version = Buffer.from('8.0.0-certgate-test\0', 'latin1');
      const body = Buffer.concat([
        Buffer.from([10]),
        version,
        Buffer.from([1, 0, 0, 0]), // thread id
        Buffer.from('abcdefgh', 'latin1'),
        Buffer.from([0]),
        Buffer.from([0x00, 0x8a]), // capabilities low: PROTOCOL_41 | SSL | SECURE_CONNECTION (0x8a00 little-endian = 0x00 0x8a)
        Buffer.from([45, 2, 0, 0, 0]),
        Buffer.alloc(10),
        Buffer.from('ijklmnopqrst\0', 'latin1'),
      ]);
      const head = Buffer.alloc(4);
      head.writeUIntLE(body.length, 0, 3);
      head[3] = 0;
      socket.write(Buffer.concat([head, body]));
      let got = Buffer.alloc(0);
      socket.on('data', (d) => {
        got = Buffer.concat([got, d]);
        if (got.length >= 36) upgrade(got.subarray(36));
      });
    }
  });
  const sockets = track(server);
  const port = await listen(server);
  return { port, close: closer(server, sockets) };
}

function withLeftover(socket: Socket, leftover: Buffer): Duplex {
  const d = new Duplex({
    read() {
      socket.resume();
    },
    write(chunk, _enc, cb) {
      socket.write(chunk, cb);
    },
    final(cb) {
      socket.end();
      cb();
    },
  });
  d.push(leftover);
  socket.on('data', (chunk) => {
    if (!d.push(chunk)) socket.pause();
  });
  socket.on('end', () => d.push(null));
  socket.on('close', () => d.destroy());
  d.on('error', () => socket.destroy());
  return d;
}

/** An HTTPS server answering 200 "ok" (and echoing the path), for outbound-trust tests. */
export async function startHttpsServer(options: { chain: string[]; key: string; requestCert?: { ca: string[] } }): Promise<Running> {
  const server = createHttpsServer(
    {
      cert: options.chain.join(''),
      key: options.key,
      ...(options.requestCert ? { requestCert: true, rejectUnauthorized: true, ca: options.requestCert.ca } : {}),
    },
    (req, res) => {
      res.writeHead(200, { 'content-type': 'text/plain' });
      res.end(`ok ${req.url}`);
    },
  );
  server.on('tlsClientError', () => {});
  const sockets = track(server as unknown as Server);
  const port = await listen(server as unknown as Server);
  return { port, close: closer(server as unknown as Server, sockets) };
}
