/**
 * The filesystem backend passes the storage contract; beyond it, its locker takes over the
 * lock of a holder on this host whose process is gone at once (a kill -9 mid-issuance), and a
 * lock whose holder stopped renewing it after staleMs.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdirSync, readdirSync, statSync, utimesSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { FsLocker, FsStorage } from '../../src/store/fs-storage.ts';
import { tempDir } from '../helpers/tmp.ts';
import { storageContract } from './contract.ts';

storageContract('fs', async (t) => {
  const root = tempDir(t as never);
  return {
    storage: new FsStorage({ root }),
    locker: new FsLocker({ root, pollMs: 20 }),
    otherLocker: new FsLocker({ root, pollMs: 20 }),
    fencing: { skip: 'file locks carry no fence: the filesystem store is one host, whose takeover checks the holder pid (a cluster uses PostgreSQL)' },
    close: async () => {},
  };
});

test('fs: a private key is written 0600', async (t) => {
  const root = tempDir(t);
  const s = new FsStorage({ root });
  await s.storeGroup('certificates/x', { 'privkey.pem': { value: 'k', private: true }, 'fullchain.pem': { value: 'c' } });
  assert.equal(statSync(s.pathOf('certificates/x/privkey.pem')).mode & 0o777, 0o600);
  assert.equal(statSync(s.pathOf('certificates/x/fullchain.pem')).mode & 0o777, 0o644);
});

test('fs: a lock held by a process of this host that was killed is taken over at once, not after staleMs', async (t) => {
  const root = tempDir(t);
  // A real holder: a child takes the lock, says so, and is killed -9 while holding it.
  const child = spawn(
    process.execPath,
    [
      '--import',
      'tsx',
      '--input-type=module',
      '-e',
      `import { FsLocker } from ${JSON.stringify(join(import.meta.dirname, '../../src/store/fs-storage.ts'))};
       await new FsLocker({ root: ${JSON.stringify(root)} }).lock('issue:a.example.com');
       console.log('held'); setInterval(() => {}, 1000);`,
    ],
    { stdio: ['ignore', 'pipe', 'inherit'] },
  );
  t.after(() => child.kill('SIGKILL'));
  await new Promise<void>((r) => child.stdout?.on('data', (d) => String(d).includes('held') && r()));
  child.kill('SIGKILL');
  await new Promise((r) => child.once('exit', r));
  const locker = new FsLocker({ root, staleMs: 600_000, timeoutMs: 2_000 });
  const t0 = Date.now();
  const release = await locker.lock('issue:a.example.com');
  assert.ok(Date.now() - t0 < 1_000, `took ${Date.now() - t0} ms`);
  await release();
});

test('fs: a lock whose holder stopped renewing it is taken over after staleMs', async (t) => {
  const root = tempDir(t);
  const a = new FsLocker({ root, staleMs: 60_000 });
  await a.lock('k'); // never released: its renewal timer keeps it fresh...
  const lockFile = join(root, 'locks', readdirSync(join(root, 'locks'))[0] as string);
  const old = new Date(Date.now() - 120_000);
  utimesSync(lockFile, old, old); // ...until it looks as if its holder hung on another host
  const b = new FsLocker({ root, staleMs: 60_000, timeoutMs: 2_000 });
  // The holder is this live process on this host, so only the age decides.
  const release = await b.lock('k');
  await release();
});

test('fs: a live holder on this host keeps its lock (no takeover)', async (t) => {
  const root = tempDir(t);
  const a = new FsLocker({ root });
  const release = await a.lock('k');
  t.after(() => release());
  assert.equal(await new FsLocker({ root }).tryLock('k'), null);
});

test('fs: an empty lock file (a holder killed before it wrote its record) is taken over after seconds, not staleMs', async (t) => {
  const root = tempDir(t);
  mkdirSync(join(root, 'locks'));
  const file = join(root, 'locks', 'k.lock');
  writeFileSync(file, '');
  const old = new Date(Date.now() - 10_000);
  utimesSync(file, old, old);
  const release = await new FsLocker({ root, staleMs: 600_000, timeoutMs: 2_000 }).lock('k');
  await release();
});
