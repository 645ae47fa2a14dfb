/**
 * Every TLS mode against a real PostgreSQL (ssl=on, a certificate for app.test), through the
 * real pg driver with the options certgate builds, and the layered resources test.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import pg from 'pg';
import { createCertificate } from '../../src/pki/generate.ts';
import { pgOptions } from '../../src/profiles/drivers.ts';
import { resolveTls } from '../../src/profiles/resolve.ts';
import { validateResource } from '../../src/profiles/schema.ts';
import { testResource } from '../../src/profiles/test.ts';
import { makePki } from '../helpers/pki.ts';
import { startPostgres } from '../helpers/postgres.ts';

const pki = await makePki();
const pgServer = await startPostgres({ certPem: pki.leaf.certPem + pki.inter.certPem, keyPem: pki.leaf.keyPem });
const mtls = await startPostgres({ certPem: pki.leaf.certPem + pki.inter.certPem, keyPem: pki.leaf.keyPem, clientCaPem: pki.root.certPem + pki.inter.certPem });
test.after(async () => {
  await pgServer.close();
  await mtls.close();
});

type Tls = Record<string, unknown>;
function resource(port: number, tls: Tls, extra: Record<string, unknown> = {}) {
  const r = validateResource(
    { kind: 'postgres', host: '127.0.0.1', port, user: 'postgres', database: 'postgres', tls: { useTrustStore: false, ...tls }, ...extra },
    'test',
    'db',
  );
  return { r, t: resolveTls(r, { trustCa: [], env: { CLIENT_KEY: clientKeyPem }, baseDir: '/' }) };
}

let clientKeyPem = '';

async function connect(port: number, tls: Tls, extra: Record<string, unknown> = {}): Promise<string> {
  const { r, t } = resource(port, tls, extra);
  const client = new pg.Client({ ...pgOptions(r, t), connectionTimeoutMillis: 5000 });
  client.on('error', () => {});
  try {
    await client.connect();
    const res = await client.query('select current_user as u');
    return `ok ${res.rows[0].u}`;
  } catch (err) {
    return `fail ${(err as NodeJS.ErrnoException).code ?? ''} ${(err as Error).message}`;
  } finally {
    await client.end().catch(() => {});
  }
}

test('full: chain and hostname; fails on the wrong name', async () => {
  assert.equal(await connect(pgServer.port, { mode: 'full', ca: pki.root.certPem, servername: 'app.test' }), 'ok postgres');
  assert.match(await connect(pgServer.port, { mode: 'full', ca: pki.root.certPem, servername: 'db.other.test' }), /^fail ERR_TLS_CERT_ALTNAME_INVALID/);
  assert.match(await connect(pgServer.port, { mode: 'full', ca: pki.otherRoot.certPem, servername: 'app.test' }), /^fail UNABLE_TO_GET_ISSUER_CERT_LOCALLY/);
});

test('verify-ca: the wrong hostname passes (as documented), an unknown CA does not', async () => {
  assert.equal(await connect(pgServer.port, { mode: 'verify-ca', ca: pki.root.certPem, servername: 'db.other.test' }), 'ok postgres');
  assert.match(await connect(pgServer.port, { mode: 'verify-ca', ca: pki.otherRoot.certPem }), /^fail UNABLE_TO_GET_ISSUER_CERT_LOCALLY/);
});

test('pinned: the exact certificate passes whatever the CA; a different one fails', async () => {
  assert.equal(await connect(pgServer.port, { mode: 'pinned', pinnedCert: pki.leaf.certPem, servername: 'anything.test' }), 'ok postgres');
  const other = await createCertificate({ subject: 'CN=app.test', issuer: pki.inter, dns: ['app.test'] });
  assert.match(await connect(pgServer.port, { mode: 'pinned', pinnedCert: other.certPem }), /^fail/);
});

test('skip: connects to anything (and says so on every use)', async () => {
  const { t } = resource(pgServer.port, { mode: 'skip' });
  assert.match(t.warning ?? '', /verification is off/);
  assert.equal(await connect(pgServer.port, { mode: 'skip' }), 'ok postgres');
});

test('mTLS with hostssl ... cert: with the client certificate, and without it', async () => {
  const client = await createCertificate({ subject: 'CN=postgres', issuer: pki.inter, extendedKeyUsage: ['clientAuth'] });
  clientKeyPem = client.keyPem;
  const withCert = await connect(mtls.port, {
    mode: 'full',
    ca: pki.root.certPem,
    servername: 'app.test',
    clientCert: client.certPem + pki.inter.certPem,
    clientKey: { env: 'CLIENT_KEY' },
  });
  assert.equal(withCert, 'ok postgres');
  const without = await connect(mtls.port, { mode: 'full', ca: pki.root.certPem, servername: 'app.test' });
  assert.match(without, /^fail .*(certificate|pg_hba)/i);
});

test('resources test: every layer reports, and the failing one says why', async () => {
  const good = resource(pgServer.port, { mode: 'full', ca: pki.root.certPem, servername: 'app.test' });
  const ok = await testResource(good.r, good.t, { timeoutMs: 5000 });
  assert.equal(ok.status, 'ok', JSON.stringify(ok.layers));
  assert.deepEqual(
    ok.layers.map((l) => `${l.layer}:${l.status}`),
    ['dns:skipped', 'tcp:ok', 'tls:ok', 'auth:ok'],
  );
  assert.match(ok.layers[3]?.message ?? '', /logged in as postgres; PostgreSQL 1\d/);

  const wrongName = resource(pgServer.port, { mode: 'full', ca: pki.root.certPem, servername: 'db.other.test' });
  const bad = await testResource(wrongName.r, wrongName.t, { timeoutMs: 5000 });
  assert.equal(bad.status, 'fail');
  assert.deepEqual(
    bad.layers.map((l) => `${l.layer}:${l.status}`),
    ['dns:skipped', 'tcp:ok', 'tls:fail', 'auth:skipped'],
  );
  assert.match(bad.layers[2]?.message ?? '', /not for "db\.other\.test"/);

  const vca = resource(pgServer.port, { mode: 'verify-ca', ca: pki.root.certPem, servername: 'db.other.test' });
  const passes = await testResource(vca.r, vca.t, { timeoutMs: 5000 });
  assert.equal(passes.status, 'ok', JSON.stringify(passes.layers));
  assert.ok(passes.layers[2]?.findings?.some((f) => f.code === 'HOSTNAME_MISMATCH' && f.severity === 'info'));

  const self = resource(pgServer.port, { mode: 'full', servername: 'app.test' });
  const untrusted = await testResource(self.r, self.t, { timeoutMs: 5000 });
  assert.equal(untrusted.layers[2]?.status, 'fail');
  assert.match(untrusted.layers[2]?.fix ?? '', /certgate trust add|intermediate/);

  const mtlsNoCert = resource(mtls.port, { mode: 'full', ca: pki.root.certPem, servername: 'app.test' });
  const authFail = await testResource(mtlsNoCert.r, mtlsNoCert.t, { timeoutMs: 5000 });
  assert.equal(authFail.status, 'fail');
  const failed = authFail.layers.find((l) => l.status === 'fail');
  assert.ok(failed?.layer === 'tls' || failed?.layer === 'auth', JSON.stringify(authFail.layers));
  assert.match(`${failed?.message} ${failed?.fix}`, /client certificate|clientCert/i);
});
