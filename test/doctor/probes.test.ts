import assert from 'node:assert/strict';
import { createServer as createHttpServer, type Server } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { createServer as createNetServer } from 'node:net';
import { type TestContext, test } from 'node:test';
import { runDoctor } from '../../src/doctor/index.ts';
import type { EdgeOptions } from '../../src/edge/edge.ts';
import { createCertificate } from '../../src/pki/generate.ts';
import type { ServerSettings } from '../../src/runtime/settings.ts';
import { certMeta } from '../../src/store/meta.ts';
import { startEdge } from '../edge/helpers.ts';
import { freePort } from '../helpers/daemons.ts';
import { settings } from '../helpers/settings.ts';
import { tempDir } from '../helpers/tmp.ts';
import { only } from './helpers.ts';

const NAME = 'app.certgate.dev';

async function edgeFor(t: TestContext, dir: string, options: Partial<EdgeOptions> = {}) {
  const e = await startEdge(dir, options);
  t.after(() => e.edge.close());
  return e;
}

function listen(t: TestContext, server: Server | ReturnType<typeof createNetServer>): Promise<number> {
  t.after(() => new Promise((r) => server.close(r)));
  return new Promise((r) => server.listen(0, '127.0.0.1', () => r((server.address() as { port: number }).port)));
}

/** An app that redirects to https unless X-Forwarded-Proto says https (what most frameworks do). */
async function httpsOnlyApp(t: TestContext): Promise<string> {
  const app = createHttpServer((req, res) => {
    if (req.headers['x-forwarded-proto'] !== 'https') {
      res.writeHead(301, { location: `https://${req.headers.host}${req.url}` });
      res.end();
      return;
    }
    res.writeHead(200);
    res.end('app');
  });
  return `http://127.0.0.1:${await listen(t, app)}`;
}

const doctor = (s: ServerSettings, id: string, ca: string[] = []) => runDoctor(s, { only: [id], ca, hostAddresses: ['127.0.0.1'] });

test('port-http: a free port passes', async (t) => {
  const c = only(await doctor(settings(tempDir(t), { httpPort: await freePort() }), 'port-http'), 'port-http');
  assert.equal(c.status, 'pass');
  assert.match(c.detail, /is free/);
});

test('port-http: a port held by certgate passes (it answers as its HTTP-01 responder)', async (t) => {
  const dir = tempDir(t);
  const e = await edgeFor(t, dir);
  const c = only(await doctor(settings(dir, { httpPort: e.http }), 'port-http'), 'port-http');
  assert.equal(c.status, 'pass');
  assert.match(c.detail, /held by certgate/);
});

test("port-https: a port held by certgate passes (it serves this data directory's local CA)", async (t) => {
  const dir = tempDir(t);
  const e = await edgeFor(t, dir);
  const c = only(await doctor(settings(dir, { httpsPort: e.https }), 'port-https'), 'port-https');
  assert.equal(c.status, 'pass');
  assert.match(c.detail, /local CA/);
});

test('port-http: a port held by another program fails with how to find it', async (t) => {
  const port = await listen(
    t,
    createHttpServer((_req, res) => res.end('nginx?')),
  );
  const c = only(await doctor(settings(tempDir(t), { httpPort: port }), 'port-http'), 'port-http');
  assert.equal(c.status, 'fail');
  assert.match(c.fix ?? '', new RegExp(`ss -ltnp 'sport = :${port}'`));
});

test('port-https: a TLS port held by something other than certgate fails', async (t) => {
  const ca = await createCertificate({ subject: 'CN=Other CA', ca: true });
  const leaf = await createCertificate({ subject: 'CN=localhost', issuer: ca, dns: ['localhost'] });
  const port = await listen(t, createHttpsServer({ cert: leaf.certPem, key: leaf.keyPem }, (_req, res) => res.end('other')) as unknown as Server);
  const c = only(await doctor(settings(tempDir(t), { httpsPort: port }), 'port-https'), 'port-https');
  assert.equal(c.status, 'fail');
  assert.match(c.detail, /held by another program/);
  assert.match(c.fix ?? '', /--https-port/);
});

test('redirect-loop: http → https → the page passes', async (t) => {
  const dir = tempDir(t);
  const e = await edgeFor(t, dir);
  const c = only(await doctor(settings(dir, { httpPort: e.http, httpsPort: e.https }), 'redirect-loop', [e.caPem]), 'redirect-loop');
  assert.equal(c.status, 'pass');
  assert.match(c.detail, /→ 308, https:\/\/localhost\/ → 200/);
});

test('redirect-loop: an app behind an untrusted proxy hop loops, and the fix names --behind-proxy', async (t) => {
  const dir = tempDir(t);
  const upstream = await httpsOnlyApp(t);
  const e = await edgeFor(t, dir, { httpsPort: null, upstream, behindProxy: { trustedProxies: ['10.0.0.0/8'] } });
  const s = settings(dir, { domain: NAME, httpPort: e.http, httpsPort: null, behindProxy: ['10.0.0.0/8'] });
  const c = only(await doctor(s, 'redirect-loop'), 'redirect-loop');
  assert.equal(c.status, 'fail');
  assert.match(c.detail, /a redirect loop/);
  assert.match(c.fix ?? '', /--behind-proxy \(now 10\.0\.0\.0\/8\)/);
});

test('redirect-loop: the same app with the proxy trusted passes', async (t) => {
  const dir = tempDir(t);
  const upstream = await httpsOnlyApp(t);
  const e = await edgeFor(t, dir, { httpsPort: null, upstream, behindProxy: { trustedProxies: ['127.0.0.1/32'] } });
  const s = settings(dir, { domain: NAME, httpPort: e.http, httpsPort: null, behindProxy: ['127.0.0.1/32'] });
  const c = only(await doctor(s, 'redirect-loop'), 'redirect-loop');
  assert.equal(c.status, 'pass');
  assert.match(c.detail, /With X-Forwarded-Proto: https: http:\/\/app\.certgate\.dev\/ \(X-Forwarded-Proto: https\) → 200/);
});

test('https-plain-http: a TLS listener passes', async (t) => {
  const dir = tempDir(t);
  const e = await edgeFor(t, dir);
  assert.equal(only(await doctor(settings(dir, { httpsPort: e.https }), 'https-plain-http'), 'https-plain-http').status, 'pass');
});

test('https-plain-http: plain HTTP answered on the HTTPS port fails', async (t) => {
  const port = await listen(
    t,
    createHttpServer((_req, res) => res.end('hello over http')),
  );
  const c = only(await doctor(settings(tempDir(t), { httpsPort: port }), 'https-plain-http'), 'https-plain-http');
  assert.equal(c.status, 'fail');
  assert.match(c.detail, /answered a plain HTTP request with HTTP 200/);
  assert.match(c.fix ?? '', /with TLS/);
});

async function publicCert(name: string) {
  const ca = await createCertificate({ subject: 'CN=Doctor Test CA', ca: true });
  const leaf = await createCertificate({ subject: `CN=${name}`, issuer: ca, dns: [name] });
  const meta = certMeta(leaf.certPem, { name, names: [name], directory: 'https://ca.test/dir', accountUrl: null, keyType: 'ec-p256', profile: null });
  return { ca: ca.certPem, bundle: { certPem: leaf.certPem, keyPem: leaf.keyPem, meta } };
}

test('hsts: a public name in production with Strict-Transport-Security passes', async (t) => {
  const dir = tempDir(t);
  const { ca, bundle } = await publicCert(NAME);
  const e = await edgeFor(t, dir, { hsts: { maxAge: 31_536_000, includeSubDomains: false, preload: false } });
  e.cache.put(NAME, bundle);
  const c = only(await doctor(settings(dir, { domain: NAME, httpsPort: e.https }), 'hsts', [ca]), 'hsts');
  assert.equal(c.status, 'pass');
  assert.match(c.detail, /max-age=31536000/);
});

test('hsts: a public name whose HTTPS answer lacks it fails although HSTS is on', async (t) => {
  const dir = tempDir(t);
  const { ca, bundle } = await publicCert(NAME);
  const e = await edgeFor(t, dir, { hsts: null });
  e.cache.put(NAME, bundle);
  const c = only(await doctor(settings(dir, { domain: NAME, httpsPort: e.https, hsts: true }), 'hsts', [ca]), 'hsts');
  assert.equal(c.status, 'fail');
  assert.match(c.fix ?? '', /strips the header/);
});

test('hsts: localhost answered with Strict-Transport-Security fails', async (t) => {
  const ca = await createCertificate({ subject: 'CN=Doctor Test CA', ca: true });
  const leaf = await createCertificate({ subject: 'CN=localhost', issuer: ca, dns: ['localhost'] });
  const server = createHttpsServer({ cert: leaf.certPem, key: leaf.keyPem }, (_req, res) => {
    res.writeHead(200, { 'strict-transport-security': 'max-age=31536000' });
    res.end('ok');
  });
  const port = await listen(t, server as unknown as Server);
  const c = only(await doctor(settings(tempDir(t), { httpsPort: port }), 'hsts', [ca.certPem]), 'hsts');
  assert.equal(c.status, 'fail');
  assert.match(c.detail, /localhost is a local name/);
  assert.match(c.fix ?? '', /net-internals/);
});
