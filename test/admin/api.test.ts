/**
 * The admin API against the real listener on loopback: auth (none, wrong, revoked, rate
 * limited), the DNS-rebinding and cross-site guards, refused bodies (too large, unknown fields,
 * a private key), nothing secret in answers or logs, /openapi.json, and the certificates list's
 * pagination and filters.
 */
import assert from 'node:assert/strict';
import { existsSync, readdirSync } from 'node:fs';
import { request } from 'node:http';
import { test } from 'node:test';
import { parseAdminListen } from '../../src/admin/listen.ts';
import { startAdmin } from '../../src/admin/server.ts';
import { createCertificate } from '../../src/pki/generate.ts';
import { certMeta } from '../../src/store/meta.ts';
import { startTestAdmin } from './helpers.ts';

/** Files in a directory (none when it was never made). */
const stored = (dir: string) => (existsSync(dir) ? readdirSync(dir) : []);

/** A raw request: node:http lets a test set Host, Origin and Sec-Fetch-Site as a browser would. */
function raw(
  url: string,
  options: { method?: string; headers?: Record<string, string>; body?: string | Buffer },
): Promise<{ status: number; body: string; headers: Record<string, string | string[] | undefined> }> {
  const u = new URL(url);
  return new Promise((resolve, reject) => {
    const req = request(
      { host: u.hostname, port: u.port, path: u.pathname + u.search, method: options.method ?? 'GET', headers: options.headers ?? {} },
      (res) => {
        let body = '';
        res.on('data', (d) => (body += d));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body, headers: res.headers }));
      },
    );
    req.on('error', reject);
    req.end(options.body);
  });
}

test('admin auth: no token is a 401 with E_ADMIN_AUTH and the fix', async (t) => {
  const a = await startTestAdmin(t);
  const r = await a.call('/api/certificates', { noAuth: true });
  assert.equal(r.status, 401);
  const b = (await r.json()) as { error: { code: string; fix: string } };
  assert.equal(b.error.code, 'E_ADMIN_AUTH');
  assert.match(b.error.fix, /certgate admin token create/);
});

test('admin auth: a wrong token is refused', async (t) => {
  const a = await startTestAdmin(t);
  const r = await a.call('/api/certificates', { headers: { authorization: `Bearer ${a.token.slice(0, -2)}xx` } });
  assert.equal(r.status, 401);
  assert.equal(((await r.json()) as { error: { code: string } }).error.code, 'E_ADMIN_AUTH');
});

test('admin auth: a revoked token stops working at once', async (t) => {
  const a = await startTestAdmin(t);
  assert.equal((await a.call('/api/domains')).status, 200);
  await a.tokens.revoke(a.tokenId);
  assert.equal((await a.call('/api/domains')).status, 401);
});

test('admin auth: failures are rate-limited per client (429 with Retry-After)', async (t) => {
  const a = await startTestAdmin(t, { maxFailures: 3 });
  for (let i = 0; i < 3; i++) assert.equal((await a.call('/api/domains', { headers: { authorization: 'Bearer cgt_wrong' } })).status, 401);
  const r = await a.call('/api/domains');
  assert.equal(r.status, 429, 'even the right token waits once the client is blocked');
  assert.ok(Number(r.headers.get('retry-after')) > 0);
});

test('admin auth: tokens are stored as SHA-256 only', async (t) => {
  const a = await startTestAdmin(t);
  const doc = (await a.engines.store.getDocument<{ tokens: Array<Record<string, string>> }>('admin-tokens'))?.tokens ?? [];
  assert.equal(doc.length, 1);
  assert.ok(!JSON.stringify(doc).includes(a.token.slice(4)), 'the token text is not stored');
  assert.match(doc[0]?.sha256 ?? '', /^[0-9a-f]{64}$/);
});

test('admin guard: a Host that does not name the listener is refused (DNS rebinding)', async (t) => {
  const a = await startTestAdmin(t);
  const port = new URL(a.url).port;
  const r = await raw(`${a.url}/api/domains`, { headers: { host: `rebind.attacker.example:${port}`, authorization: `Bearer ${a.token}` } });
  assert.equal(r.status, 421);
  assert.equal(JSON.parse(r.body).error.code, 'E_ADMIN_HOST');
  const ok = await raw(`${a.url}/api/domains`, { headers: { host: `localhost:${port}`, authorization: `Bearer ${a.token}` } });
  assert.equal(ok.status, 200, 'localhost names a loopback listener');
});

test('admin guard: a state-changing request from another site is refused, nothing changed', async (t) => {
  const a = await startTestAdmin(t);
  const body = JSON.stringify({ name: 'shop.example.com' });
  const headers = { authorization: `Bearer ${a.token}`, 'content-type': 'application/json' };
  const byOrigin = await raw(`${a.url}/api/domains`, { method: 'POST', headers: { ...headers, origin: 'https://evil.example' }, body });
  assert.equal(byOrigin.status, 403);
  assert.equal(JSON.parse(byOrigin.body).error.code, 'E_ADMIN_CROSS_SITE');
  const bySite = await raw(`${a.url}/api/domains`, { method: 'POST', headers: { ...headers, 'sec-fetch-site': 'cross-site' }, body });
  assert.equal(bySite.status, 403);
  assert.deepEqual((await a.engines.registry.list()).custom, []);
});

test('admin guard: no CORS headers, even to a preflight', async (t) => {
  const a = await startTestAdmin(t);
  const port = new URL(a.url).port;
  const r = await raw(`${a.url}/api/domains`, {
    method: 'OPTIONS',
    headers: { host: `127.0.0.1:${port}`, origin: 'https://evil.example', 'access-control-request-method': 'POST' },
  });
  assert.equal(r.headers['access-control-allow-origin'], undefined);
  assert.equal(r.status, 403);
});

test('admin bodies: an oversized upload is a 413 and nothing is stored', async (t) => {
  const a = await startTestAdmin(t);
  const r = await a.call('/api/trust', { method: 'POST', json: { content: 'A'.repeat(2 * 1024 * 1024), encoding: 'base64' } });
  assert.equal(r.status, 413);
  assert.equal(((await r.json()) as { error: { code: string } }).error.code, 'E_ADMIN_BODY_TOO_LARGE');
  assert.deepEqual(stored(a.engines.paths.caCerts), []);
});

test('admin bodies: a JSON body with unknown fields is refused with the field named', async (t) => {
  const a = await startTestAdmin(t);
  const r = await a.call('/api/domains', { method: 'POST', json: { name: 'shop.example.com', admin: true } });
  assert.equal(r.status, 400);
  const b = (await r.json()) as { error: { code: string; message: string } };
  assert.equal(b.error.code, 'E_ADMIN_INVALID');
  assert.match(b.error.message, /admin/);
  assert.deepEqual((await a.engines.registry.list()).custom, []);
});

test('admin trust: an upload holding a private key is refused whole, nothing stored, the key not echoed', async (t) => {
  const a = await startTestAdmin(t);
  const ca = await createCertificate({ subject: 'CN=Upload Test CA', ca: true });
  const r = await a.call('/api/trust', { method: 'POST', json: { filename: 'bundle.pem', content: ca.certPem + ca.keyPem } });
  assert.equal(r.status, 422);
  const text = await r.text();
  assert.equal(JSON.parse(text).error.code, 'E_TRUST_KEY');
  assert.ok(!text.includes('PRIVATE KEY') && !text.includes(ca.keyPem.split('\n')[1] as string));
  assert.deepEqual(stored(a.engines.paths.caCerts), []);
  assert.ok(!a.logs.join('').includes(ca.keyPem.split('\n')[1] as string), 'the key is not in the log');
});

test('admin trust: a leaf is refused with "pin it on the resource instead"; a CA is added and listed as trusted', async (t) => {
  const a = await startTestAdmin(t);
  const ca = await createCertificate({ subject: 'CN=Good Test CA', ca: true });
  const leaf = await createCertificate({ subject: 'CN=db.internal', dns: ['db.internal'], issuer: ca });
  const bad = (await (await a.call('/api/trust', { method: 'POST', json: { content: leaf.certPem } })).json()) as {
    added: number;
    verdicts: Array<{ verdict: string; reason: string }>;
  };
  assert.equal(bad.added, 0);
  assert.equal(bad.verdicts[0]?.verdict, 'refused');
  assert.match(bad.verdicts[0]?.reason ?? '', /this is a leaf: pin it on the resource instead/);
  const good = (await (
    await a.call('/api/trust', { method: 'POST', json: { content: Buffer.from(ca.certPem).toString('base64'), encoding: 'base64' } })
  ).json()) as {
    added: number;
  };
  assert.equal(good.added, 1);
  const list = (await (await a.call('/api/trust')).json()) as { entries: Array<{ verdict: string; subject: string; file: string }> };
  assert.equal(list.entries.length, 1);
  assert.equal(list.entries[0]?.verdict, 'trusted');
  const removed = (await (await a.call(`/api/trust/${encodeURIComponent(list.entries[0]?.file as string)}`, { method: 'DELETE' })).json()) as {
    removed: string[];
  };
  assert.equal(removed.removed.length, 1);
});

test('admin secrets: no token or private key in any answer or log line', async (t) => {
  const a = await startTestAdmin(t);
  const c = await createCertificate({ subject: 'CN=secret.example.com', dns: ['secret.example.com'] });
  await a.engines.store.putBundle('secret.example.com', {
    certPem: c.certPem,
    keyPem: c.keyPem,
    meta: certMeta(c.certPem, { name: 'secret.example.com', names: ['secret.example.com'], directory: 'test', keyType: 'ec-p256' }),
  });
  const keyLine = c.keyPem.split('\n')[1] as string;
  const bodies: string[] = [];
  for (const p of [
    '/api/certificates',
    '/api/certificates/secret.example.com',
    '/api/events',
    '/api/settings',
    '/api/domains',
    '/',
    '/certificates/secret.example.com',
  ])
    bodies.push(await (await a.call(p)).text());
  await a.call('/api/domains', { headers: { authorization: `Bearer ${a.token}x` } });
  const all = bodies.join('\n') + a.logs.join('\n');
  assert.ok(!all.includes(a.token) && !all.includes(a.token.slice(4, 30)), 'the token appears nowhere');
  assert.ok(!all.includes(keyLine) && !all.includes('PRIVATE KEY'), 'the key appears nowhere');
});

test('admin openapi: /openapi.json is an OpenAPI 3.1 document covering every API route', async (t) => {
  const a = await startTestAdmin(t);
  const r = await a.call('/openapi.json', { noAuth: true });
  assert.equal(r.status, 200);
  const doc = (await r.json()) as {
    openapi: string;
    paths: Record<string, Record<string, { responses: Record<string, unknown>; security?: unknown }>>;
    components: { schemas: Record<string, unknown> };
  };
  assert.equal(doc.openapi, '3.1.0');
  for (const p of [
    '/api/certificates',
    '/api/certificates/{name}',
    '/api/certificates/{name}/renew',
    '/api/domains',
    '/api/domains/{name}',
    '/api/trust',
    '/api/trust/{selector}',
    '/api/resources',
    '/api/resources/{name}',
    '/api/resources/{name}/test',
    '/api/resources/{name}/pin',
    '/api/events',
    '/api/events/stream',
    '/api/settings',
    '/api/settings/reload',
    '/api/doctor',
    '/metrics',
  ])
    assert.ok(doc.paths[p], `${p} is documented`);
  for (const [p, ops] of Object.entries(doc.paths))
    for (const [m, op] of Object.entries(ops)) {
      assert.ok(op.responses && Object.keys(op.responses).length, `${m} ${p} has responses`);
      assert.ok(op.security, `${m} ${p} says it needs auth`);
    }
  assert.ok(doc.components.schemas.Error && doc.components.schemas.CertificateRow && doc.components.schemas.Resource);
  const post = doc.paths['/api/domains']?.post as unknown as {
    requestBody: { content: { 'application/json': { schema: { additionalProperties?: boolean } } } };
  };
  assert.equal(post.requestBody.content['application/json'].schema.additionalProperties, false, 'strict bodies say so in the document');
});

test('admin certificates: pagination, state and name filters, counts per state', async (t) => {
  const a = await startTestAdmin(t);
  const c = await createCertificate({ subject: 'CN=bulk.example.com', dns: ['bulk.example.com'] });
  const meta = certMeta(c.certPem, { name: 'x', names: ['x'], directory: 'test', keyType: 'ec-p256' });
  for (let i = 0; i < 25; i++) {
    const name = `n${String(i).padStart(2, '0')}.example.com`;
    await a.engines.store.putBundle(name, { certPem: c.certPem, keyPem: c.keyPem, meta: { ...meta, name, names: [name] } });
  }
  await a.engines.store.putState('n03.example.com', {
    attempts: 2,
    lastError: { code: 'E_ACME_CHALLENGE', message: 'the CA could not reach port 80', at: new Date().toISOString() },
    nextAttemptAt: new Date(Date.now() + 3600_000).toISOString(),
    flagged: false,
  });
  await a.engines.store.putState('n04.example.com', {
    attempts: 5,
    lastError: { code: 'E_ACME_CHALLENGE', message: 'dns', at: new Date().toISOString() },
    nextAttemptAt: null,
    flagged: true,
  });
  const page2 = (await (await a.call('/api/certificates?perPage=10&page=2')).json()) as {
    total: number;
    items: Array<{ name: string }>;
    counts: Record<string, number>;
  };
  assert.equal(page2.total, 25);
  assert.deepEqual(
    page2.items.map((x) => x.name),
    Array.from({ length: 10 }, (_, i) => `n${String(i + 10).padStart(2, '0')}.example.com`),
  );
  assert.deepEqual(page2.counts, { valid: 23, renewing: 0, failing: 1, 'needs-action': 1 });
  const failing = (await (await a.call('/api/certificates?state=failing')).json()) as { total: number; items: Array<{ name: string; attempts: number }> };
  assert.deepEqual(
    failing.items.map((x) => [x.name, x.attempts]),
    [['n03.example.com', 2]],
  );
  const byName = (await (await a.call('/api/certificates?q=n2')).json()) as { total: number };
  assert.equal(byName.total, 5);
  assert.equal((await a.call('/api/certificates?perPage=501')).status, 400, 'a page is at most 500');
  assert.equal((await a.call('/api/certificates?colour=red')).status, 400, 'an unknown filter is refused');
});

test('admin listener: a non-loopback address without TLS refuses to start and says why', async () => {
  await assert.rejects(
    startAdmin({} as never, { listen: '0.0.0.0:0' }),
    (e: { code: string; message: string; fix: string }) => e.code === 'E_ADMIN_TLS' && /not loopback/.test(e.message) && /local-ca/.test(e.fix),
  );
});

test('admin listener: addresses parse as HOST:PORT, [v6]:PORT, unix:/path and off', () => {
  assert.deepEqual(parseAdminListen('127.0.0.1:2020'), { kind: 'tcp', host: '127.0.0.1', port: 2020, loopback: true });
  assert.deepEqual(parseAdminListen('[::1]:2020'), { kind: 'tcp', host: '::1', port: 2020, loopback: true });
  assert.deepEqual(parseAdminListen('unix:/run/certgate/admin.sock'), { kind: 'unix', path: '/run/certgate/admin.sock' });
  assert.deepEqual(parseAdminListen('off'), { kind: 'off' });
  assert.throws(
    () => parseAdminListen('2020'),
    (e: { code: string }) => e.code === 'E_OPTION',
  );
});
