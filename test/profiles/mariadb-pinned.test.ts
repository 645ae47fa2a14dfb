/**
 * MySQL `pinned` with a CA-issued server certificate, against a real MariaDB: certgate's TLS
 * probe trusts the pinned leaf as the one anchor, mysql2 cannot (it builds its own secure
 * context from ca/cert/key and drops allowPartialTrustChain). The auth layer says exactly that,
 * instead of "see the TLS layer above" under a TLS layer that passed.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import mysql from 'mysql2/promise';
import { resolveTls } from '../../src/profiles/resolve.ts';
import { validateResource } from '../../src/profiles/schema.ts';
import { testResource } from '../../src/profiles/test.ts';
import { startMariaDb } from '../helpers/daemons.ts';
import { makePki } from '../helpers/pki.ts';

const pki = await makePki();

test('resources test: mysql pinned on a CA-issued certificate: TLS ok, auth AUTH_DRIVER_PINNED_CA_ISSUED with the fix', async (t) => {
  const issued = await startMariaDb({ certPem: pki.leaf.certPem + pki.inter.certPem, keyPem: pki.leaf.keyPem, caPem: pki.root.certPem });
  t.after(() => issued.close());
  const admin = await mysql.createConnection({ socketPath: issued.socket, user: 'root' });
  await admin.query("CREATE USER 'app'@'%' IDENTIFIED BY 'pw' REQUIRE SSL");
  await admin.end();
  const r = validateResource(
    { kind: 'mysql', host: '127.0.0.1', port: issued.port, user: 'app', tls: { mode: 'pinned', pinnedCert: pki.leaf.certPem } },
    'test',
    'orders-db',
  );
  const result = await testResource(r, resolveTls(r, { trustCa: [], env: {}, baseDir: '/' }), { password: 'pw', timeoutMs: 10_000 });
  const tls = result.layers.find((l) => l.layer === 'tls');
  const auth = result.layers.find((l) => l.layer === 'auth');
  assert.equal(tls?.status, 'ok', JSON.stringify(result.layers));
  assert.equal(auth?.status, 'fail');
  assert.equal(auth?.code, 'AUTH_DRIVER_PINNED_CA_ISSUED', JSON.stringify(auth));
  assert.match(
    auth?.message ?? '',
    /"app\.test" is issued by "Certgate Test Intermediate", and mysql2 trusts a pinned certificate only when it is self-signed/,
  );
  assert.match(auth?.fix ?? '', /mode full with the issuing CA.*--ca ROOT\.pem/);
  assert.doesNotMatch(auth?.fix ?? '', /see the TLS layer above/);
});
