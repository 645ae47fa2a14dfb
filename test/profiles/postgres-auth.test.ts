/**
 * The auth layer of `resources test` against a real PostgreSQL, where the driver's own text
 * would not say what to change: SCRAM without a password, and `cert` authentication with a
 * client certificate whose CN is not the user.
 */
import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import pg from 'pg';
import { run } from '../../src/cli/run.ts';
import { createCertificate } from '../../src/pki/generate.ts';
import { resolveTls } from '../../src/profiles/resolve.ts';
import { validateResource } from '../../src/profiles/schema.ts';
import { testResource } from '../../src/profiles/test.ts';
import { fakeIo } from '../helpers/io.ts';
import { makePki } from '../helpers/pki.ts';
import { startPostgres } from '../helpers/postgres.ts';
import { tempDir } from '../helpers/tmp.ts';

const pki = await makePki();
const server = { certPem: pki.leaf.certPem + pki.inter.certPem, keyPem: pki.leaf.keyPem };
const scram = await startPostgres({ ...server, hostLine: 'hostssl all all 127.0.0.1/32 scram-sha-256' });
const mtls = await startPostgres({ ...server, clientCaPem: pki.root.certPem + pki.inter.certPem });
test.after(async () => {
  await scram.close();
  await mtls.close();
});
const admin = new pg.Client({ host: scram.socketDir, port: scram.port, user: 'postgres', database: 'postgres' });
await admin.connect();
await admin.query("CREATE USER app PASSWORD 'app-pw'");
await admin.end();

test('resources test: SCRAM without a password is AUTH_PASSWORD_MISSING with the fix, not the driver text', async (t) => {
  const dir = tempDir(t);
  const data = join(dir, 'data');
  mkdirSync(join(data, 'resources'), { recursive: true });
  writeFileSync(join(dir, 'root.pem'), pki.root.certPem);
  const io = () => fakeIo({ cwd: dir, env: { CERTGATE_DATA: data } });
  const flags = ['--kind', 'postgres', '--host', '127.0.0.1', '--port', String(scram.port), '--servername', 'app.test', '--ca', 'root.pem'];
  assert.equal(await run(['resources', 'add', 'orders-db', ...flags, '--user', 'app', '--database', 'postgres'], io()), 0);
  const x = io();
  assert.equal(await run(['resources', 'test', 'orders-db'], x), 1);
  assert.match(x.stdout, /✓ tls /);
  assert.match(x.stdout, /✗ auth +AUTH_PASSWORD_MISSING: PostgreSQL asks user app for a password, and the resource gives none/);
  assert.match(x.stdout, /fix: set password\.env or password\.file in the resource/);
  assert.doesNotMatch(x.stdout, /SASL|client password must be a string/);
  // With the password given, the same resource logs in: the finding was about the password.
  const pw = io();
  assert.equal(await run(['resources', 'add', 'orders-db', ...flags, '--user', 'app', '--database', 'postgres', '--password-env', 'PW', '--replace'], pw), 0);
  const ok = fakeIo({ cwd: dir, env: { CERTGATE_DATA: data, PW: 'app-pw' } });
  assert.equal(await run(['resources', 'test', 'orders-db'], ok), 0, ok.stdout);
});

test('resources test: a client certificate whose CN is not the user is AUTH_CLIENT_CERT_USER naming both', async () => {
  const client = await createCertificate({ subject: 'CN=app', issuer: pki.inter, extendedKeyUsage: ['clientAuth'] });
  const r = validateResource(
    {
      kind: 'postgres',
      host: '127.0.0.1',
      port: mtls.port,
      user: 'postgres',
      database: 'postgres',
      tls: { mode: 'full', ca: pki.root.certPem, servername: 'app.test', useTrustStore: false, clientCert: client.certPem, clientKey: { env: 'KEY' } },
    },
    'test',
    'orders-db',
  );
  const result = await testResource(r, resolveTls(r, { trustCa: [], env: { KEY: client.keyPem }, baseDir: '/' }), { timeoutMs: 5000 });
  const auth = result.layers.find((l) => l.layer === 'auth');
  assert.equal(auth?.status, 'fail', JSON.stringify(result.layers));
  assert.equal(auth?.code, 'AUTH_CLIENT_CERT_USER');
  assert.match(auth?.message ?? '', /maps the client certificate's CN to the user: the CN is "app", the user is "postgres"/);
  assert.match(auth?.fix ?? '', /CN=postgres.*user: app.*pg_ident\.conf/);
});

test('resources test: cert authentication without a client certificate is AUTH_CLIENT_CERT_MISSING naming the resource fields', async () => {
  const r = validateResource(
    {
      kind: 'postgres',
      host: '127.0.0.1',
      port: mtls.port,
      user: 'postgres',
      tls: { mode: 'full', ca: pki.root.certPem, servername: 'app.test', useTrustStore: false },
    },
    'test',
    'orders-db',
  );
  const result = await testResource(r, resolveTls(r, { trustCa: [], env: {}, baseDir: '/' }), { timeoutMs: 5000 });
  const auth = result.layers.find((l) => l.layer === 'auth');
  assert.equal(auth?.code, 'AUTH_CLIENT_CERT_MISSING', JSON.stringify(result.layers));
  assert.match(auth?.fix ?? '', /tls\.clientCert and tls\.clientKey .*CN is postgres/);
  assert.doesNotMatch(auth?.fix ?? '', /--client-cert FILE --client-key FILE with/);
});
