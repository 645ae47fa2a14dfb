/**
 * The cluster's command line against a real PostgreSQL: `store migrate`, `cluster status`
 * (nodes, heartbeats, mixed versions flagged, --json), `config check` probing the store, and
 * bad input (a wrong URL, no TLS where verify-full is needed, a newer schema): one line with a
 * fix, exit 2, nothing written and nothing listening.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import pg from 'pg';
import { run } from '../../src/cli/run.ts';
import { pgTarget } from '../../src/store/pg/connection.ts';
import { SCHEMA_VERSION } from '../../src/store/pg/migrate.ts';
import { startHeartbeat } from '../../src/store/pg/nodes.ts';
import { startServe, waitFor } from '../edge/helpers.ts';
import { freePort } from '../helpers/daemons.ts';
import { cleanEnv } from '../helpers/env.ts';
import { fakeIo } from '../helpers/io.ts';
import { tempDir } from '../helpers/tmp.ts';
import { pgFixture } from '../store/pg-helpers.ts';

const fx = await pgFixture();
test.after(() => fx.close());

async function cli(argv: string[], env: Record<string, string> = {}) {
  const io = fakeIo({ env });
  const code = await run(argv, io);
  return { code, out: io.stdout, err: io.stderr };
}

test('store migrate: creates the schema, then says it is up to date (--json)', async () => {
  const url = await fx.database();
  const first = await cli(['store', 'migrate', '--store', url, '--json']);
  assert.equal(first.code, 0, first.err);
  assert.deepEqual(JSON.parse(first.out).applied, [SCHEMA_VERSION]);
  const again = await cli(['store', 'migrate', '--json'], { CERTGATE_STORE: url });
  assert.deepEqual(JSON.parse(again.out).applied, []);
});

test('cluster status --json: lists live nodes with heartbeat and version; mixed versions flagged, exit 1', async () => {
  const url = await fx.database();
  await cli(['store', 'migrate', '--store', url]);
  const pool = new pg.Pool(pgTarget(url).config);
  const a = startHeartbeat(pool, { id: 'node-a', version: '0.1.0' });
  const b = startHeartbeat(pool, { id: 'node-b', version: '0.1.0' });
  await new Promise((r) => setTimeout(r, 200));
  const same = await cli(['cluster', 'status', '--json', '--store', url]);
  assert.equal(same.code, 0, same.err);
  const s = JSON.parse(same.out);
  assert.deepEqual(s.nodes.map((n: { id: string }) => n.id).sort(), ['node-a', 'node-b']);
  assert.equal(s.mixedVersions, false);
  assert.ok(s.nodes.every((n: { ageSeconds: number; stale: boolean }) => n.ageSeconds < 5 && !n.stale));
  const c = startHeartbeat(pool, { id: 'node-c', version: '0.2.0' });
  await new Promise((r) => setTimeout(r, 200));
  const mixed = await cli(['cluster', 'status', '--store', url]);
  assert.equal(mixed.code, 1);
  assert.match(mixed.out, /mixed versions: 0\.1\.0, 0\.2\.0/);
  for (const h of [a, b, c]) await h.stop();
  await pool.end();
});

test('serve with a store on a server without TLS but sslmode=verify-full: one line, exit 2, nothing listens or is written', async (t) => {
  const data = join(tempDir(t), 'data');
  const url = `${await fx.database()}`.replace('127.0.0.1', '127.0.0.1') + '?sslmode=verify-full';
  // The fixture's server has TLS on with a certificate from a CA this node does not trust.
  const r = await cli(['serve', '--store', url, '--data', data, '--https-port', '0', '--http-port', '0', '--host', '127.0.0.1']);
  assert.equal(r.code, 2);
  assert.match(r.err, /^error E_STORE_TLS: .*\n {2}fix: .*store\.ca/);
  const pool = new pg.Pool(pgTarget(url.replace('?sslmode=verify-full', '')).config);
  assert.equal((await pool.query("SELECT count(*)::int AS n FROM pg_tables WHERE tablename LIKE 'certgate_%'")).rows[0].n, 0, 'no table created');
  await pool.end();
});

test('serve with a store whose schema is newer: E_STORE_SCHEMA naming both versions, exit 2', async (t) => {
  const url = await fx.database();
  await cli(['store', 'migrate', '--store', url]);
  const pool = new pg.Pool(pgTarget(url).config);
  await pool.query('UPDATE certgate_schema SET version = $1', [SCHEMA_VERSION + 3]);
  await pool.end();
  const r = await cli(['serve', '--store', url, '--data', join(tempDir(t), 'data'), '--https-port', '0', '--http-port', '0', '--host', '127.0.0.1']);
  assert.equal(r.code, 2);
  assert.match(r.err, new RegExp(`^error E_STORE_SCHEMA: .*version ${SCHEMA_VERSION + 3}, newer than this certgate knows \\(${SCHEMA_VERSION}\\)`));
});

test('a store value that is not a postgres:// URL is a usage error naming the setting', async () => {
  const r = await cli(['store', 'migrate', '--store', 'mysql://x@db/certgate']);
  assert.equal(r.code, 2);
  assert.match(r.err, /--store/);
  assert.match(r.err, /postgres:\/\//);
});

test('config check probes the store: a wrong port is E_STORE_CONNECT; a good store is listed, nothing migrated', async (t) => {
  const dir = tempDir(t);
  const bad = await cli([
    'config',
    'check',
    '--store',
    'postgres://postgres@127.0.0.1:1/x',
    '--data',
    join(dir, 'd1'),
    '--https-port',
    '0',
    '--http-port',
    '0',
  ]);
  assert.equal(bad.code, 2);
  assert.match(bad.err, /^error E_STORE_CONNECT: /);
  const url = await fx.database();
  const good = await cli(['config', 'check', '--json', '--store', url, '--data', join(dir, 'd2'), '--https-port', '0', '--http-port', '0']);
  assert.equal(good.code, 0, good.err);
  assert.ok(JSON.parse(good.out).checks.some((c: string) => c.startsWith('store: postgres://')));
  const pool = new pg.Pool(pgTarget(url).config);
  assert.equal((await pool.query("SELECT count(*)::int AS n FROM pg_tables WHERE tablename LIKE 'certgate_%'")).rows[0].n, 0, 'config check writes nothing');
  await pool.end();
  assert.equal(existsSync(join(dir, 'd2', 'certificates')), false);
});

test('the ACME commands use the store too, and a one-shot command ends when done (the pool lets the process exit)', async (t) => {
  const url = await fx.database();
  const bin = join(import.meta.dirname, '..', '..', 'bin', 'certgate.js');
  const env = cleanEnv({ CERTGATE_DATA: join(tempDir(t), 'data'), CERTGATE_STORE: url });
  const call = (args: string[]) =>
    new Promise<{ code: number; out: string; ms: number }>((resolve) => {
      const t0 = Date.now();
      execFile(process.execPath, [bin, ...args], { env, timeout: 20_000 }, (err, out) =>
        resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, out, ms: Date.now() - t0 }),
      );
    });
  const add = await call(['domains', 'add', 'app.example.com']);
  assert.equal(add.code, 0, add.out);
  const list = await call(['domains', 'list', '--json']);
  assert.equal(list.code, 0);
  assert.match(list.out, /app\.example\.com/);
  assert.ok(list.ms < 10_000, `ended after ${list.ms} ms`);
  const pool = new pg.Pool(pgTarget(url).config);
  assert.ok((await pool.query("SELECT count(*)::int AS n FROM certgate_kv WHERE key LIKE 'docs/%'")).rows[0].n >= 1, 'the registry is in PostgreSQL');
  await pool.end();
});

test('the admin API lists the cluster: GET /api/cluster names the running node, its version and heartbeat; tokens live in the shared store', {
  timeout: 60_000,
}, async (t) => {
  const url = await fx.database();
  const [https, admin] = [await freePort(), await freePort()];
  const data = join(tempDir(t), 'data');
  const s = startServe(
    ['--store', url, '--data', data, '--https-port', String(https), '--http-port', 'off', '--host', '127.0.0.1', '--admin-listen', `127.0.0.1:${admin}`],
    {
      HOME: data,
    },
  );
  t.after(() => {
    if (s.child.exitCode === null) s.child.kill('SIGKILL');
  });
  await waitFor(() => /admin API and dashboard: http:\/\/127\.0\.0\.1:\d+/.test(s.err()) || s.child.exitCode !== null, 'the banner', 30_000);
  // The token is made on another machine's data directory: what counts is the store.
  const made = await cli(['admin', 'token', 'create', '--json', '--store', url, '--data', join(tempDir(t), 'elsewhere')]);
  assert.equal(made.code, 0, made.err);
  const auth = { authorization: `Bearer ${JSON.parse(made.out).token}` };
  const r = await fetch(`http://127.0.0.1:${admin}/api/cluster`, { headers: auth });
  assert.equal(r.status, 200);
  const body = (await r.json()) as { nodes: Array<{ pid: number; version: string; stale: boolean }>; mixedVersions: boolean };
  const me = body.nodes.find((n) => n.pid === s.child.pid);
  assert.ok(me, JSON.stringify(body));
  assert.equal(me?.version, '0.1.0');
  assert.equal(me?.stale, false);
  assert.equal(body.mixedVersions, false);
  s.child.kill('SIGTERM');
  assert.equal(await s.exited, 0);
});
