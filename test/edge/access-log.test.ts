/**
 * The access log names an upstream only for requests that went to one, and has entries for the
 * exchanges outside Node's request/response pair: upgrades, and requests the parser refused.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { AccessEntry } from '../../src/edge/access-log.ts';
import { tempDir } from '../helpers/tmp.ts';
import { rawExchange, startEdge, startUpstream, waitFor } from './helpers.ts';

async function rig(t: import('node:test').TestContext, options: { headersTimeoutMs?: number } = {}) {
  const app = await startUpstream();
  t.after(() => app.close());
  const entries: AccessEntry[] = [];
  const e = await startEdge(tempDir(t), { upstream: app.url, accessLog: (x) => entries.push(x), ...options });
  t.after(() => e.edge.close());
  return { e, entries, app };
}

test('access log: the 308 certgate answers itself names no upstream', { timeout: 30_000 }, async (t) => {
  const { e, entries } = await rig(t);
  assert.match(await rawExchange(e.http, 'GET /r HTTP/1.1\r\nHost: app.example.com\r\nConnection: close\r\n\r\n'), /^HTTP\/1\.1 308 /);
  await waitFor(() => entries.length === 1, 'the entry');
  assert.deepEqual([entries[0]?.status, entries[0]?.upstream], [308, null]);
});

test('access log: a WebSocket upgrade is one entry with status 101 and its upstream', { timeout: 30_000 }, async (t) => {
  const { e, entries, app } = await rig(t);
  const ws =
    'GET /ws HTTP/1.1\r\nHost: localhost\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n';
  assert.match(await rawExchange(e.https, ws, { tls: { ca: e.caPem }, ms: 500 }), /^HTTP\/1\.1 101 /);
  await waitFor(() => entries.length === 1, 'the entry');
  const [x] = entries as [AccessEntry];
  assert.deepEqual(
    { method: x.method, host: x.host, path: x.path, protocol: x.protocol, status: x.status, upstream: x.upstream, client: x.client },
    { method: 'GET', host: 'localhost', path: '/ws', protocol: 'https/1.1', status: 101, upstream: new URL(app.url).host, client: '127.0.0.1' },
  );
});

test('access log: requests the parser refuses (400, 431, 408) have their entries', { timeout: 30_000 }, async (t) => {
  const { e, entries } = await rig(t, { headersTimeoutMs: 500 });
  assert.match(
    await rawExchange(e.http, 'GET / HTTP/1.1\r\nHost: a.example.com\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n'),
    /^HTTP\/1\.1 400 /,
  );
  assert.match(await rawExchange(e.http, `GET / HTTP/1.1\r\nHost: a.example.com\r\nX-Big: ${'a'.repeat(70_000)}\r\n\r\n`), /^HTTP\/1\.1 431 /);
  assert.match(await rawExchange(e.http, 'GET / HTTP/1.1\r\nHost: a.example.com\r\nX-Slow: 1', { ms: 5000 }), /^HTTP\/1\.1 408 /);
  await waitFor(() => entries.length === 3, 'three entries');
  assert.deepEqual(
    entries.map((x) => [x.status, x.protocol, x.host, x.upstream, x.client]),
    [
      [400, 'http/1.1', null, null, '127.0.0.1'],
      [431, 'http/1.1', null, null, '127.0.0.1'],
      [408, 'http/1.1', null, null, '127.0.0.1'],
    ],
  );
});
