import { type ChildProcess, spawn } from 'node:child_process';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { type AddressInfo, createServer as createNetServer, connect as netConnect } from 'node:net';
import { join } from 'node:path';
import { connect as tlsConnect } from 'node:tls';
import { ChallengeAnswers } from '../../src/acme/challenges.ts';
import { CertCache } from '../../src/cache/cache.ts';
import { Edge, type EdgeOptions } from '../../src/edge/edge.ts';
import { LocalCa } from '../../src/localca/local-ca.ts';
import { cleanEnv } from '../helpers/env.ts';

export interface Upstream {
  url: string;
  seen: IncomingMessage[];
  /** Upgraded (WebSocket) connections still open. */
  upgraded: Set<import('node:stream').Duplex>;
  close(): Promise<void>;
}

/** An app: echoes what it was asked as JSON; /slow answers after 300 ms; upgrades echo bytes. */
export async function startUpstream(): Promise<Upstream> {
  const seen: IncomingMessage[] = [];
  const server: Server = createServer((req, res) => {
    seen.push(req);
    const body = JSON.stringify({ url: req.url, method: req.method, headers: req.headers });
    const send = () => {
      res.writeHead(200, { 'content-type': 'application/json', connection: 'keep-alive' });
      res.end(body);
    };
    if (req.url === '/slow') setTimeout(send, 300);
    else send();
  });
  const upgraded = new Set<import('node:stream').Duplex>();
  server.on('upgrade', (req, socket) => {
    seen.push(req);
    upgraded.add(socket);
    socket.on('close', () => upgraded.delete(socket));
    socket.on('end', () => socket.end()); // as a WebSocket server does when its peer leaves
    socket.write('HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n');
    socket.on('data', (d) => socket.write(Buffer.concat([Buffer.from('echo:'), d])));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    seen,
    upgraded,
    close: () =>
      new Promise((r) => {
        for (const u of upgraded) u.destroy();
        server.closeAllConnections();
        server.close(() => r());
      }),
  };
}

export async function startEdge(
  dir: string,
  options: Partial<EdgeOptions> = {},
): Promise<{ edge: Edge; localCa: LocalCa; cache: CertCache; answers: ChallengeAnswers; https: number; http: number; caPem: string }> {
  const localCa = new LocalCa({ dir: join(dir, 'local-ca') });
  const { certPem } = await localCa.load();
  const cache = new CertCache();
  const answers = new ChallengeAnswers();
  const edge = new Edge({ httpsPort: 0, httpPort: 0, host: '127.0.0.1', upstream: null, cache, localCa, answers, drainMs: 2000, ...options });
  const ports = await edge.start();
  return { edge, localCa, cache, answers, https: ports.https as number, http: ports.http as number, caPem: certPem };
}

/** Polls until `what` holds (for logs and process state; never for timing). */
export async function waitFor(what: () => boolean, label: string, ms = 20_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!what()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${label}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

/** GET over HTTPS to 127.0.0.1 as `name` (SNI and Host; default localhost), trusting `ca`, on a new connection. */
export function httpsGet(port: number, path: string, ca: string, name = 'localhost'): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = httpsRequest({ host: '127.0.0.1', port, path, servername: name, headers: { host: name }, ca, agent: false }, (res) => {
      let body = '';
      res.on('data', (d) => {
        body += d;
      });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('error', reject);
    req.end();
  });
}

export interface ServeProcess {
  child: ChildProcess;
  out(): string;
  err(): string;
  exited: Promise<number | null>;
}

/** `certgate serve ARGS` from the built bin, with only PATH and `env` in its environment. */
export function startServe(args: string[], env: Record<string, string>): ServeProcess {
  const bin = join(import.meta.dirname, '..', '..', 'bin', 'certgate.js');
  const child = spawn(process.execPath, [bin, 'serve', ...args], { env: cleanEnv(env), stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  child.stdout?.on('data', (d) => {
    out += d;
  });
  child.stderr?.on('data', (d) => {
    err += d;
  });
  const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
  return { child, out: () => out, err: () => err, exited };
}

export interface Recorder {
  url: string;
  /** Every byte the upstream received, all connections together, as latin1 text. */
  received(): string;
  close(): Promise<void>;
}

/**
 * A raw upstream that records every byte it receives and answers each request head it sees with
 * `answer(head)` (default: 200 with a short body, keep-alive), or stays silent when that is null.
 */
export async function startRecorder(answer: (head: string) => string | null = () => 'HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok'): Promise<Recorder> {
  let all = '';
  const sockets = new Set<import('node:net').Socket>();
  const server = createNetServer((s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
    s.on('error', () => {});
    let pending = '';
    s.on('data', (d) => {
      all += d.toString('latin1');
      pending += d.toString('latin1');
      for (let i = 0; i < 100 && pending.includes('\r\n\r\n'); i++) {
        const head = pending.slice(0, pending.indexOf('\r\n\r\n'));
        pending = pending.slice(head.length + 4);
        const out = answer(head);
        if (out !== null) s.write(out);
      }
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    received: () => all,
    close: () =>
      new Promise((r) => {
        for (const s of sockets) s.destroy();
        server.close(() => r());
      }),
  };
}

/** Writes `payload` on a new plain (or TLS, as localhost) connection and collects the reply until the server closes or `ms` pass. */
export function rawExchange(port: number, payload: string, options: { tls?: { ca: string }; ms?: number } = {}): Promise<string> {
  return new Promise((resolve) => {
    const s = options.tls
      ? tlsConnect({ port, host: '127.0.0.1', servername: 'localhost', ca: [options.tls.ca], ALPNProtocols: ['http/1.1'] }, () => s.write(payload))
      : netConnect({ port, host: '127.0.0.1' }, () => s.write(payload));
    let got = '';
    s.on('data', (d) => {
      got += d.toString('latin1');
    });
    const timer = setTimeout(() => s.destroy(), options.ms ?? 2000);
    s.on('close', () => {
      clearTimeout(timer);
      resolve(got);
    });
    s.on('error', () => {});
  });
}
