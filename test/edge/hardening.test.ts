/**
 * The edge against hostile input: requests crafted to crash it, to open a raw tunnel to the app,
 * to smuggle a target or forwarded headers past it, and clients that never read.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { tempDir } from '../helpers/tmp.ts';
import { rawExchange, startEdge, startRecorder, startUpstream } from './helpers.ts';

test('a request line claiming HTTP/2.0 over HTTP/1 is answered, on both ports, and the edge keeps serving', { timeout: 30_000 }, async (t) => {
  const app = await startUpstream();
  t.after(() => app.close());
  const e = await startEdge(tempDir(t), { upstream: app.url, redirect: false });
  t.after(() => e.edge.close());
  const crafted = 'GET / HTTP/2.0\r\nHost: localhost\r\n\r\n';
  assert.match(await rawExchange(e.http, crafted), /^HTTP\/1\.1 505 /);
  assert.match(await rawExchange(e.https, crafted, { tls: { ca: e.caPem } }), /^HTTP\/1\.1 505 /);
  assert.match(await rawExchange(e.http, 'GET / HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n'), /^HTTP\/1\.1 200 /);
});
