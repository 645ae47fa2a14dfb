/**
 * Three `certgate serve` nodes on one PostgreSQL store, with Pebble: each name is ordered once
 * however many nodes are asked for it at once, every node serves every name, and the CA's
 * HTTP-01 request reaches a node that did not order (node 0 holds Pebble's port).
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import pg from 'pg';
import { pgTarget } from '../../src/store/pg/connection.ts';
import { tempDir } from '../helpers/tmp.ts';
import { type Cluster, handshake, startCluster } from './helpers.ts';

const NAMES = Number(process.env.CLUSTER_TEST_NAMES ?? 200);

test(`cluster: ${NAMES} names on demand across three nodes at once: exactly ${NAMES} orders, every node serves every name`, { timeout: 600_000 }, async (t) => {
  const c: Cluster = await startCluster(tempDir(t), { nodes: 3 });
  t.after(() => c.close());
  const root = await c.root();
  const before = c.pebble.orders();
  const names = Array.from({ length: NAMES }, (_, i) => `cl-n${i}-${process.pid}.example.com`);
  // Every name asked of all three nodes at the same moment, in batches the machine can take.
  const first: Array<string | null> = [];
  for (let i = 0; i < names.length; i += 25) {
    const batch = names.slice(i, i + 25);
    first.push(...(await Promise.all(batch.flatMap((n) => c.nodes.map((node) => handshake(node.https, n, root))))));
  }
  assert.equal(first.filter((s) => s === null).length, 0, `every first handshake verified\n${c.nodes.map((n) => n.proc.err().slice(-1500)).join('\n')}`);
  assert.equal(c.pebble.orders() - before, NAMES, 'one order per name');
  // And again: one serial per name, the same on every node.
  for (const n of names) {
    const serials = await Promise.all(c.nodes.map((node) => handshake(node.https, n, root, 10_000)));
    assert.equal(new Set(serials).size, 1, `${n}: ${serials}`);
    assert.notEqual(serials[0], null);
  }
});

test('cluster: the CA validates at a node that did not order, and the pair reaches the others through the store', { timeout: 120_000 }, async (t) => {
  const c = await startCluster(tempDir(t), { nodes: 2 });
  t.after(() => c.close());
  const root = await c.root();
  // Node 1 orders; Pebble's HTTP-01 request goes to node 0 (Pebble's port).
  const serial = await handshake(c.nodes[1]!.https, 'cl-only1.example.com', root);
  assert.ok(serial, c.nodes[1]!.proc.err().slice(-2000));
  assert.match(c.nodes[1]!.proc.out() + c.nodes[1]!.proc.err(), /cl-only1\.example\.com/);
  const pool = new pg.Pool(pgTarget(c.url).config);
  pool.on('error', () => {});
  t.after(() => pool.end());
  const held = await pool.query("SELECT host, pid FROM certgate_locks WHERE key = 'issue-cl-only1.example.com'");
  assert.equal(held.rows[0]?.pid ?? null, null, 'released');
  // Node 0 was told by the store's notification: it serves the same pair without ordering.
  const orders = c.pebble.orders();
  assert.equal(await handshake(c.nodes[0]!.https, 'cl-only1.example.com', root, 10_000), serial);
  assert.equal(c.pebble.orders(), orders);
});

test("cluster: the on-demand budget is the cluster's: 3 per minute across three nodes is 3 orders, not 9", { timeout: 120_000 }, async (t) => {
  const c = await startCluster(tempDir(t), { nodes: 3, perMinute: 3 });
  t.after(() => c.close());
  const root = await c.root();
  const before = c.pebble.orders();
  const names = Array.from({ length: 9 }, (_, i) => `cl-budget${i}-${process.pid}.example.com`);
  // The budget's window is a minute aligned on the database's clock: not across a boundary.
  if (Date.now() % 60_000 > 45_000) await new Promise((r) => setTimeout(r, 61_000 - (Date.now() % 60_000)));
  const served = await Promise.all(names.map((n, i) => handshake(c.nodes[i % 3]!.https, n, root, 60_000)));
  assert.equal(served.filter(Boolean).length, 3, `${served}`);
  assert.equal(c.pebble.orders() - before, 3);
});

test('cluster: TLS-ALPN-01 answered by a node that did not order (the answer reaches it through the store)', {
  timeout: 120_000,
}, async (t) => {
  const c = await startCluster(tempDir(t), { nodes: 2, alpn: true });
  t.after(() => c.close());
  const root = await c.root();
  const serial = await handshake(c.nodes[1]!.https, `cl-alpn-${process.pid}.example.com`, root);
  assert.ok(serial, c.nodes[0]!.proc.err().slice(-2500));
});
