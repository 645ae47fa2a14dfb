/**
 * A real MariaDB (Debian mariadb-server) with TLS, through mysql2 with the options certgate
 * builds: mysql2 checks the hostname only with verifyIdentity, which full sets.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import mysql from 'mysql2/promise';
import { mysql2Options } from '../../src/profiles/drivers.ts';
import { resolveTls } from '../../src/profiles/resolve.ts';
import { validateResource } from '../../src/profiles/schema.ts';
import { testResource } from '../../src/profiles/test.ts';
import { startMariaDb } from '../helpers/daemons.ts';
import { makePki } from '../helpers/pki.ts';

const pki = await makePki();

test('mysql2 against MariaDB: full checks the name, verify-ca does not, the layered test logs in', async (t) => {
  const db = await startMariaDb({ certPem: pki.leaf.certPem + pki.inter.certPem, keyPem: pki.leaf.keyPem, caPem: pki.root.certPem });
  t.after(() => db.close());
  const admin = await mysql.createConnection({ socketPath: db.socket, user: 'root' });
  await admin.query("CREATE USER 'app'@'%' IDENTIFIED BY 'pw' REQUIRE SSL");
  await admin.query("GRANT ALL ON *.* TO 'app'@'%'");
  await admin.end();
  const make = (tls: Record<string, unknown>) => {
    const r = validateResource(
      { kind: 'mysql', host: '127.0.0.1', port: db.port, user: 'app', password: { env: 'DB_PASSWORD' }, tls: { useTrustStore: false, ...tls } },
      'test',
      'db',
    );
    return { r, t: resolveTls(r, { trustCa: [], env: {}, baseDir: '/' }) };
  };
  const login = async (tls: Record<string, unknown>) => {
    const { r, t: resolved } = make(tls);
    try {
      const conn = await mysql.createConnection(mysql2Options(r, resolved, 'pw'));
      const [rows] = await conn.query("SHOW STATUS LIKE 'Ssl_version'");
      await conn.end();
      return `ok ${(rows as Array<{ Value: string }>)[0]?.Value}`;
    } catch (err) {
      return `fail ${(err as NodeJS.ErrnoException).code ?? ''} ${(err as Error).message}`;
    }
  };
  assert.match(await login({ mode: 'full', ca: pki.root.certPem, servername: 'app.test' }), /^ok TLSv1\.[23]/);
  // mysql2 checks the name against the host it connects to, here 127.0.0.1 (an IP SAN of the certificate).
  const other = await login({ mode: 'full', ca: pki.otherRoot.certPem });
  assert.match(other, /^fail/);
  assert.match(await login({ mode: 'verify-ca', ca: pki.root.certPem }), /^ok TLSv1/);
  assert.match(await login({ mode: 'skip' }), /^ok TLSv1/);

  const { r, t: good } = make({ mode: 'full', ca: pki.root.certPem, servername: 'app.test' });
  const layered = await testResource(r, good, { password: 'pw', timeoutMs: 10_000 });
  assert.equal(layered.status, 'ok', JSON.stringify(layered.layers));
  assert.match(layered.layers.find((l) => l.layer === 'auth')?.message ?? '', /logged in as app@%; server \d+\.\d+/);
  const wrongPw = await testResource(r, good, { password: 'nope', timeoutMs: 10_000 });
  assert.equal(wrongPw.layers.find((l) => l.layer === 'auth')?.status, 'fail');
});
