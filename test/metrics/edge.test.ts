/**
 * Handshake and proxied-request counters through a real edge on loopback (the runtime with its
 * local CA): full, resumed and failed handshakes; requests by status class with durations.
 */
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import { connect as http2Connect } from 'node:http2';
import type { AddressInfo } from 'node:net';
import { test } from 'node:test';
import { connect as tlsConnect } from 'node:tls';
import { Agent, request } from 'undici';
import { buildRuntime } from '../../src/runtime/server.ts';
import { settings } from '../helpers/settings.ts';
import { tempDir } from '../helpers/tmp.ts';
import { value } from './helpers.ts';

/** An app that answers /status/NNN with that status, after /slow waits 200 ms. */
async function statusUpstream(): Promise<{ url: string; close(): Promise<void> }> {
  const server = createServer((req, res) => {
    const status = Number(/\/status\/(\d{3})/.exec(req.url ?? '')?.[1] ?? 200);
    const answer = () => {
      res.writeHead(status, { 'content-type': 'text/plain' });
      res.end('ok');
    };
    if (req.url?.includes('slow')) setTimeout(answer, 200);
    else answer();
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    close: () =>
      new Promise((r) => {
        server.closeAllConnections();
        server.close(() => r());
      }),
  };
}

function connect(port: number, options: Record<string, unknown> = {}): Promise<{ ok: boolean; reused: boolean; session: Buffer | null }> {
  return new Promise((resolve) => {
    let session: Buffer | null = null;
    const s = tlsConnect({ port, host: '127.0.0.1', servername: 'localhost', rejectUnauthorized: false, ...options });
    s.on('session', (b: Buffer) => {
      session = b;
    });
    s.once('secureConnect', () => {
      // TLS 1.3 sends its ticket after the handshake: read a moment for it.
      const reused = s.isSessionReused();
      setTimeout(() => {
        s.end();
        resolve({ ok: true, reused, session });
      }, 50);
    });
    s.on('error', () => resolve({ ok: false, reused: false, session }));
  });
}

test('handshakes are counted by outcome: full, resumed, failed', async (t) => {
  const data = tempDir(t);
  const rt = await buildRuntime(settings(data, { httpPort: null }));
  const ports = await rt.start();
  t.after(() => rt.close());
  const port = ports.https as number;
  const first = await connect(port);
  assert.equal(first.ok, true);
  assert.ok(first.session, 'a session ticket arrived');
  const second = await connect(port);
  const resumed = await connect(port, { session: first.session });
  assert.equal(resumed.reused, true, 'the client resumed');
  // TLS 1.1 only: the edge (TLS 1.2 and up) refuses the handshake.
  const failed = await connect(port, { maxVersion: 'TLSv1.1', minVersion: 'TLSv1' });
  assert.equal(second.ok && !failed.ok, true);
  const text = await (rt.metrics as NonNullable<typeof rt.metrics>).text();
  assert.equal(value(text, 'certgate_tls_handshakes_total', { outcome: 'full' }), 2);
  assert.equal(value(text, 'certgate_tls_handshakes_total', { outcome: 'resumed' }), 1);
  assert.equal(value(text, 'certgate_tls_handshakes_total', { outcome: 'failed' }), 1);
});

test('proxied requests are counted by status class with a duration histogram', async (t) => {
  const data = tempDir(t);
  const app = await statusUpstream();
  t.after(() => app.close());
  const rt = await buildRuntime(settings(data, { httpPort: null, upstream: app.url }));
  const ports = await rt.start();
  t.after(() => rt.close());
  const agent = new Agent({ connect: { rejectUnauthorized: false, servername: 'localhost' } });
  t.after(() => agent.close());
  const get = async (path: string) => {
    const res = await request(`https://127.0.0.1:${ports.https}${path}`, { dispatcher: agent, headers: { host: 'localhost' } });
    await res.body.dump();
    return res.statusCode;
  };
  assert.equal(await get('/'), 200);
  assert.equal(await get('/slow'), 200);
  assert.equal(await get('/status/404'), 404);
  assert.equal(await get('/status/503'), 503);
  const text = await (rt.metrics as NonNullable<typeof rt.metrics>).text();
  assert.equal(value(text, 'certgate_proxy_requests_total', { code: '2xx' }), 2);
  assert.equal(value(text, 'certgate_proxy_requests_total', { code: '4xx' }), 1);
  assert.equal(value(text, 'certgate_proxy_requests_total', { code: '5xx' }), 1);
  assert.equal(value(text, 'certgate_proxy_request_duration_seconds_count', { code: '2xx' }), 2);
  // The slow one took at least 200 ms: it sits above the 0.1 s bucket.
  assert.equal(value(text, 'certgate_proxy_request_duration_seconds_bucket', { code: '2xx', le: '0.1' }), 1);
  assert.ok((value(text, 'certgate_proxy_request_duration_seconds_sum', { code: '2xx' }) as number) >= 0.2);
});

test('an HTTP/2 request is counted once, like an HTTP/1.1 one', async (t) => {
  const data = tempDir(t);
  const app = await statusUpstream();
  t.after(() => app.close());
  const rt = await buildRuntime(settings(data, { httpPort: null, upstream: app.url }));
  const ports = await rt.start();
  t.after(() => rt.close());
  const session = http2Connect(`https://localhost:${ports.https}`, { rejectUnauthorized: false, host: '127.0.0.1' });
  t.after(() => session.close());
  const status = await new Promise<number>((resolve, reject) => {
    const req = session.request({ ':path': '/status/201' });
    let code = 0;
    req.on('response', (h) => {
      code = Number(h[':status']);
    });
    req.on('end', () => resolve(code));
    req.on('error', reject);
    req.resume();
    req.end();
  });
  assert.equal(status, 201);
  const m = rt.metrics as NonNullable<typeof rt.metrics>;
  // The count lands when the stream closes, just after the client saw the end.
  let text = await m.text();
  for (let i = 0; i < 50 && value(text, 'certgate_proxy_requests_total', { code: '2xx' }) === undefined; i++) {
    await new Promise((r) => setTimeout(r, 10));
    text = await m.text();
  }
  assert.equal(value(text, 'certgate_proxy_requests_total', { code: '2xx' }), 1);
});
