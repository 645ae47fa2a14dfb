/**
 * PostgreSQL down under a running cluster: nodes keep serving what they hold from memory, the
 * outage is logged once per node (not per request), and when the database is back they
 * reconnect by themselves and issue again.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { waitFor } from '../edge/helpers.ts';
import { tempDir } from '../helpers/tmp.ts';
import { handshake, startCluster } from './helpers.ts';

test('cluster: PostgreSQL restarted: serving continues from memory, outage logged once, issuance resumes after', { timeout: 180_000 }, async (t) => {
  const c = await startCluster(tempDir(t), { nodes: 2 });
  t.after(() => c.close());
  const root = await c.root();
  const name = `cl-out-${process.pid}.example.com`;
  const serial = await handshake(c.nodes[1]!.https, name, root);
  assert.ok(serial);
  assert.equal(await handshake(c.nodes[0]!.https, name, root, 10_000), serial);
  await c.pg.stop();
  for (let i = 0; i < 10; i++) for (const n of c.nodes) assert.equal(await handshake(n.https, name, root, 10_000), serial, `served from memory (${i})`);
  // New names wait for the database: refused now, not half-done.
  const during = await Promise.all(c.nodes.map((n, i) => handshake(n.https, `cl-during${i}-${process.pid}.example.com`, root, 10_000)));
  assert.deepEqual(during, [null, null]);
  await waitFor(() => c.nodes.every((n) => /PostgreSQL is unreachable/.test(n.proc.out() + n.proc.err())), 'the outage logged', 20_000);
  await c.pg.start();
  await waitFor(() => c.nodes.every((n) => /PostgreSQL is back/.test(n.proc.out() + n.proc.err())), 'the reconnection logged', 30_000);
  for (const n of c.nodes) assert.equal(((n.proc.out() + n.proc.err()).match(/PostgreSQL is unreachable/g) ?? []).length, 1, 'logged once');
  const after = await handshake(c.nodes[0]!.https, `cl-after-${process.pid}.example.com`, root);
  assert.ok(after, c.nodes[0]!.proc.err().slice(-2000));
});
