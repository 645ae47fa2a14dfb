import assert from 'node:assert/strict';
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { run } from '../src/cli/run.ts';
import { CertgateError } from '../src/errors.ts';
import { atomicWrite } from '../src/fsutil.ts';
import { mountSkip, tinyDisk } from './helpers/disk.ts';
import { fakeIo } from './helpers/io.ts';
import { makePki } from './helpers/pki.ts';

const pki = await makePki();

function fill(dir: string): void {
  try {
    writeFileSync(join(dir, 'filler'), Buffer.alloc(1024 * 1024));
  } catch {
    // ENOSPC: full, as wanted
  }
}

const skip = mountSkip;

test('a write that fails on a full disk leaves no temp file and the old file intact', { skip }, async (t) => {
  const disk = tinyDisk(t);
  const target = join(disk, 'a.pem');
  writeFileSync(target, 'old content');
  await assert.rejects(
    atomicWrite(target, Buffer.alloc(256 * 1024, 0x41)),
    (e: unknown) => e instanceof CertgateError && e.code === 'E_STORE' && /ENOSPC/.test(e.message) && /free disk space/.test(e.fix ?? ''),
  );
  assert.deepEqual(readdirSync(disk), ['a.pem']);
  assert.equal(readFileSync(target, 'utf8'), 'old content');
});

test('trust add on a full disk: E_WRITE with the fix, and nothing left in ca-certs', { skip }, async (t) => {
  const data = tinyDisk(t);
  mkdirSync(join(data, 'ca-certs'));
  writeFileSync(join(data, 'ca.pem'), pki.root.certPem);
  fill(data);
  const io = fakeIo({ cwd: data, env: { CERTGATE_DATA: data } });
  assert.equal(await run(['trust', 'add', 'ca.pem', '--yes'], io), 2);
  assert.match(io.stderr, /error E_WRITE: cannot write .*ENOSPC\n {2}fix: free disk space/);
  assert.deepEqual(readdirSync(join(data, 'ca-certs')), []);
});

test('a write into a read-only directory is E_STORE with a fix, and leaves nothing', { skip }, async (t) => {
  const disk = tinyDisk(t, { readOnly: true });
  await assert.rejects(
    atomicWrite(join(disk, 'x.json'), '{}'),
    (e: unknown) => e instanceof CertgateError && e.code === 'E_STORE' && /EROFS/.test(e.message) && /read-only/.test(e.fix ?? ''),
  );
  assert.deepEqual(readdirSync(disk), []);
});
