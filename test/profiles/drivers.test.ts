import assert from 'node:assert/strict';
import { test } from 'node:test';
import { MongoClient, MongoServerError } from 'mongodb';
import { mongodbOptions, mongodbUriParams, mysql2Options, pgOptions, stripPgSslParams, tlsOptions } from '../../src/profiles/drivers.ts';
import { classifyMongoError, missingMongoRoles } from '../../src/profiles/mongo.ts';
import { resolveTls } from '../../src/profiles/resolve.ts';
import { validateResource } from '../../src/profiles/schema.ts';
import { makePki } from '../helpers/pki.ts';
import { startTlsServer } from '../helpers/servers.ts';

const pki = await makePki();

function resolved(kind: 'postgres' | 'mysql' | 'mongodb' | 'redis', mode: 'full' | 'verify-ca' | 'pinned' | 'skip') {
  const r = validateResource(
    { kind, host: 'db.internal', tls: { mode, ca: pki.root.certPem, ...(mode === 'pinned' ? { pinnedCert: pki.leaf.certPem } : {}) } },
    'test',
    'db',
  );
  return { r, t: resolveTls(r, { trustCa: ['TRUST-STORE-PEM'], env: {}, baseDir: '/' }) };
}

test('the CA list: trust store + resource CA; pinned trusts the pinned certificate alone', () => {
  assert.deepEqual(resolved('postgres', 'full').t.ca, ['TRUST-STORE-PEM', pki.root.certPem]);
  assert.deepEqual(resolved('postgres', 'pinned').t.ca, [pki.leaf.certPem]);
  assert.match(resolved('postgres', 'skip').t.warning ?? '', /verification is off/);
});

test('tls options do what the mode names', () => {
  const full = tlsOptions(resolved('postgres', 'full').t);
  assert.equal(full.rejectUnauthorized, true);
  assert.ok(full.checkServerIdentity?.('other.host', { subject: { CN: 'db.internal' }, subjectaltname: 'DNS:db.internal' } as never), 'full checks the name');
  const vca = tlsOptions(resolved('postgres', 'verify-ca').t);
  assert.equal(vca.rejectUnauthorized, true);
  assert.equal(vca.checkServerIdentity?.('other.host', {} as never), undefined, 'verify-ca does not');
  const skip = tlsOptions(resolved('postgres', 'skip').t);
  assert.equal(skip.rejectUnauthorized, false);
  const pinned = tlsOptions(resolved('postgres', 'pinned').t);
  assert.ok(pinned.checkServerIdentity?.('x', { fingerprint256: 'AA:BB' } as never) instanceof Error);
});

test('pg: the ssl object, and sslmode stripped from URLs so it cannot replace it', () => {
  const { r, t } = resolved('postgres', 'verify-ca');
  const o = pgOptions(r, t, 'pw');
  assert.equal(o.host, 'db.internal');
  assert.equal(o.port, 5432);
  assert.equal(o.password, 'pw');
  assert.equal(o.ssl.servername, 'db.internal');
  const s = stripPgSslParams('postgres://u@db.internal:5432/orders?sslmode=require&application_name=x&sslrootcert=/x');
  assert.equal(s.url, 'postgres://u@db.internal:5432/orders?application_name=x');
  assert.deepEqual(s.removed, ['sslmode', 'sslrootcert']);
});

test('mysql2: hostname checked only in full (verifyIdentity)', () => {
  assert.deepEqual(
    (['full', 'verify-ca', 'pinned', 'skip'] as const).map((m) => {
      const { r, t } = resolved('mysql', m);
      const s = mysql2Options(r, t).ssl;
      return [m, s.rejectUnauthorized, s.verifyIdentity];
    }),
    [
      ['full', true, true],
      ['verify-ca', true, false],
      ['pinned', true, false],
      ['skip', false, false],
    ],
  );
});

test('mongodb: option names the driver accepts, checked by the real MongoClient parser', () => {
  for (const mode of ['full', 'verify-ca', 'skip'] as const) {
    const { t } = resolved('mongodb', mode);
    const client = new MongoClient('mongodb://127.0.0.1:1/?directConnection=true', mongodbOptions(t));
    // The driver turns its tlsAllow* names into tls.connect options: check what it made of ours.
    const parsed = client.options as unknown as { tls: boolean; rejectUnauthorized?: boolean; checkServerIdentity?: unknown; ca?: unknown };
    assert.equal(parsed.tls, true, mode);
    assert.equal(parsed.rejectUnauthorized, mode !== 'skip', mode);
    assert.equal(typeof parsed.checkServerIdentity, mode === 'full' ? 'undefined' : 'function', `${mode}: the name check is off unless full`);
    assert.deepEqual(parsed.ca, t.ca);
    const q = mongodbUriParams(t, { caFile: '/etc/certgate/ca.pem', certKeyFile: '/etc/certgate/client.pem' });
    const viaUri = new MongoClient(`mongodb://127.0.0.1:1/?${q}`).options as unknown as {
      tlsCAFile: string;
      tlsCertificateKeyFile: string;
      checkServerIdentity?: unknown;
    };
    assert.equal(viaUri.tlsCAFile, '/etc/certgate/ca.pem');
    assert.equal(viaUri.tlsCertificateKeyFile, '/etc/certgate/client.pem');
    assert.equal(typeof viaUri.checkServerIdentity, mode === 'full' ? 'undefined' : 'function', `${mode} via URI`);
  }
});

test("mongodb errors: the driver's real error objects are explained as the seeds explain them", async (t) => {
  const notInit = new MongoServerError({ ok: 0, code: 94, codeName: 'NotYetInitialized', errmsg: 'no replset config has been received' });
  assert.equal(classifyMongoError(notInit).code, 'MONGO_REPLSET_NOT_INITIATED');
  assert.match(classifyMongoError(notInit).fix, /rs\.initiate\(\)/);
  const unauthorized = new MongoServerError({
    ok: 0,
    code: 13,
    codeName: 'Unauthorized',
    errmsg: 'not authorized on admin to execute command { replSetGetStatus: 1 }',
  });
  assert.equal(classifyMongoError(unauthorized).code, 'MONGO_ROLES_MISSING');
  assert.match(classifyMongoError(unauthorized).fix, /clusterMonitor/);
  const authFailed = new MongoServerError({ ok: 0, code: 18, codeName: 'AuthenticationFailed', errmsg: 'Authentication failed.' });
  assert.equal(classifyMongoError(authFailed).code, 'MONGO_AUTH_FAILED');
  assert.deepEqual(missingMongoRoles([{ role: 'readWrite', db: 'appsmith' }], 'appsmith'), ['clusterMonitor on admin']);
  assert.deepEqual(missingMongoRoles([{ role: 'root', db: 'admin' }], 'appsmith'), []);

  // A real server-selection error from the driver: nothing listens.
  const closed = new MongoClient('mongodb://127.0.0.1:1/?directConnection=true&serverSelectionTimeoutMS=300');
  const refused = await closed.connect().then(
    () => null,
    (e) => e,
  );
  await closed.close();
  assert.equal(refused?.name, 'MongoServerSelectionError');
  assert.equal(classifyMongoError(refused).code, 'MONGO_UNREACHABLE');

  // A real TLS failure inside the driver's error: a TLS server whose CA is not trusted.
  const server = await startTlsServer({ chain: [pki.leaf.certPem, pki.inter.certPem], key: pki.leaf.keyPem });
  t.after(() => server.close());
  const tlsClient = new MongoClient(`mongodb://127.0.0.1:${server.port}/?directConnection=true&serverSelectionTimeoutMS=1000`, {
    tls: true,
    ca: [pki.otherRoot.certPem],
  });
  const tlsErr = await tlsClient.connect().then(
    () => null,
    (e) => e,
  );
  await tlsClient.close();
  assert.equal(classifyMongoError(tlsErr).code, 'MONGO_TLS_FAILED', String(tlsErr));
  assert.equal(classifyMongoError(tlsErr).layer, 'tls');
});
