/**
 * Maintenance shared by the nodes of one PostgreSQL store: one cycle per interval across them,
 * and a cycle that meets the database down is run again once it is back.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Maintainer } from '../../src/maintenance/maintainer.ts';
import { CertManager } from '../../src/manager/manager.ts';
import { createPgBackend } from '../../src/store/pg/index.ts';
import { Repository } from '../../src/store/repository.ts';
import { pgFixture } from '../store/pg-helpers.ts';

const fx = await pgFixture();
test.after(() => fx.close());

function node(url: string, reports: unknown[], errors: unknown[]) {
  const b = createPgBackend(url, { leaseMs: 2000 });
  const store = new Repository(b.storage);
  // No certificate is stored, so nothing is issued: the cycle's coordination is what is tested.
  const manager = new CertManager({ store, locker: b.locker, issuers: [{ id: 'unused', issue: () => Promise.reject(new Error('not used')) }] });
  const m = new Maintainer({
    store,
    manager,
    intervalMs: 60_000,
    shared: { locker: b.locker, retryMs: 200 },
    onReport: (r) => reports.push(r),
    onError: (e) => errors.push(e),
  });
  return { b, m };
}

test('cluster maintenance: three nodes started at once run one cycle between them', async () => {
  const url = await fx.database();
  const reports: unknown[] = [];
  const errors: unknown[] = [];
  const nodes = [1, 2, 3].map(() => node(url, reports, errors));
  await Promise.all(nodes.map((n) => n.b.ready()));
  for (const n of nodes) n.m.start();
  await new Promise((r) => setTimeout(r, 1500));
  assert.deepEqual(errors, []);
  assert.equal(reports.length, 1);
  for (const n of nodes) {
    await n.m.close();
    await n.b.close();
  }
});

test('cluster maintenance: a cycle that meets PostgreSQL down completes once it is back', { timeout: 60_000 }, async () => {
  const url = await fx.database();
  const reports: unknown[] = [];
  const errors: unknown[] = [];
  const n = node(url, reports, errors);
  await n.b.ready();
  await fx.stop();
  n.m.start();
  const deadline = Date.now() + 10_000;
  while (errors.length === 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
  assert.ok(errors.length >= 1, 'the cycle failed while the database was down');
  assert.equal(reports.length, 0);
  await fx.start();
  const back = Date.now() + 20_000;
  while (reports.length === 0 && Date.now() < back) await new Promise((r) => setTimeout(r, 50));
  assert.equal(reports.length, 1, 'the cycle completed after the restart');
  await n.m.close();
  await n.b.close();
});
