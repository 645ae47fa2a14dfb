/**
 * A certgate cluster on loopback for tests: a real PostgreSQL, Pebble, and N `certgate serve`
 * processes on one store. Node 0 listens on Pebble's HTTP-01 port, so every HTTP-01 validation
 * reaches node 0 whichever node ordered: answering from the store is what is tested.
 */

import { writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { join } from 'node:path';
import { connect as tlsConnect } from 'node:tls';
import { type ServeProcess, startServe, waitFor } from '../edge/helpers.ts';
import { freePort } from '../helpers/daemons.ts';
import { type Pebble, startPebble } from '../helpers/pebble.ts';
import { type PgFixture, pgFixture } from '../store/pg-helpers.ts';

export interface ClusterNode {
  index: number;
  https: number;
  http: number;
  proc: ServeProcess;
}

export interface Cluster {
  pg: PgFixture;
  pebble: Pebble;
  url: string;
  nodes: ClusterNode[];
  root(): Promise<string>;
  startNode(index: number): Promise<ClusterNode>;
  close(): Promise<void>;
}

export async function startCluster(
  dir: string,
  o: { nodes: number; leaseMs?: number; pebbleEnv?: Record<string, string>; perMinute?: number; alpn?: boolean; orderBudget?: number },
): Promise<Cluster> {
  const pg = await pgFixture();
  const pebble = await startPebble(o.pebbleEnv ? { env: o.pebbleEnv } : {});
  const url = await pg.database();
  const ask: Server = createServer((req, res) => {
    const domain = new URL(req.url ?? '/', 'http://x').searchParams.get('domain') ?? '';
    res.writeHead(domain.startsWith('cl-') ? 200 : 403).end();
  });
  await new Promise<void>((r) => ask.listen(0, '127.0.0.1', r));
  const caFile = join(dir, 'pebble-tls-ca.pem');
  writeFileSync(caFile, pebble.tlsCaPem);
  const nodes: ClusterNode[] = [];
  const startNode = async (index: number): Promise<ClusterNode> => {
    // Node 0 holds the port Pebble validates on: HTTP-01's, or TLS-ALPN-01's with alpn.
    const https = index === 0 && o.alpn ? pebble.tlsPort : await freePort();
    const http = index === 0 && !o.alpn ? pebble.httpPort : await freePort();
    const proc = startServe(
      [
        '--store',
        url,
        '--store-lease',
        `${Math.round((o.leaseMs ?? 4000) / 1000)}s`,
        '--https-port',
        String(https),
        '--http-port',
        String(http),
        '--host',
        '127.0.0.1',
        '--directory',
        pebble.directoryUrl,
        '--ca-root',
        caFile,
        '--email',
        'ops@certgate.dev',
        '--agree-tos',
        '--challenges',
        o.alpn ? 'tls-alpn-01' : 'http-01',
        '--ask',
        `http://127.0.0.1:${(ask.address() as { port: number }).port}/`,
        '--on-demand-per-minute',
        String(o.perMinute ?? 10000),
        '--on-demand-per-client',
        '10000',
        '--on-demand-wait',
        '120s',
        ...(o.orderBudget ? ['--acme-order-budget', String(o.orderBudget)] : []),
      ],
      { CERTGATE_DATA: join(dir, `node${index}`) },
    );
    await waitFor(() => proc.err().includes('trust it:') || proc.child.exitCode !== null, `node ${index} up`, 30_000);
    if (proc.child.exitCode !== null) throw new Error(`node ${index} exited: ${proc.err()}`);
    const node = { index, https, http, proc };
    nodes[index] = node;
    return node;
  };
  for (let i = 0; i < o.nodes; i++) await startNode(i);
  return {
    pg,
    pebble,
    url,
    nodes,
    root: () => pebble.issuingRoot(),
    startNode,
    async close() {
      for (const n of nodes) {
        if (!n) continue;
        if (n.proc.child.signalCode === 'SIGSTOP') n.proc.child.kill('SIGCONT');
        if (n.proc.child.exitCode === null && n.proc.child.signalCode === null) n.proc.child.kill('SIGKILL');
        await n.proc.exited;
      }
      await new Promise((r) => ask.close(r));
      await pebble.close();
      await pg.close();
    },
  };
}

/** A handshake as `name`; resolves with the served leaf's serial when it verifies against `root`, else null. */
export function handshake(port: number, name: string, root: string, ms = 130_000): Promise<string | null> {
  return new Promise((resolve) => {
    const c = tlsConnect({ port, host: '127.0.0.1', servername: name, ca: [root] }, () => {
      const serial = c.authorized ? c.getPeerCertificate().serialNumber : null;
      c.destroy();
      resolve(serial);
    });
    c.setTimeout(ms, () => {
      c.destroy();
      resolve(null);
    });
    c.on('error', () => resolve(null));
  });
}
