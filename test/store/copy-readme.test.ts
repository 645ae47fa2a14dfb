/**
 * The README's store commands, run as written (bash, the built bin/certgate.js as `certgate`),
 * with only their paths moved under a temporary directory: seal every key, rotate to a new key,
 * copy the installation, list its certificates with the new key.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { Keyring, parseStoreKey } from '../../src/store/crypt.ts';
import { FsStore } from '../../src/store/fs.ts';
import { cleanEnv } from '../helpers/env.ts';
import { tempDir } from '../helpers/tmp.ts';
import { bundleFor, fingerprintOf } from './crypt-helpers.ts';

const root = join(import.meta.dirname, '..', '..');

function readmeBlock(name: string): string {
  const readme = readFileSync(join(root, 'README.md'), 'utf8');
  const m = new RegExp(`<!-- readme-commands:${name} -->\\n\`\`\`sh\\n([\\s\\S]*?)\`\`\`\\n<!-- /readme-commands:${name} -->`).exec(readme);
  assert.ok(m, `README has the ${name} commands block`);
  return m[1] as string;
}

test('README: the store key, rekey and copy commands work as written', async (t) => {
  const tmp = tempDir(t);
  const bin = join(tmp, 'bin');
  mkdirSync(bin);
  writeFileSync(join(bin, 'certgate'), `#!/bin/sh\nexec "${process.execPath}" "${join(root, 'bin', 'certgate.js')}" "$@"\n`, { mode: 0o755 });
  for (const d of ['etc/certgate', 'var/lib/certgate']) mkdirSync(join(tmp, d), { recursive: true });
  const data = join(tmp, 'var/lib/certgate');
  const b = await bundleFor('app.example.com');
  await new FsStore({ root: data }).putBundle('app.example.com', b);
  const script = readmeBlock('store').replace(/\/(etc\/certgate|var\/lib\/certgate|srv\/certgate)/g, `${tmp}/$1`);
  const out = execFileSync('bash', ['-euo', 'pipefail', '-c', script], {
    env: cleanEnv({ PATH: `${bin}:${process.env.PATH ?? ''}`, HOME: tmp }),
    encoding: 'utf8',
  });
  assert.match(out, /rekeyed .*: every private key is now encrypted with key id [0-9a-f]{16}/);
  assert.match(out, /copied 1 certificate, \d+ keys/);
  assert.match(out, /verified: the target reads back identical/);
  assert.match(out, /app\.example\.com/);
  const key = parseStoreKey(readFileSync(join(tmp, 'etc/certgate/store.key.new'), 'utf8'));
  const copied = new FsStore({ root: join(tmp, 'srv/certgate'), keyring: new Keyring({ current: key }) });
  assert.match(readFileSync(copied.filePaths('app.example.com').key, 'utf8'), new RegExp(`Key-Id: ${key.id}`));
  const got = await copied.getBundle('app.example.com');
  assert.equal(got?.keyPem, b.keyPem);
  assert.equal(fingerprintOf(got?.certPem as string), fingerprintOf(b.certPem));
});
