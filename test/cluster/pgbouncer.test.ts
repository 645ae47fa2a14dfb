/**
 * Through Debian's PgBouncer in transaction mode (server connections handed from one client to
 * the next between transactions): the lease locks still exclude, a waiting lock still gets the
 * lock, the fence still refuses a stale write, and the migrations' lock still holds. Session
 * advisory locks would fail exactly here; lease rows do not depend on the session.
 */
import assert from 'node:assert/strict';
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { chmodSync, chownSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { createPgBackend, type PgBackend } from '../../src/store/pg/index.ts';
import { freePort, waitForPort } from '../helpers/daemons.ts';
import { pgFixture } from '../store/pg-helpers.ts';

const fx = await pgFixture();
const url = await fx.database();
const database = new URL(url).pathname.slice(1);
const dir = mkdtempSync(join(tmpdir(), 'certgate-pgbouncer-'));
const port = await freePort();
writeFileSync(
  join(dir, 'pgbouncer.ini'),
  [
    '[databases]',
    `${database} = host=127.0.0.1 port=${fx.server.port} dbname=${database}`,
    '[pgbouncer]',
    'listen_addr = 127.0.0.1',
    `listen_port = ${port}`,
    `unix_socket_dir = ${dir}`,
    'auth_type = trust',
    `auth_file = ${join(dir, 'users.txt')}`,
    'pool_mode = transaction',
    // Fewer server connections than clients: every transaction may land on another session.
    'default_pool_size = 2',
    'max_client_conn = 50',
    `logfile = ${join(dir, 'pgbouncer.log')}`,
    '',
  ].join('\n'),
);
writeFileSync(join(dir, 'users.txt'), '"postgres" ""\n');
const uid = Number(execFileSync('id', ['-u', 'postgres']));
const gid = Number(execFileSync('id', ['-g', 'postgres']));
for (const f of ['', 'pgbouncer.ini', 'users.txt']) chownSync(join(dir, f), uid, gid);
chmodSync(dir, 0o755);
// PgBouncer refuses to run as root.
const bouncer: ChildProcess = spawn('runuser', ['-u', 'postgres', '--', '/usr/sbin/pgbouncer', join(dir, 'pgbouncer.ini')], { stdio: 'ignore' });
await waitForPort(port, bouncer, 10_000, () => 'pgbouncer did not start');
const viaBouncer = `postgres://postgres@127.0.0.1:${port}/${database}`;
const backends: PgBackend[] = [];
test.after(async () => {
  for (const b of backends) await b.close();
  bouncer.kill('SIGTERM');
  await new Promise((r) => (bouncer.exitCode !== null ? r(null) : bouncer.once('exit', r)));
  rmSync(dir, { recursive: true, force: true });
  await fx.close();
});

function open(): PgBackend {
  const b = createPgBackend(viaBouncer, { pollMs: 20, max: 4, leaseMs: 5000 });
  backends.push(b);
  return b;
}

test('pgbouncer (transaction mode): the store migrates and works through it', async () => {
  const a = open();
  await a.ready();
  await a.storage.storeGroup('certificates/x', { cert: { value: 'c' }, key: { value: 'k', private: true } });
  assert.equal((await a.storage.load('certificates/x/cert'))?.toString(), 'c');
});

test('pgbouncer (transaction mode): a lock held by one node excludes the others, across pooled sessions', async () => {
  const [a, b, c] = [open(), open(), open()];
  const held = await a.locker.tryLock('issue-p');
  assert.ok(held);
  // Many statements from many clients on two server sessions: none of them gets it.
  const tries = await Promise.all(Array.from({ length: 12 }, (_, i) => (i % 2 ? b : c).locker.tryLock('issue-p')));
  assert.deepEqual(
    tries.map((t) => t === null),
    tries.map(() => true),
  );
  const waiting = b.locker.lock('issue-p');
  await new Promise((r) => setTimeout(r, 200));
  await held();
  const next = await waiting;
  assert.ok((next.fence as number) > (held.fence as number));
  await next();
});

test('pgbouncer (transaction mode): a stale fence is refused', async () => {
  const [a, b] = [open(), open()];
  const old = await a.locker.lock('issue-q');
  await old();
  const fresh = await b.locker.lock('issue-q');
  const err = await a.storage.storeGroup('certificates/q', { cert: { value: 'old' } }, { lock: 'issue-q', fence: old.fence as number }).catch((e) => e);
  assert.equal(err.code, 'E_FENCED');
  await fresh();
});
