/**
 * What `issue` and `domains` say about a name: the ask endpoint's own answer when it refused or
 * is down (not "unregistered"), and a name added twice is said to be known already.
 */
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { test } from 'node:test';
import { run } from '../../src/cli/run.ts';
import { fakeIo } from '../helpers/io.ts';
import { tempDir } from '../helpers/tmp.ts';

test('issue: a name the ask endpoint refuses names the status it answered', async (t) => {
  const server = createServer((_req, res) => {
    res.writeHead(403);
    res.end();
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  t.after(() => new Promise((r) => server.close(r)));
  const dir = tempDir(t);
  const io = fakeIo({ cwd: dir, env: { CERTGATE_DATA: join(dir, 'data') } });
  const ask = `http://127.0.0.1:${(server.address() as AddressInfo).port}/allow`;
  assert.equal(await run(['issue', 'shop.example.com', '--ask', ask, '--agree-tos', '--email', 'ops@certgate.dev'], io), 2);
  assert.match(io.stderr, /^error E_DOMAIN_UNREGISTERED: shop\.example\.com is not allowed: .*answered 403/);
  assert.match(io.stderr, /fix: the ask endpoint refused it \(HTTP 403\)/);
});

test('issue: an ask endpoint that is down is said to be unreachable', async (t) => {
  const dir = tempDir(t);
  const io = fakeIo({ cwd: dir, env: { CERTGATE_DATA: join(dir, 'data') } });
  assert.equal(await run(['issue', 'shop.example.com', '--ask', 'http://127.0.0.1:1/allow', '--agree-tos', '--email', 'ops@certgate.dev'], io), 2);
  assert.match(io.stderr, /fix: make the ask endpoint reachable \(http:\/\/127\.0\.0\.1:1\/allow.*: ECONNREFUSED\)/);
});

test('domains add of a name already there says so instead of printing +', async (t) => {
  const dir = tempDir(t);
  const env = { CERTGATE_DATA: join(dir, 'data') };
  assert.equal(await run(['domains', 'add', 'shop.example.com'], fakeIo({ cwd: dir, env })), 0);
  const again = fakeIo({ cwd: dir, env });
  assert.equal(await run(['domains', 'add', 'shop.example.com'], again), 0);
  assert.equal(again.stdout, 'shop.example.com is already a custom domain\n');
});
