/**
 * What the app behind the edge is told about the visitor: forwarded headers set by the edge alone
 * (dash and underscore spellings of client-sent ones dropped, a trusted hop's kept where they make
 * sense), one Host only, and the Host with its port.
 */
import assert from 'node:assert/strict';
import { request as httpRequest } from 'node:http';
import { connect as http2Connect } from 'node:http2';
import { request as httpsRequest } from 'node:https';
import { test } from 'node:test';
import { tempDir } from '../helpers/tmp.ts';
import { rawExchange, startEdge, startUpstream } from './helpers.ts';

/** The headers the upstream saw for one request (startUpstream echoes them). */
function seenBy(
  port: number,
  headers: Record<string, string>,
  options: { localAddress?: string; tls?: { ca: string } } = {},
): Promise<{ status: number; headers: Record<string, string> }> {
  return new Promise((resolve, reject) => {
    const fn = options.tls ? httpsRequest : httpRequest;
    const req = fn(
      {
        host: '127.0.0.1',
        port,
        path: '/',
        headers,
        agent: false,
        ...(options.localAddress ? { localAddress: options.localAddress } : {}),
        ...(options.tls ? { ca: options.tls.ca, servername: 'localhost' } : {}),
      },
      (res) => {
        let body = '';
        res.on('data', (d) => {
          body += d;
        });
        res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.statusCode === 200 ? JSON.parse(body).headers : {} }));
      },
    );
    req.on('error', reject);
    req.end();
  });
}

const CLIENT_SET = [
  'X-Forwarded-Port',
  'X-Forwarded-Scheme',
  'X-Forwarded-Ssl',
  'X-Forwarded-Prefix',
  'X-Forwarded-Server',
  'X-Real-IP',
  'True-Client-IP',
  'X-Client-IP',
  'CF-Connecting-IP',
  'Client-IP',
  'X-Original-URL',
  'X-Rewrite-URL',
];
const KEPT_FROM_TRUSTED = new Set([
  'x-forwarded-scheme',
  'x-forwarded-ssl',
  'x-forwarded-prefix',
  'x-forwarded-server',
  'true-client-ip',
  'x-client-ip',
  'cf-connecting-ip',
  'client-ip',
]);
const FORGED = '6.6.6.6';

for (const name of [...CLIENT_SET, 'X-Forwarded-For', 'X-Forwarded-Proto', 'X-Forwarded-Host']) {
  for (const spelling of name.startsWith('X-Forwarded-For') || name.startsWith('X-Forwarded-Proto') || name.startsWith('X-Forwarded-Host')
    ? [name.replaceAll('-', '_')]
    : [name, name.replaceAll('-', '_')]) {
    test(`forwarded headers: ${spelling} from a client is dropped; from a trusted hop ${KEPT_FROM_TRUSTED.has(spelling.toLowerCase()) ? 'kept' : 'dropped too'}`, {
      timeout: 30_000,
    }, async (t) => {
      const app = await startUpstream();
      t.after(() => app.close());
      const e = await startEdge(tempDir(t), { upstream: app.url, redirect: false, behindProxy: { trustedProxies: ['127.0.0.2'] } });
      t.after(() => e.edge.close());
      const lower = spelling.toLowerCase();
      const direct = await seenBy(e.http, { host: 'localhost', [spelling]: FORGED });
      assert.notEqual(direct.headers[lower], FORGED, 'a client cannot set it');
      const viaHop = await seenBy(e.http, { host: 'localhost', [spelling]: FORGED }, { localAddress: '127.0.0.2' });
      if (KEPT_FROM_TRUSTED.has(lower)) assert.equal(viaHop.headers[lower], FORGED, 'what the load balancer said');
      else assert.notEqual(viaHop.headers[lower], FORGED);
    });
  }
}

test('duplicate Host headers are a 400 and never reach the app; over HTTP/2 a host that disagrees with :authority too', { timeout: 30_000 }, async (t) => {
  const app = await startUpstream();
  t.after(() => app.close());
  const e = await startEdge(tempDir(t), { upstream: app.url, redirect: false });
  t.after(() => e.edge.close());
  assert.match(await rawExchange(e.http, 'GET / HTTP/1.1\r\nHost: localhost\r\nHost: evil.example\r\nConnection: close\r\n\r\n'), /^HTTP\/1\.1 400 /);
  assert.match(
    await rawExchange(e.https, 'GET / HTTP/1.1\r\nHost: localhost\r\nhost: localhost\r\nConnection: close\r\n\r\n', { tls: { ca: e.caPem } }),
    /^HTTP\/1\.1 400 /,
  );
  const ws = 'Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n';
  assert.match(await rawExchange(e.http, `GET / HTTP/1.1\r\nHost: localhost\r\nHost: evil.example\r\n${ws}`), /^HTTP\/1\.1 400 /, 'an upgrade too');
  const session = http2Connect(`https://127.0.0.1:${e.https}`, { ca: e.caPem, servername: 'localhost' });
  t.after(() => session.close());
  const status = (headers: Record<string, string>) =>
    new Promise<number>((resolve, reject) => {
      const s = session.request({ ':path': '/', ...headers });
      s.on('response', (h) => resolve(Number(h[':status'])));
      s.on('error', reject);
      s.resume();
    });
  assert.equal(await status({ ':authority': 'localhost', host: 'evil.example' }), 400);
  assert.equal(await status({ ':authority': 'localhost' }), 200);
  assert.equal(app.seen.length, 1, 'only the well-formed request reached the app');
});

test('the Host keeps its port: Host, X-Forwarded-Host, X-Forwarded-Port and Forwarded say where the visitor connected', { timeout: 30_000 }, async (t) => {
  const app = await startUpstream();
  t.after(() => app.close());
  const e = await startEdge(tempDir(t), { upstream: app.url });
  t.after(() => e.edge.close());
  const r = await seenBy(e.https, { host: `localhost:${e.https}` }, { tls: { ca: e.caPem } });
  assert.equal(r.status, 200, 'routed by the bare name');
  assert.equal(r.headers.host, `localhost:${e.https}`);
  assert.equal(r.headers['x-forwarded-host'], `localhost:${e.https}`);
  assert.equal(r.headers['x-forwarded-port'], String(e.https));
  assert.equal(r.headers.forwarded, `for=127.0.0.1;proto=https;host="localhost:${e.https}"`);
  const bare = await seenBy(e.https, { host: 'localhost' }, { tls: { ca: e.caPem } });
  assert.equal(bare.headers['x-forwarded-port'], '443', 'no port in Host: the scheme default, the port a browser omits');
});

test("behind a load balancer the port is the trusted hop's X-Forwarded-Port, never a client's", { timeout: 30_000 }, async (t) => {
  const app = await startUpstream();
  t.after(() => app.close());
  const e = await startEdge(tempDir(t), { upstream: app.url, httpsPort: null, behindProxy: { trustedProxies: ['127.0.0.2'] } });
  t.after(() => e.edge.close());
  const viaHop = await seenBy(e.http, { host: 'app.example.com', 'x-forwarded-proto': 'https', 'x-forwarded-port': '8443' }, { localAddress: '127.0.0.2' });
  assert.equal(viaHop.headers['x-forwarded-port'], '8443');
  const hopNoPort = await seenBy(e.http, { host: 'app.example.com', 'x-forwarded-proto': 'https' }, { localAddress: '127.0.0.2' });
  assert.equal(hopNoPort.headers['x-forwarded-port'], '443', 'the default of the scheme the hop stated');
  const direct = await seenBy(e.http, { host: 'app.example.com', 'x-forwarded-port': '1' });
  assert.equal(direct.headers['x-forwarded-port'], '80');
});
