/**
 * The PostgreSQL store beyond the contract, against real PostgreSQL servers: migrations under
 * their lock, a newer schema refused, every bad-input case one classified line with a fix and
 * nothing written, TLS verify-full, and change notifications between two nodes' backends.
 */
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import pg from 'pg';
import { ChallengeAnswers } from '../../src/acme/challenges.ts';
import { CertManager } from '../../src/manager/manager.ts';
import { createCertificate } from '../../src/pki/generate.ts';
import { certMeta } from '../../src/store/meta.ts';
import { PgCounters } from '../../src/store/pg/counters.ts';
import { createPgBackend, migrate, openPgStorage, pgTarget, SCHEMA_VERSION } from '../../src/store/pg/index.ts';
import { watchStore } from '../../src/store/pg/watch.ts';
import { Repository } from '../../src/store/repository.ts';
import { startPostgres } from '../helpers/postgres.ts';
import { tempDir } from '../helpers/tmp.ts';
import { pgFixture } from './pg-helpers.ts';

const fx = await pgFixture();
// Password authentication over TCP, TLS off: the auth, permission and no-TLS cases.
const plain = await startPostgres({
  certPem: fx.pki.leaf.certPem + fx.pki.inter.certPem,
  keyPem: fx.pki.leaf.keyPem,
  ssl: false,
  hostLine: 'host all all 127.0.0.1/32 scram-sha-256',
});
const admin = new pg.Client({ host: plain.socketDir, port: plain.port, user: 'postgres', database: 'postgres' });
await admin.connect();
await admin.query("CREATE ROLE app LOGIN PASSWORD 'right-password'");
await admin.query("CREATE ROLE weak LOGIN PASSWORD 'weak-password'");
await admin.query('CREATE DATABASE appdb OWNER app');
await admin.query('CREATE DATABASE weakdb OWNER postgres');
test.after(async () => {
  await admin.end();
  await plain.close();
  await fx.close();
});

const codeOf = async (p: Promise<unknown>) => {
  try {
    await p;
    return 'ok';
  } catch (err) {
    const e = err as { code?: string; message: string; fix?: string };
    assert.ok(e.fix, `a fix for ${e.code}`);
    assert.doesNotMatch(e.message, /right-password|weak-password|wrong-password/, 'never the password');
    assert.doesNotMatch(e.message, /\n/, 'one line');
    return `${e.code}`;
  }
};

test('pg: three nodes migrating at once apply each migration once and agree on the version', async () => {
  const url = await fx.database();
  const pools = [1, 2, 3].map(() => new pg.Pool(pgTarget(url).config));
  const results = await Promise.all(pools.map((p) => migrate(p)));
  assert.equal(results.filter((r) => r.applied.length).length, 1);
  assert.ok(results.every((r) => r.to === SCHEMA_VERSION));
  await Promise.all(pools.map((p) => p.end()));
});

test('pg: a schema newer than this binary is refused with a clear message, and nothing is written', async () => {
  const url = await fx.database();
  const b = await openPgStorage(url);
  await b.close();
  const pool = new pg.Pool(pgTarget(url).config);
  await pool.query('UPDATE certgate_schema SET version = $1', [SCHEMA_VERSION + 1]);
  const err = await openPgStorage(url).catch((e) => e);
  assert.equal(err.code, 'E_STORE_SCHEMA');
  assert.match(err.message, new RegExp(`schema version ${SCHEMA_VERSION + 1}, newer than this certgate knows`));
  assert.equal((await pool.query('SELECT count(*)::int AS n FROM certgate_kv')).rows[0].n, 0);
  assert.equal((await pool.query('SELECT version FROM certgate_schema')).rows[0].version, SCHEMA_VERSION + 1, 'left as found');
  await pool.end();
});

test('pg: a wrong password is E_STORE_AUTH with the fix, the password never shown', async () => {
  assert.equal(await codeOf(openPgStorage(`postgres://app:wrong-password@127.0.0.1:${plain.port}/appdb`)), 'E_STORE_AUTH');
});

test('pg: a database that does not exist is E_STORE_AUTH naming it', async () => {
  const err = await openPgStorage(`postgres://app:right-password@127.0.0.1:${plain.port}/nodb`).catch((e) => e);
  assert.equal(err.code, 'E_STORE_AUTH');
  assert.match(err.message, /"nodb" does not exist/);
});

test('pg: a user without the right to create tables is E_STORE_PERMISSION, nothing created', async () => {
  assert.equal(await codeOf(openPgStorage(`postgres://weak:weak-password@127.0.0.1:${plain.port}/weakdb`)), 'E_STORE_PERMISSION');
  const c = new pg.Client({ host: plain.socketDir, port: plain.port, user: 'postgres', database: 'weakdb' });
  await c.connect();
  assert.equal((await c.query("SELECT count(*)::int AS n FROM pg_tables WHERE tablename LIKE 'certgate_%'")).rows[0].n, 0);
  await c.end();
});

test('pg: nothing listening is E_STORE_CONNECT (the tcp layer)', async () => {
  const err = await openPgStorage('postgres://app@127.0.0.1:1/appdb').catch((e) => e);
  assert.equal(err.code, 'E_STORE_CONNECT');
  assert.match(err.message, /^store tcp: /);
});

test('pg: verify-full against a server without TLS is E_STORE_TLS with the fix', async () => {
  const err = await openPgStorage(`postgres://app:right-password@127.0.0.1:${plain.port}/appdb?sslmode=verify-full`).catch((e) => e);
  assert.equal(err.code, 'E_STORE_TLS');
  assert.match(err.fix, /ssl = on|sslmode=disable/);
});

test('pg: verify-full refuses a certificate from an unknown CA, and accepts it with store.ca', async (t) => {
  const url = `${await fx.database()}?sslmode=verify-full`;
  const err = await openPgStorage(url).catch((e) => e);
  assert.equal(err.code, 'E_STORE_TLS');
  assert.match(err.fix, /store\.ca/);
  const ca = join(tempDir(t), 'global-bundle.pem');
  writeFileSync(ca, fx.pki.root.certPem);
  const b = await openPgStorage(url, { caFile: ca });
  await b.storage.store('k', 'v');
  await b.close();
});

test('pg: a host off loopback gets verify-full unless the URL says sslmode=disable; loopback honours sslmode', () => {
  assert.equal(pgTarget('postgres://u@db.example.com/certgate').tls, 'verify-full');
  assert.equal(pgTarget('postgres://u@10.0.0.5/certgate?sslmode=require').tls, 'verify-full');
  assert.equal(pgTarget('postgres://u@db.example.com/certgate?sslmode=disable').tls, 'none');
  assert.equal(pgTarget('postgres://u@127.0.0.1/certgate').tls, 'none');
  assert.equal(pgTarget('postgres://u@127.0.0.1/certgate?sslmode=verify-full').tls, 'verify-full');
  assert.throws(() => pgTarget('postgres://u@db/certgate?sslmode=bogus'), { code: 'E_STORE_URL' });
  assert.throws(() => pgTarget('postgres://u@db/'), { code: 'E_STORE_URL' });
  assert.doesNotMatch(pgTarget('postgres://u:secret@db/x').display, /secret/);
});

test('pg: a group written by one node is heard by another within a second (LISTEN/NOTIFY)', async () => {
  const url = await fx.database();
  const a = createPgBackend(url);
  const b = createPgBackend(url);
  await Promise.all([a.ready(), b.ready()]);
  const heard: string[] = [];
  const w = watchStore({ target: b.target, pool: b.pool, onChange: (keys) => heard.push(...keys) });
  await w.started;
  const t0 = performance.now();
  await a.storage.storeGroup('certificates/x.example.com', { 'fullchain.pem': { value: 'c' } });
  while (!heard.includes('certificates/x.example.com') && performance.now() - t0 < 2000) await new Promise((r) => setTimeout(r, 5));
  assert.ok(heard.includes('certificates/x.example.com'), `heard ${heard}`);
  assert.ok(performance.now() - t0 < 1000);
  await w.close();
  await a.close();
  await b.close();
});

test('pg: a change made while the listener was away is found by the resync', async () => {
  const url = await fx.database();
  const a = createPgBackend(url);
  await a.ready();
  const heard: string[] = [];
  const w = watchStore({ target: a.target, pool: a.pool, onChange: (keys) => heard.push(...keys), resyncMs: 200 });
  await w.started;
  // Written behind the listener's back: a plain store does not notify.
  await a.storage.store('certificates/y.example.com/meta.json', '{}');
  const t0 = Date.now();
  while (!heard.includes('certificates/y.example.com') && Date.now() - t0 < 3000) await new Promise((r) => setTimeout(r, 20));
  assert.ok(heard.includes('certificates/y.example.com'), `heard ${heard}`);
  await w.close();
  await a.close();
});

test('pg: a holder whose lease lapsed (renewals stopped) cannot write under its old fence', async () => {
  const url = await fx.database();
  const a = createPgBackend(url, { leaseMs: 300 });
  const b = createPgBackend(url, { leaseMs: 300 });
  await Promise.all([a.ready(), b.ready()]);
  const held = await a.locker.lock('issue-z');
  // The holder goes quiet: its pool closes, its renewals fail, the lease runs out by the database's clock.
  await a.close();
  await new Promise((r) => setTimeout(r, 450));
  const fresh = await b.locker.tryLock('issue-z');
  assert.ok(fresh && (fresh.fence as number) > (held.fence as number));
  await b.storage.storeGroup('certificates/z', { cert: { value: 'new' } }, { lock: 'issue-z', fence: fresh.fence as number });
  const err = await b.storage.storeGroup('certificates/z', { cert: { value: 'old' } }, { lock: 'issue-z', fence: held.fence as number }).catch((e) => e);
  assert.equal(err.code, 'E_FENCED');
  assert.equal((await b.storage.load('certificates/z/cert'))?.toString(), 'new');
  await fresh();
  await b.close();
});

test('pg: a budget counted in the database is shared: two nodes taking at once spend exactly the limit', async () => {
  const url = await fx.database();
  const a = createPgBackend(url);
  const b = createPgBackend(url);
  await Promise.all([a.ready(), b.ready()]);
  const [ca, cb] = [new PgCounters(a.pool), new PgCounters(b.pool)];
  const taken = await Promise.all(Array.from({ length: 20 }, (_, i) => (i % 2 ? ca : cb).take('on-demand-minute', 5, 60_000)));
  assert.equal(taken.filter(Boolean).length, 5);
  assert.equal(await ca.take('other-key', 5, 60_000), true, 'another key has its own budget');
  await a.close();
  await b.close();
});

test("pg: the account order budget is the cluster's: two nodes with a budget of 3 place 3 orders between them", async () => {
  const url = await fx.database();
  let orders = 0;
  // The CA boundary only: counts orders and issues a generated certificate.
  const issuer = {
    id: 'acme:test',
    issue: async (names: string[]) => {
      orders++;
      const c = await createCertificate({ subject: `CN=${names[0]}`, dns: names });
      return { certPem: c.certPem, keyPem: c.keyPem, meta: certMeta(c.certPem, { name: names[0] as string, names, directory: 'test', keyType: 'ec-p256' }) };
    },
  };
  const nodes = [createPgBackend(url), createPgBackend(url)];
  await Promise.all(nodes.map((b) => b.ready()));
  const managers = nodes.map(
    (b) =>
      new CertManager({
        store: new Repository(b.storage),
        locker: b.locker,
        issuers: [issuer],
        ordersPerAccount: { capacity: 3, periodMs: 3_600_000 },
        sharedBudget: new PgCounters(b.pool),
      }),
  );
  const results = await Promise.allSettled(Array.from({ length: 6 }, (_, i) => (managers[i % 2] as CertManager).obtain(`o${i}.example.com`)));
  assert.equal(orders, 3);
  assert.equal(results.filter((r) => r.status === 'rejected' && (r.reason as { code?: string }).code === 'E_ACME_RATE_LIMITED').length, 3);
  for (const b of nodes) await b.close();
});

test('pg: challenge answers written by one node are given by another: HTTP-01 read from the store, TLS-ALPN-01 mirrored by notification', async () => {
  const url = await fx.database();
  const [a, b] = [createPgBackend(url), createPgBackend(url)];
  await Promise.all([a.ready(), b.ready()]);
  const [A, B] = [new ChallengeAnswers({ storage: a.storage }), new ChallengeAnswers({ storage: b.storage })];
  const w = watchStore({
    target: b.target,
    pool: b.pool,
    onChange: (keys) => {
      for (const k of keys) {
        const [top, type, name] = k.split('/');
        if (top === 'challenges' && type === 'tls-alpn-01' && name) void B.syncAlpn(name);
      }
    },
  });
  await w.started;
  await A.setHttp('-tok_1', '-tok_1.thumb');
  assert.equal((await b.storage.load('challenges/http-01/t-tok_1'))?.toString(), '-tok_1.thumb', 'in the store before the CA is told');
  const c = await createCertificate({ subject: 'CN=x.example.com', dns: ['x.example.com'] });
  await A.setAlpn('x.example.com', c.certPem, c.keyPem);
  assert.ok(B.alpnContext('x.example.com'), 'mirrored on the other node once setAlpn returns');
  await A.deleteAlpn('x.example.com');
  await A.deleteHttp('-tok_1');
  const t0 = Date.now();
  while (B.alpnContext('x.example.com') && Date.now() - t0 < 2000) await new Promise((r) => setTimeout(r, 10));
  assert.equal(B.alpnContext('x.example.com'), undefined, 'withdrawn there too');
  assert.equal(await b.storage.load('challenges/http-01/t-tok_1'), null);
  await w.close();
  await a.close();
  await b.close();
});
