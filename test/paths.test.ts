import assert from 'node:assert/strict';
import { existsSync, symlinkSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { run } from '../src/cli/run.ts';
import { CertgateError } from '../src/errors.ts';
import { dataPaths } from '../src/paths.ts';
import { mountSkip, tinyDisk } from './helpers/disk.ts';
import { fakeIo } from './helpers/io.ts';
import { tempDir } from './helpers/tmp.ts';

const refused = (e: unknown) => e instanceof CertgateError && e.code === 'E_DATA_DIR' && Boolean(e.fix);

test('a data directory under /proc, /sys or /dev is refused', () => {
  for (const dir of ['/proc/x', '/proc', '/sys/kernel/certgate', '/dev/shm/certgate']) assert.throws(() => dataPaths({ CERTGATE_DATA: dir }), refused, dir);
  assert.equal(dataPaths({ CERTGATE_DATA: '/processes/x' }).root, '/processes/x');
});

test('a data directory reached through a symlink into /proc is refused too', (t) => {
  const link = join(tempDir(t), 'data');
  symlinkSync('/proc/self', link);
  assert.throws(() => dataPaths({ CERTGATE_DATA: join(link, 'certgate') }), refused);
});

test('CERTGATE_DATA=/proc/x: the command ends at once with E_DATA_DIR and creates nothing', { timeout: 5000 }, async () => {
  const io = fakeIo({ env: { CERTGATE_DATA: '/proc/certgate-test' } });
  assert.equal(await run(['resources', 'add', 'db', '--kind', 'postgres', '--host', 'db.internal'], io), 2);
  assert.match(io.stderr, /error E_DATA_DIR: the data directory \/proc\/certgate-test is under \/proc/);
  assert.ok(!existsSync('/proc/certgate-test'));
});

test('a read-only data directory is E_STORE with a fix, not E_INTERNAL', { skip: mountSkip }, async (t) => {
  const data = tinyDisk(t, { readOnly: true });
  const io = fakeIo({ env: { CERTGATE_DATA: data } });
  assert.equal(await run(['resources', 'add', 'db', '--kind', 'postgres', '--host', 'db.internal'], io), 2);
  assert.match(io.stderr, /error E_STORE: cannot write .*EROFS\n {2}fix: the data directory is on a read-only file system/);
});
