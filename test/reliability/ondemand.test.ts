/**
 * Regression tests for what the reliability suite's random-SNI flood found (RELIABILITY.md):
 * with no main domain configured, names the ask endpoint refused were issued, four at once.
 * Both were in src/manager/registry.ts's decide(); fixed there.
 */
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { test } from 'node:test';
import { DomainRegistry } from '../../src/manager/registry.ts';
import { FsStore } from '../../src/store/fs.ts';
import { tempDir } from '../helpers/tmp.ts';

test('a name the ask endpoint refuses is refused, also when no main domain is configured (it does not become the first-visit main domain)', async (t) => {
  const ask = createServer((_req, res) => {
    res.writeHead(404);
    res.end();
  });
  await new Promise<void>((r) => ask.listen(0, '127.0.0.1', r));
  t.after(() => ask.close());
  const registry = new DomainRegistry({ store: new FsStore({ root: tempDir(t) }), ask: `http://127.0.0.1:${(ask.address() as AddressInfo).port}/allow` });
  const d = await registry.decide('random-sni.example.com', { visit: true });
  assert.equal(d.allowed, false, d.reason);
});

test('concurrent first visits make one main domain, not one each', async (t) => {
  const registry = new DomainRegistry({ store: new FsStore({ root: tempDir(t) }) });
  const names = ['r1.example.com', 'r2.example.com', 'r3.example.com', 'r4.example.com'];
  const decisions = await Promise.all(names.map((n) => registry.decide(n, { visit: true })));
  assert.equal(decisions.filter((d) => d.allowed).length, 1, decisions.map((d) => `${d.name}: ${d.reason}`).join('; '));
});
