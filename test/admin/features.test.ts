/**
 * The admin listener's other faces: the dashboard's session cookie, the live event stream,
 * resources (CRUD, the layered test, pinning a self-signed certificate from its result), a Unix
 * socket, TLS from the local CA when the runtime starts it, the providers (doctor, metrics,
 * settings, reload), and `certgate admin token`.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { request } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { join } from 'node:path';
import { test } from 'node:test';
import { AdminTokens } from '../../src/admin/tokens.ts';
import { run } from '../../src/cli/run.ts';
import { createCertificate } from '../../src/pki/generate.ts';
import { buildRuntime } from '../../src/runtime/server.ts';
import { fakeIo } from '../helpers/io.ts';
import { startTlsServer } from '../helpers/servers.ts';
import { settings } from '../helpers/settings.ts';
import { tempDir } from '../helpers/tmp.ts';
import { startTestAdmin } from './helpers.ts';

async function login(a: Awaited<ReturnType<typeof startTestAdmin>>, token: string): Promise<Response> {
  return a.call('/login', { method: 'POST', noAuth: true, body: new URLSearchParams({ token }), headers: { origin: a.url } });
}

test('dashboard login: a good token gives an HttpOnly, SameSite=Strict session cookie that opens the pages', async (t) => {
  const a = await startTestAdmin(t);
  const r = await login(a, a.token);
  assert.equal(r.status, 303);
  const cookie = r.headers.get('set-cookie') ?? '';
  assert.match(cookie, /certgate_session=/);
  assert.match(cookie, /HttpOnly/);
  assert.match(cookie, /SameSite=Strict/);
  assert.doesNotMatch(cookie, /Secure/, 'plain HTTP on loopback: no Secure flag (the browser would drop the cookie)');
  const page = await a.call('/', { noAuth: true, headers: { cookie: cookie.split(';')[0] as string } });
  assert.equal(page.status, 200);
  assert.match(await page.text(), /<h1>Certificates<\/h1>/);
});

test('dashboard login: a wrong token goes back to the sign-in page with the reason', async (t) => {
  const a = await startTestAdmin(t);
  const r = await login(a, 'cgt_not-a-token');
  assert.equal(r.headers.get('location'), '/login?error=token');
  const page = await (await a.call('/login?error=token', { noAuth: true })).text();
  assert.match(page, /not valid \(wrong, or revoked\)/);
});

test('dashboard login: revoking the token ends its sessions', async (t) => {
  const a = await startTestAdmin(t);
  const cookie = ((await login(a, a.token)).headers.get('set-cookie') ?? '').split(';')[0] as string;
  await a.tokens.revoke(a.tokenId);
  const r = await a.call('/', { noAuth: true, headers: { cookie } });
  assert.equal(r.status, 303);
  assert.equal(r.headers.get('location'), '/login');
});

test('dashboard: pages send a strict Content-Security-Policy and no inline script', async (t) => {
  const a = await startTestAdmin(t);
  const r = await a.call('/');
  assert.match(r.headers.get('content-security-policy') ?? '', /script-src 'self'/);
  assert.doesNotMatch(await r.text(), /<script>(?!<\/script>)/);
});

test('admin events: an event reaches the live stream (SSE) as it happens', async (t) => {
  const a = await startTestAdmin(t);
  const ac = new AbortController();
  t.after(() => ac.abort());
  const r = await a.call('/api/events/stream', { signal: ac.signal });
  assert.equal(r.headers.get('content-type')?.split(';')[0], 'text/event-stream');
  const reader = (r.body as ReadableStream<Uint8Array>).getReader();
  let text = '';
  const until = async (re: RegExp) => {
    for (let i = 0; i < 50 && !re.test(text); i++) {
      const { value, done } = await reader.read();
      if (done) break;
      text += Buffer.from(value).toString('utf8');
    }
  };
  await until(/event: ready/);
  await a.engines.registry.add('live.example.com');
  await until(/live\.example\.com/);
  assert.match(
    text,
    /event: cert\ndata: \{[^\n]*"type":"domain_added"[^\n]*"name":"live\.example\.com"|event: cert\ndata: \{[^\n]*"name":"live\.example\.com"[^\n]*"type":"domain_added"/,
  );
});

test('admin resources: PUT validates strictly, test shows the layers, and a self-signed certificate is pinned from the result', async (t) => {
  const a = await startTestAdmin(t);
  const self = await createCertificate({ subject: 'CN=db.internal', dns: ['db.internal'], ip: ['127.0.0.1'] });
  const server = await startTlsServer({ chain: [self.certPem], key: self.keyPem });
  t.after(() => server.close());
  const bad = await a.call('/api/resources/orders-api', { method: 'PUT', json: { kind: 'https', host: '127.0.0.1', port: server.port, colour: 'red' } });
  assert.equal(bad.status, 400);
  const put = await a.call('/api/resources/orders-api', {
    method: 'PUT',
    json: { kind: 'https', host: '127.0.0.1', port: server.port, tls: { mode: 'full', servername: 'db.internal' } },
  });
  assert.equal(put.status, 200);
  assert.deepEqual(await put.json(), { name: 'orders-api', created: true });
  const first = (await (await a.call('/api/resources/orders-api/test', { method: 'POST', json: { timeoutMs: 5000 } })).json()) as {
    status: string;
    layers: Array<{ layer: string; status: string; fix: string | null }>;
    presented: { sha256: string; selfSigned: boolean } | null;
  };
  assert.equal(first.status, 'fail');
  assert.equal(first.layers.find((l) => l.layer === 'tls')?.status, 'fail');
  assert.ok(first.layers.find((l) => l.layer === 'tls')?.fix);
  assert.equal(first.presented?.selfSigned, true);
  const pin = await a.call('/api/resources/orders-api/pin', { method: 'POST', json: { sha256: first.presented?.sha256 } });
  assert.equal(pin.status, 200);
  const again = (await (await a.call('/api/resources/orders-api/test', { method: 'POST', json: {} })).json()) as {
    layers: Array<{ layer: string; status: string }>;
  };
  assert.equal(again.layers.find((l) => l.layer === 'tls')?.status, 'ok');
  const doc = (await (await a.call('/api/resources/orders-api')).json()) as { tls: { mode: string } };
  assert.equal(doc.tls.mode, 'pinned');
  assert.equal((await a.call('/api/resources/orders-api', { method: 'DELETE' })).status, 200);
  assert.equal((await a.call('/api/resources/orders-api')).status, 404);
});

test('admin resources: pinning refuses a certificate other than the one shown', async (t) => {
  const a = await startTestAdmin(t);
  const self = await createCertificate({ subject: 'CN=db.internal', dns: ['db.internal'] });
  const server = await startTlsServer({ chain: [self.certPem], key: self.keyPem });
  t.after(() => server.close());
  await a.call('/api/resources/db', { method: 'PUT', json: { kind: 'https', host: '127.0.0.1', port: server.port } });
  const r = await a.call('/api/resources/db/pin', { method: 'POST', json: { sha256: 'AA'.repeat(32) } });
  assert.equal(r.status, 409);
  assert.equal(((await a.call('/api/resources/db').then((x) => x.json())) as { tls: { mode: string } }).tls.mode, 'full');
});

test('admin listener: a Unix socket serves the API (no Host check: no browser reaches a socket)', async (t) => {
  const sock = join(tempDir(t), 'admin.sock');
  const a = await startTestAdmin(t, { listen: `unix:${sock}` });
  assert.equal(a.url, `unix:${sock}`);
  const status = await new Promise<number>((resolve, reject) => {
    const req = request({ socketPath: sock, path: '/api/domains', headers: { host: 'anything', authorization: `Bearer ${a.token}` } }, (res) => {
      res.resume();
      resolve(res.statusCode ?? 0);
    });
    req.on('error', reject);
    req.end();
  });
  assert.equal(status, 200);
});

test('admin providers: doctor, metrics, settings and reload are served from what the caller hands in', async (t) => {
  let reloaded = 0;
  const a = await startTestAdmin(t, {
    providers: {
      doctor: async () => ({ ok: false, checks: [{ id: 'ports', status: 'fail', title: 'Ports', detail: '443 is taken', fix: 'stop nginx' }] }),
      metrics: { contentType: 'text/plain; version=0.0.4', text: async () => 'certgate_up 1\n' },
      settings: async () => ({ settings: { httpsPort: { value: 8443, source: '--https-port' } } }),
      reload: async () => {
        reloaded++;
        return { restart: ['httpPort'] };
      },
    },
  });
  assert.equal(((await (await a.call('/api/doctor')).json()) as { checks: Array<{ fix: string }> }).checks[0]?.fix, 'stop nginx');
  assert.match(
    await (await a.call('/settings?doctor=1')).text(),
    /Doctor: problems found[\s\S]*443 is taken[\s\S]*Fix: stop nginx/,
    'the dashboard shows the checks too',
  );
  const m = await a.call('/metrics');
  assert.equal(m.headers.get('content-type'), 'text/plain; version=0.0.4');
  assert.equal(await m.text(), 'certgate_up 1\n');
  assert.equal((await a.call('/metrics', { noAuth: true })).status, 401, 'metrics need the token too');
  assert.deepEqual(await (await a.call('/api/settings')).json(), { settings: { httpsPort: { value: 8443, source: '--https-port' } } });
  assert.deepEqual(await (await a.call('/api/settings/reload', { method: 'POST' })).json(), { restart: ['httpPort'] });
  assert.equal(reloaded, 1);
});

test('admin providers: without doctor or metrics the routes say 503 E_ADMIN_UNAVAILABLE', async (t) => {
  const a = await startTestAdmin(t);
  for (const p of ['/api/doctor', '/metrics']) {
    const r = await a.call(p);
    assert.equal(r.status, 503);
    assert.equal(((await r.json()) as { error: { code: string } }).error.code, 'E_ADMIN_UNAVAILABLE');
  }
});

test('runtime: admin.tls local-ca serves the admin API over TLS with a local-CA certificate, closed with the runtime', async (t) => {
  const data = tempDir(t);
  const rt = await buildRuntime(settings(data, { adminListen: '127.0.0.1:0', adminTls: 'local-ca' }));
  await rt.start();
  t.after(() => rt.close());
  const url = new URL(rt.adminUrl as string);
  assert.equal(url.protocol, 'https:');
  const ca = readFileSync(join(data, 'local-ca', 'root.pem'), 'utf8');
  const status = await new Promise<number>((resolve, reject) => {
    const req = httpsRequest({ host: '127.0.0.1', port: url.port, path: '/api/domains', ca, servername: 'localhost' }, (res) => {
      res.resume();
      resolve(res.statusCode ?? 0);
    });
    req.on('error', reject);
    req.end();
  });
  assert.equal(status, 401, 'TLS verified against the local CA; the API still wants a token');
  const login = await new Promise<string>((resolve, reject) => {
    const req = httpsRequest(
      {
        host: '127.0.0.1',
        port: url.port,
        path: '/login',
        method: 'POST',
        ca,
        servername: 'localhost',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
      },
      (res) => {
        res.resume();
        resolve(String(res.headers['set-cookie'] ?? ''));
      },
    );
    req.on('error', reject);
    req.end('token=wrong');
  });
  assert.equal(login, '', 'no session for a wrong token');
  const { token } = await new AdminTokens(rt.engines.store).create('tls');
  const good = await new Promise<string>((resolve, reject) => {
    const req = httpsRequest(
      {
        host: '127.0.0.1',
        port: url.port,
        path: '/login',
        method: 'POST',
        ca,
        servername: 'localhost',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
      },
      (res) => {
        res.resume();
        resolve(String(res.headers['set-cookie'] ?? ''));
      },
    );
    req.on('error', reject);
    req.end(new URLSearchParams({ token }).toString());
  });
  assert.match(good, /certgate_session=.*; HttpOnly; Secure; SameSite=Strict|certgate_session=.*Secure/, 'over TLS the session cookie is Secure');
  assert.match(good, /HttpOnly/);
});

test('runtime: a busy admin address fails the start when chosen, and is a warning when it is the default', async (t) => {
  const first = await buildRuntime(settings(tempDir(t), { adminListen: '127.0.0.1:0' }));
  await first.start();
  t.after(() => first.close());
  const taken = (first.adminUrl as string).replace('http://', '');
  const chosen = await buildRuntime(settings(tempDir(t), { adminListen: taken }));
  await assert.rejects(chosen.start(), (e: { code: string }) => e.code === 'E_PORT_IN_USE');
  const byDefault = await buildRuntime(settings(tempDir(t), { adminListen: taken }), { admin: { optional: true } });
  await byDefault.start();
  t.after(() => byDefault.close());
  assert.equal(byDefault.adminUrl, null);
});

test('certgate admin token: create --json prints the token once; list never shows it; revoke removes it', async (t) => {
  const data = tempDir(t);
  const io = fakeIo();
  assert.equal(await run(['admin', 'token', 'create', '--label', 'ci', '--json', '--data', data], io), 0);
  const created = JSON.parse(io.stdout) as { token: string; id: string };
  assert.match(created.token, /^cgt_[A-Za-z0-9_-]{43}$/);
  const list = fakeIo();
  assert.equal(await run(['admin', 'token', 'list', '--json', '--data', data], list), 0);
  assert.deepEqual(
    (JSON.parse(list.stdout) as { tokens: Array<{ id: string; label: string }> }).tokens.map((x) => [x.id, x.label]),
    [[created.id, 'ci']],
  );
  assert.ok(!list.stdout.includes(created.token.slice(4)));
  assert.equal(await run(['admin', 'token', 'revoke', created.id, '--data', data], fakeIo()), 0);
  const again = fakeIo();
  assert.equal(await run(['admin', 'token', 'revoke', created.id, '--data', data], again), 2);
  assert.match(again.stderr, /E_ADMIN_TOKEN_NOT_FOUND/);
});

test('admin settings: a URL password in a setting is not shown', async (t) => {
  const a = await startTestAdmin(t, {
    providers: { settings: async () => ({ settings: { upstream: { value: 'http://app:s3cret@127.0.0.1:3000', source: 'CERTGATE_UPSTREAM' } } }) },
  });
  const api = await (await a.call('/api/settings')).text();
  const page = await (await a.call('/settings')).text();
  assert.ok(!api.includes('s3cret') && !page.includes('s3cret'));
  assert.match(api, /http:\/\/\*\*\*@127\.0\.0\.1:3000/);
});
