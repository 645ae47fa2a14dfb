/**
 * The ask endpoint's answer reaches the operator: a refusal says what the endpoint answered, or
 * that it could not be reached, instead of "not registered" alone.
 */
import assert from 'node:assert/strict';
import { createServer } from 'node:net';
import { test } from 'node:test';
import { DomainRegistry } from '../../src/manager/registry.ts';
import { FsStore } from '../../src/store/fs.ts';
import { startHttpServer } from '../helpers/servers.ts';
import { tempDir } from '../helpers/tmp.ts';

function registry(t: Parameters<typeof tempDir>[0], ask: string): DomainRegistry {
  return new DomainRegistry({ store: new FsStore({ root: tempDir(t) }), mainDomain: 'example.com', ask, askTimeoutMs: 2000 });
}

async function closedPort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((resolve) => s.listen(0, '127.0.0.1', resolve));
  const { port } = s.address() as { port: number };
  await new Promise<void>((resolve) => s.close(() => resolve()));
  return port;
}

test('an ask endpoint that answers 403: the Decision carries the status, and its reason says what the endpoint answered', async (t) => {
  const ask = await startHttpServer(() => ({ status: 403, body: 'no' }));
  t.after(() => ask.close());
  const url = `http://127.0.0.1:${ask.port}/allow`;
  const d = await registry(t, url).decide('shop.example.org');
  assert.equal(d.allowed, false);
  assert.equal(d.askStatus, 403);
  assert.equal(d.askError, undefined);
  assert.equal(d.askUrl, `${url}?domain=shop.example.org`);
  assert.match(d.reason, /the ask endpoint http:\/\/127\.0\.0\.1:\d+\/allow\?domain=shop\.example\.org answered 403/);
});

test('an ask endpoint that is down: the Decision carries the error code, and its reason names the URL and says unreachable', async (t) => {
  const url = `http://127.0.0.1:${await closedPort()}/allow`;
  const d = await registry(t, url).decide('shop.example.org');
  assert.equal(d.allowed, false);
  assert.equal(d.askStatus, undefined);
  assert.equal(d.askError, 'ECONNREFUSED');
  assert.match(d.reason, /the ask endpoint http:\/\/127\.0\.0\.1:\d+\/allow\?domain=shop\.example\.org is unreachable \(ECONNREFUSED\)/);
  assert.doesNotMatch(d.reason, /domains add/);
});

test('an ask endpoint that answers 200 allows the name, with its status', async (t) => {
  const ask = await startHttpServer(() => ({ status: 200, body: 'ok' }));
  t.after(() => ask.close());
  const d = await registry(t, `http://127.0.0.1:${ask.port}/allow`).decide('shop.example.org');
  assert.equal(d.allowed, true);
  assert.equal(d.source, 'ask');
  assert.equal(d.askStatus, 200);
});
