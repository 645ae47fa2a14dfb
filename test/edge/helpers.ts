import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { ChallengeAnswers } from '../../src/acme/challenges.ts';
import { CertCache } from '../../src/cache/cache.ts';
import { Edge, type EdgeOptions } from '../../src/edge/edge.ts';
import { LocalCa } from '../../src/localca/local-ca.ts';

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
