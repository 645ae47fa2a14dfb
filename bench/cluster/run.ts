/**
 * bench/cluster: the PostgreSQL store against the filesystem store, in the same run.
 *
 *   npm run build && node --import tsx bench/cluster/run.ts [--names 1000] [--batch 25] [--samples 300] [--skip-hold]
 *
 * 1. Hold N names from Pebble: one `serve` on the filesystem store, then three on one PostgreSQL
 *    store (names asked round-robin of the three nodes; done when every node serves every name).
 *    Same Pebble, one after the other; every name asked for by on-demand handshakes, in batches.
 * 2. Propagation: a pair written by node A until node B has heard (LISTEN/NOTIFY) and read it
 *    back (what its refresh does before the next handshake serves it): p50/p99.
 * 3. Locks: acquire and release p99, three lockers (own pools) x 8 workers on one key (waiting)
 *    and on distinct keys.
 * 4. Handshakes per server CPU-second, filesystem node vs a PostgreSQL node, both up and each
 *    holding the N names, in alternating rounds: full TLS handshakes (no session), SNI cycling
 *    through the held names, 8 at a time, the server's CPU read from /proc. The handshake path reads memory only (src/cache), so the
 *    target is the same figure (within 3%).
 */
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect as tlsConnect } from 'node:tls';
import { createPgBackend } from '../../src/store/pg/index.ts';
import { watchStore } from '../../src/store/pg/watch.ts';
import { handshake, startCluster } from '../../test/cluster/helpers.ts';
import { startServe, waitFor } from '../../test/edge/helpers.ts';
import { freePort } from '../../test/helpers/daemons.ts';
import { startPebble } from '../../test/helpers/pebble.ts';
import { pgFixture } from '../../test/store/pg-helpers.ts';

const arg = (n: string, d: number) => {
  const i = process.argv.indexOf(n);
  return i > 0 ? Number(process.argv[i + 1]) : d;
};
const NAMES = arg('--names', 1000);
const BATCH = arg('--batch', 25);
const SAMPLES = arg('--samples', 300);
const work = mkdtempSync(join(tmpdir(), 'certgate-bench-cluster-'));

const pct = (xs: number[], p: number) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))] ?? NaN;
};
const ms = (x: number) => `${x.toFixed(1)} ms`;

/** utime + stime of a process, in seconds (clock ticks of 100 Hz). */
function cpuSeconds(pid: number): number {
  const f = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]?.split(' ') ?? [];
  return (Number(f[11]) + Number(f[12])) / 100;
}

/** Full handshakes per server CPU-second: `count` connections, 8 at a time, SNI cycling through `names`. */
async function handshakesPerCpu(pid: number, port: number, names: string[], root: string, count = HANDSHAKES): Promise<number> {
  const one = (servername: string) =>
    new Promise<void>((resolve, reject) => {
      const s = tlsConnect({ port, host: '127.0.0.1', servername, ca: [root], ALPNProtocols: ['http/1.1'] }, () => {
        s.destroy();
        resolve();
      });
      s.on('error', reject);
      s.setTimeout(10_000, () => s.destroy(new Error('handshake timed out')));
    });
  for (let i = 0; i < 200; i++) await one(names[i % names.length] as string); // warm-up (JIT)
  const c0 = cpuSeconds(pid);
  let next = 0;
  await Promise.all(
    Array.from({ length: 8 }, async () => {
      while (next < count) await one(names[next++ % names.length] as string);
    }),
  );
  return count / (cpuSeconds(pid) - c0);
}

const HANDSHAKES = arg('--handshakes', 2000);
const HS_ROUNDS = arg('--handshake-rounds', 4);

/** A serving node holding the names: what the handshake comparison needs of it. */
interface Held {
  pid: number;
  port: number;
  names: string[];
  root: string;
}

/** Holds the names on one filesystem node, then runs `then` while that node still serves them. */
async function holdFs(then: (held: Held, ms: number) => Promise<void>): Promise<void> {
  const pebble = await startPebble();
  const caFile = join(work, 'pebble-ca.pem');
  writeFileSync(caFile, pebble.tlsCaPem);
  const ask = createServer((_req, res) => res.writeHead(200).end());
  await new Promise<void>((r) => ask.listen(0, '127.0.0.1', r));
  const https = await freePort();
  const node = startServe(
    [
      ...['--https-port', String(https), '--http-port', String(pebble.httpPort), '--host', '127.0.0.1'],
      ...['--directory', pebble.directoryUrl, '--ca-root', caFile, '--email', 'ops@certgate.dev', '--agree-tos', '--challenges', 'http-01'],
      ...['--ask', `http://127.0.0.1:${(ask.address() as { port: number }).port}/`],
      ...['--on-demand-per-minute', '10000', '--on-demand-per-client', '10000', '--on-demand-wait', '120s'],
      // Pebble has no order limit: certgate's own (Let's Encrypt's 300 per 3 h) would stop the run.
      ...['--acme-order-budget', '100000'],
    ],
    { CERTGATE_DATA: join(work, 'fs-node') },
  );
  try {
    await waitFor(() => node.err().includes('trust it:'), 'fs node up', 30_000);
    const root = await pebble.issuingRoot();
    const names = Array.from({ length: NAMES }, (_, i) => `bfs-${i}.example.com`);
    const t0 = performance.now();
    for (let i = 0; i < names.length; i += BATCH) {
      const got = await Promise.all(names.slice(i, i + BATCH).map((n) => handshake(https, n, root)));
      if (got.some((s) => !s)) throw new Error(`fs: a name failed\n${node.err().slice(-2000)}`);
    }
    await then({ pid: node.child.pid as number, port: https, names, root }, performance.now() - t0);
  } finally {
    node.child.kill('SIGKILL');
    await node.exited;
    await new Promise((r) => ask.close(r));
    await pebble.close();
  }
}

/** Holds the names on three PostgreSQL nodes, then runs `then` while they still serve them. */
async function holdCluster(then: (held: Held, r: { ms: number; orders: number }) => Promise<void>): Promise<void> {
  const c = await startCluster(join(work), { nodes: 3, orderBudget: 100_000 });
  try {
    const root = await c.root();
    const names = Array.from({ length: NAMES }, (_, i) => `cl-b-${i}.example.com`);
    const before = c.pebble.orders();
    const t0 = performance.now();
    for (let i = 0; i < names.length; i += BATCH) {
      const got = await Promise.all(names.slice(i, i + BATCH).map((n, j) => handshake(c.nodes[(i + j) % 3]!.https, n, root)));
      if (got.some((s) => !s)) {
        const failed = names.slice(i, i + BATCH).filter((_, j) => !got[j]);
        const lines = c.nodes.flatMap((n) =>
          n.proc
            .err()
            .split('\n')
            .filter((l) => failed.some((f) => l.includes(f)) && !l.includes('"info"')),
        );
        throw new Error(`cluster: ${failed.join(', ')} failed\n${lines.slice(-20).join('\n')}`);
      }
    }
    // Held: every node serves every name (from memory once the notification arrived).
    for (const n of names) for (const node of c.nodes) if (!(await handshake(node.https, n, root, 10_000))) throw new Error(`${n} not on node ${node.index}`);
    const r = { ms: performance.now() - t0, orders: c.pebble.orders() - before };
    const n0 = c.nodes[0] as (typeof c.nodes)[number];
    await then({ pid: n0.proc.child.pid as number, port: n0.https, names, root }, r);
  } finally {
    await c.close();
  }
}

async function propagation(url: string): Promise<number[]> {
  const a = createPgBackend(url);
  const b = createPgBackend(url);
  await Promise.all([a.ready(), b.ready()]);
  const waiting = new Map<string, () => void>();
  const w = watchStore({
    target: b.target,
    pool: b.pool,
    onChange: (keys) => {
      for (const k of keys) waiting.get(k)?.();
    },
  });
  await w.started;
  const out: number[] = [];
  const pem = 'x'.repeat(3000);
  for (let i = 0; i < SAMPLES; i++) {
    const key = `certificates/p${i}.example.com`;
    const heard = new Promise<void>((r) => waiting.set(key, r));
    const t0 = performance.now();
    await a.storage.storeGroup(key, { 'fullchain.pem': { value: pem }, 'privkey.pem': { value: pem, private: true }, 'meta.json': { value: '{}' } });
    await heard;
    await Promise.all(['fullchain.pem', 'privkey.pem', 'meta.json'].map((f) => b.storage.load(`${key}/${f}`)));
    out.push(performance.now() - t0);
  }
  await w.close();
  await a.close();
  await b.close();
  return out;
}

async function locks(url: string, sameKey: boolean): Promise<{ acquire: number[]; release: number[] }> {
  const backends = [1, 2, 3].map(() => createPgBackend(url, { max: 8 }));
  await Promise.all(backends.map((b) => b.ready()));
  const acquire: number[] = [];
  const release: number[] = [];
  const perWorker = Math.ceil(SAMPLES / 24);
  await Promise.all(
    backends.flatMap((b, bi) =>
      Array.from({ length: 8 }, async (_, wi) => {
        for (let i = 0; i < perWorker; i++) {
          const key = sameKey ? 'bench-lock' : `bench-lock-${bi}-${wi}`;
          const t0 = performance.now();
          const r = await b.locker.lock(key);
          const t1 = performance.now();
          await r();
          acquire.push(t1 - t0);
          release.push(performance.now() - t1);
        }
      }),
    ),
  );
  for (const b of backends) await b.close();
  return { acquire, release };
}

const report: Record<string, unknown> = { names: NAMES };
if (!process.argv.includes('--skip-hold')) {
  await holdFs(async (fsHeld, fsMs) => {
    await holdCluster(async (pgHeld, cl) => {
      report.hold = { fsOneNodeMs: Math.round(fsMs), pgThreeNodesMs: Math.round(cl.ms), ratio: +(cl.ms / fsMs).toFixed(2), pebbleOrders: cl.orders };
      console.log(
        `hold ${NAMES} names: fs, one node ${(fsMs / 1000).toFixed(1)} s; pg, three nodes ${(cl.ms / 1000).toFixed(1)} s (x${(cl.ms / fsMs).toFixed(2)}); ${cl.orders} orders`,
      );
      // Both nodes up at once and measured in alternating rounds: the machine's drift hits both.
      const fs: number[] = [];
      const pg: number[] = [];
      for (let r = 0; r < HS_ROUNDS; r++) {
        fs.push(await handshakesPerCpu(fsHeld.pid, fsHeld.port, fsHeld.names, fsHeld.root));
        pg.push(await handshakesPerCpu(pgHeld.pid, pgHeld.port, pgHeld.names, pgHeld.root));
      }
      const [f, p] = [pct(fs, 50), pct(pg, 50)];
      report.handshakesPerCpuSecond = { fs: fs.map(Math.round), pg: pg.map(Math.round), ratio: +(p / f).toFixed(3) };
      console.log(
        `full handshakes per server CPU-second over the ${NAMES} held names (${HS_ROUNDS} alternating rounds of ${HANDSHAKES}, SNI cycling): ` +
          `fs ${Math.round(f)} (${fs.map(Math.round).join(', ')}), pg ${Math.round(p)} (${pg.map(Math.round).join(', ')}); pg/fs ${(p / f).toFixed(3)} (target within 3%)`,
      );
    });
  });
}
const fx = await pgFixture();
try {
  const p = await propagation(await fx.database());
  report.propagation = { samples: p.length, p50: pct(p, 50), p99: pct(p, 99) };
  console.log(`propagation (write on A → heard and read on B), ${p.length} samples: p50 ${ms(pct(p, 50))}, p99 ${ms(pct(p, 99))} (target p99 < 1 s)`);
  for (const same of [true, false]) {
    const l = await locks(await fx.database(), same);
    report[same ? 'lockOneKey' : 'lockDistinctKeys'] = { acquireP50: pct(l.acquire, 50), acquireP99: pct(l.acquire, 99), releaseP99: pct(l.release, 99) };
    console.log(
      `locks, 3 lockers x 8 workers, ${same ? 'one key (waiting, poll 250 ms)' : 'distinct keys'}: acquire p50 ${ms(pct(l.acquire, 50))}, p99 ${ms(pct(l.acquire, 99))}; release p99 ${ms(pct(l.release, 99))}`,
    );
  }
} finally {
  await fx.close();
}
console.log(JSON.stringify(report));
