/**
 * A lock holder that dies or pauses mid-order, on a three-node cluster (PostgreSQL, Pebble):
 * kill -9 — another node finishes after the lease lapses; SIGSTOP past the lease, then SIGCONT —
 * the paused node cannot overwrite the newer pair (E_FENCED), and the stored group is whole.
 */
import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { test } from 'node:test';
import pg from 'pg';
import { pgTarget } from '../../src/store/pg/connection.ts';
import { waitFor } from '../edge/helpers.ts';
import { tempDir } from '../helpers/tmp.ts';
import { type Cluster, handshake, startCluster } from './helpers.ts';

const LEASE = 2000;

async function pool(c: Cluster, t: { after(fn: () => unknown): void }) {
  const p = new pg.Pool(pgTarget(c.url).config);
  p.on('error', () => {});
  t.after(() => p.end());
  return p;
}

/** Polls the lease row until `pid` holds `key` (bounded). */
async function heldBy(p: pg.Pool, key: string, pid: number): Promise<number> {
  const deadline = Date.now() + 30_000;
  while (Date.now() < deadline) {
    const r = await p.query('SELECT pid, fence FROM certgate_locks WHERE key = $1 AND holder IS NOT NULL', [key]);
    if (r.rows[0]?.pid === pid) return Number(r.rows[0].fence);
    await new Promise((res) => setTimeout(res, 5));
  }
  throw new Error(`pid ${pid} never held ${key}`);
}

test('cluster: kill -9 of the node holding the lock mid-order: another node completes the name', { timeout: 120_000 }, async (t) => {
  const c = await startCluster(tempDir(t), { nodes: 3, leaseMs: LEASE });
  t.after(() => c.close());
  const p = await pool(c, t);
  const root = await c.root();
  const name = `cl-kill-${process.pid}.example.com`;
  const victim = c.nodes[1]!;
  void handshake(victim.https, name, root);
  const fence = await heldBy(p, `issue-${name}`, victim.proc.child.pid as number);
  victim.proc.child.kill('SIGKILL');
  await victim.proc.exited;
  const t0 = Date.now();
  const serial = await handshake(c.nodes[2]!.https, name, root);
  assert.ok(serial, c.nodes[2]!.proc.err().slice(-2000));
  assert.ok(Date.now() - t0 < LEASE + 15_000, `took ${Date.now() - t0} ms`);
  const r = await p.query('SELECT fence FROM certgate_locks WHERE key = $1', [`issue-${name}`]);
  assert.ok(Number(r.rows[0].fence) > fence, 'taken over with a higher fence');
  assert.equal(await handshake(c.nodes[0]!.https, name, root, 10_000), serial, 'node 0 serves it too');
});

test('cluster: a holder paused past its lease (SIGSTOP, SIGCONT) cannot overwrite the newer pair; nothing half-written', { timeout: 120_000 }, async (t) => {
  const c = await startCluster(tempDir(t), { nodes: 3, leaseMs: LEASE });
  t.after(() => c.close());
  const p = await pool(c, t);
  const root = await c.root();
  const name = `cl-stop-${process.pid}.example.com`;
  const paused = c.nodes[1]!;
  const late = handshake(paused.https, name, root);
  await heldBy(p, `issue-${name}`, paused.proc.child.pid as number);
  paused.proc.child.kill('SIGSTOP');
  const stoppedEarly = (await p.query('SELECT count(*)::int AS n FROM certgate_kv WHERE key LIKE $1', [`certificates/${name}/%`])).rows[0].n === 0;
  assert.ok(stoppedEarly, 'paused before it wrote');
  // Another node takes the lapsed lease and writes its pair.
  const serial = await handshake(c.nodes[2]!.https, name, root);
  assert.ok(serial, c.nodes[2]!.proc.err().slice(-2000));
  paused.proc.child.kill('SIGCONT');
  // The paused node finishes its order; its write is refused and it serves the newer pair.
  const lateSerial = await late;
  await waitFor(() => /lapsed or was taken over/.test(paused.proc.err() + paused.proc.out()), 'the fenced write refused (E_FENCED)', 30_000);
  assert.equal(lateSerial, serial, 'its waiting handshake got the newer pair');
  assert.equal(await handshake(paused.https, name, root, 10_000), serial, 'the paused node serves the newer pair');
  const rows = (await p.query('SELECT key, value FROM certgate_kv WHERE key LIKE $1 ORDER BY key', [`certificates/${name}/%`])).rows;
  assert.deepEqual(
    rows.map((r) => r.key.split('/').pop()),
    ['fullchain.pem', 'meta.json', 'privkey.pem'],
  );
  const files = Object.fromEntries(rows.map((r) => [r.key.split('/').pop(), r.value.toString()]));
  const leaf = new X509Certificate(files['fullchain.pem'] as string);
  assert.equal(leaf.serialNumber.toUpperCase(), (serial as string).toUpperCase(), 'the newer pair stayed');
  assert.equal(
    JSON.parse(files['meta.json'] as string)
      .serialNumber.toUpperCase()
      .replace(/:/g, ''),
    leaf.serialNumber.toUpperCase(),
  );
  assert.ok(leaf.checkPrivateKey((await import('node:crypto')).createPrivateKey(files['privkey.pem'] as string)), 'the key belongs to the certificate');
});
