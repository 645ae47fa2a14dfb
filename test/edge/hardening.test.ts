/**
 * The edge against hostile input: requests crafted to crash it, to open a raw tunnel to the app,
 * to smuggle a target or forwarded headers past it, and clients that never read.
 */
import assert from 'node:assert/strict';
import { connect as netConnect } from 'node:net';
import { test } from 'node:test';
import { connect as tlsConnect } from 'node:tls';
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

/** Sends `first`, then `second` once an answer to the first has arrived; resolves with all the client saw. */
function twoOnOneConnection(port: number, first: string, second: string, tls?: { ca: string }): Promise<string> {
  return new Promise((resolve) => {
    const onConnect = () => s.write(first);
    const s = tls
      ? tlsConnect({ port, host: '127.0.0.1', servername: 'localhost', ca: [tls.ca], ALPNProtocols: ['http/1.1'] }, onConnect)
      : netConnect({ port, host: '127.0.0.1' }, onConnect);
    let got = '';
    let sent = false;
    s.on('data', (d) => {
      got += d.toString('latin1');
      if (!sent && got.includes('\r\n\r\n')) {
        sent = true;
        setTimeout(() => s.writable && s.write(second), 100);
      }
    });
    const timer = setTimeout(() => s.destroy(), 1500);
    s.on('close', () => {
      clearTimeout(timer);
      resolve(got);
    });
    s.on('error', () => {});
  });
}

test('an Upgrade the upstream answers with 200 is relayed as a normal response, and opens no raw tunnel to the upstream', { timeout: 30_000 }, async (t) => {
  const rec = await startRecorder();
  t.after(() => rec.close());
  const e = await startEdge(tempDir(t), { upstream: rec.url, redirect: false });
  t.after(() => e.edge.close());
  const forged = 'GET /second HTTP/1.1\r\nHost: forged.example\r\nX-Forwarded-For: 6.6.6.6\r\nX-Real-IP: 6.6.6.6\r\n\r\n';
  for (const [port, tls] of [[e.http, undefined] as const, [e.https, { ca: e.caPem }] as const]) {
    for (const protocol of ['websocket', 'foo']) {
      const seen = await twoOnOneConnection(port, `GET /up HTTP/1.1\r\nHost: localhost\r\nUpgrade: ${protocol}\r\nConnection: Upgrade\r\n\r\n`, forged, tls);
      const where = `${protocol} on the ${tls ? 'HTTPS' : 'HTTP'} port`;
      assert.match(seen, /^HTTP\/1\.1 200 OK\r\n/, `${where}: the upstream's answer, as a response`);
      assert.match(seen, /\r\n\r\nok$/, `${where}: with its body`);
    }
  }
  assert.match(rec.received(), /GET \/up HTTP\/1\.1/, 'the upgrade request itself reached the upstream');
  assert.doesNotMatch(rec.received(), /forged\.example|6\.6\.6\.6|\/second/, 'the request after it never reached the upstream raw');
});

test('an h2c upgrade is never passed on: the request is served as HTTP/1.1, without Upgrade', { timeout: 30_000 }, async (t) => {
  const rec = await startRecorder();
  t.after(() => rec.close());
  const e = await startEdge(tempDir(t), { upstream: rec.url, redirect: false });
  t.after(() => e.edge.close());
  const seen = await rawExchange(
    e.http,
    'GET /h2c HTTP/1.1\r\nHost: localhost\r\nConnection: Upgrade, HTTP2-Settings\r\nUpgrade: h2c\r\nHTTP2-Settings: AAMAAABkAARAAAAAAAIAAAAA\r\n\r\n',
  );
  assert.match(seen, /^HTTP\/1\.1 200 OK\r\n[\s\S]*\r\n\r\nok$/);
  assert.match(rec.received(), /GET \/h2c HTTP\/1\.1/);
  assert.doesNotMatch(rec.received(), /^(upgrade|http2-settings):/im);
});

test('an upgrade: an upstream that never answers is a 504, one that switches to another protocol a 502', { timeout: 30_000 }, async (t) => {
  const silent = await startRecorder(() => null);
  const other = await startRecorder(() => 'HTTP/1.1 101 Switching Protocols\r\nUpgrade: foo\r\nConnection: Upgrade\r\n\r\n');
  t.after(() => Promise.all([silent.close(), other.close()]));
  const e = await startEdge(tempDir(t), { upstream: silent.url, routes: { 'other.localhost': other.url }, redirect: false, upstreamTimeoutMs: 300 });
  t.after(() => e.edge.close());
  const ws = 'Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n';
  assert.match(await rawExchange(e.http, `GET /ws HTTP/1.1\r\nHost: localhost\r\n${ws}`, { ms: 3000 }), /^HTTP\/1\.1 504 /);
  assert.match(await rawExchange(e.http, `GET /ws HTTP/1.1\r\nHost: other.localhost\r\n${ws}`, { ms: 3000 }), /^HTTP\/1\.1 502 /);
});

test('request targets: absolute-form is passed on as origin-form when it names the Host, else 400; OPTIONS * is answered; other forms 400', {
  timeout: 30_000,
}, async (t) => {
  const rec = await startRecorder();
  t.after(() => rec.close());
  const e = await startEdge(tempDir(t), { upstream: rec.url, redirect: false });
  t.after(() => e.edge.close());
  const ask = (target: string, host = 'localhost', method = 'GET') =>
    rawExchange(e.http, `${method} ${target} HTTP/1.1\r\nHost: ${host}\r\nConnection: close\r\n\r\n`);
  assert.match(await ask('http://localhost/abs?q=1'), /^HTTP\/1\.1 200 /);
  assert.match(rec.received(), /^GET \/abs\?q=1 HTTP\/1\.1\r\n/m, 'origin-form upstream');
  assert.match(await ask('http://LOCALHOST:80'), /^HTTP\/1\.1 200 /);
  assert.match(rec.received(), /^GET \/ HTTP\/1\.1\r\n/m, 'an empty path is /');
  assert.doesNotMatch(rec.received(), /http:\/\//i, 'no absolute-form reached the upstream');
  const before = rec.received().length;
  assert.match(await ask('http://evil.example/abs'), /^HTTP\/1\.1 400 /, 'another authority than Host');
  assert.match(await ask('http://user@localhost/abs'), /^HTTP\/1\.1 400 /, 'userinfo');
  assert.match(await ask('abs'), /^HTTP\/1\.1 400 /, 'no leading slash');
  assert.match(await ask('*'), /^HTTP\/1\.1 400 /, '* with GET');
  assert.equal(rec.received().length, before, 'none of the refused ones reached the upstream');
  const star = await ask('*', 'localhost', 'OPTIONS');
  assert.match(star, /^HTTP\/1\.1 200 /);
  assert.match(star, /\r\nallow: GET, HEAD, POST/i);
});

/**
 * A client that sends part of a header, never reads and never closes: resolves 'closed' once the
 * server has let go of the connection (a write of ours is then refused), 'still open' after `ms`.
 */
function neverReads(socket: import('node:net').Socket, ms: number): Promise<string> {
  return new Promise((resolve) => {
    socket.pause();
    const poke = setInterval(() => socket.writable && socket.write('x'), 200);
    const guard = setTimeout(() => {
      socket.destroy();
      resolve('still open');
    }, ms);
    socket.on('error', () => {});
    socket.on('close', () => {
      clearInterval(poke);
      clearTimeout(guard);
      resolve('closed');
    });
  });
}

test('a client whose headers never finish and that never reads is let go within seconds, on both ports', { timeout: 30_000 }, async (t) => {
  const e = await startEdge(tempDir(t), { headersTimeoutMs: 500 });
  t.after(() => e.edge.close());
  const plain = netConnect({ port: e.http, host: '127.0.0.1', allowHalfOpen: true }, () => plain.write('GET / HTTP/1.1\r\nHost: localhost\r\nX-Slow: '));
  const secure = tlsConnect({ port: e.https, host: '127.0.0.1', servername: 'localhost', ca: [e.caPem], ALPNProtocols: ['http/1.1'] }, () =>
    secure.write('GET / HTTP/1.1\r\nHost: localhost\r\nX-Slow: '),
  );
  const [p, s] = await Promise.all([neverReads(plain, 6000), neverReads(secure, 6000)]);
  assert.equal(p, 'closed', 'the HTTP port');
  assert.equal(s, 'closed', 'the HTTPS port');
});

test('plain HTTP sent to the HTTPS port gets a 400 that says to use https, then the connection closes; TLS on that port still works', {
  timeout: 30_000,
}, async (t) => {
  const e = await startEdge(tempDir(t));
  t.after(() => e.edge.close());
  const reply = await rawExchange(e.https, 'GET /x HTTP/1.1\r\nHost: localhost\r\n\r\n', { ms: 5000 });
  assert.match(reply, /^HTTP\/1\.0 400 Bad Request\r\n/);
  assert.match(reply, new RegExp(`This is an HTTPS port: use https://127\\.0\\.0\\.1:${e.https}/`));
  const noHost = await rawExchange(e.https, 'GET / HTTP/1.0\r\n\r\n', { ms: 5000 });
  assert.match(noHost, /^HTTP\/1\.0 400 Bad Request\r\n[\s\S]*This is an HTTPS port/);
  assert.match(await rawExchange(e.https, 'GET / HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n', { tls: { ca: e.caPem } }), /^HTTP\/1\.1 200 /);
});

test('error pages echo at most a short, escaped excerpt of what the client sent', { timeout: 30_000 }, async (t) => {
  const rec = await startRecorder();
  t.after(() => rec.close());
  const e = await startEdge(tempDir(t), { upstream: rec.url });
  t.after(() => e.edge.close());
  const long = 'A'.repeat(5000);
  const bad = await rawExchange(e.http, `GET http://evil.example/${long}"<b>x HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n`);
  assert.match(bad, /^HTTP\/1\.1 400 /);
  assert.doesNotMatch(bad, /A{101}/, 'no more than 100 characters of the target');
  assert.doesNotMatch(bad, /<b>/);
  const redirect = await rawExchange(e.http, `GET /${long} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n`);
  assert.match(redirect, /^HTTP\/1\.1 308 /);
  assert.doesNotMatch(redirect.slice(redirect.indexOf('\r\n\r\n')), /A{201}/, 'the redirect body carries an excerpt (the Location header has it all)');
});

test('close() also ends a connection to the HTTPS port that never sent a byte (within the drain time)', { timeout: 30_000 }, async (t) => {
  const e = await startEdge(tempDir(t));
  const idle = netConnect({ port: e.https, host: '127.0.0.1' });
  idle.on('error', () => {});
  t.after(() => idle.destroy());
  await new Promise((r) => idle.once('connect', r));
  const started = Date.now();
  await e.edge.close();
  assert.ok(Date.now() - started < 5000, `closed in ${Date.now() - started} ms (drain 2 s)`);
});
