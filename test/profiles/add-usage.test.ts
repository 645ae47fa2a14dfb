/**
 * `resources add` with two flags that say the same thing two ways: a usage error (exit 2),
 * not one of them silently dropped, and nothing written.
 */
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { run } from '../../src/cli/run.ts';
import { fakeIo } from '../helpers/io.ts';
import { tempDir } from '../helpers/tmp.ts';

async function add(t: Parameters<typeof tempDir>[0], flags: string[]) {
  const dir = tempDir(t);
  const data = join(dir, 'data');
  const io = fakeIo({ cwd: dir, env: { CERTGATE_DATA: data } });
  const code = await run(['resources', 'add', 'db', ...flags], io);
  return { code, io, written: existsSync(join(data, 'resources', 'db.yaml')) };
}

test('resources add --password-env with --password-file: E_USAGE, nothing written', async (t) => {
  const r = await add(t, ['--kind', 'postgres', '--host', 'db.internal', '--user', 'app', '--password-env', 'DB_PW', '--password-file', 'pw.txt']);
  assert.equal(r.code, 2);
  assert.match(r.io.stderr, /^error E_USAGE: --password-env and --password-file both given.*\n {2}fix: give the password one way/);
  assert.equal(r.written, false);
});

test('resources add --url with --host: E_USAGE, nothing written', async (t) => {
  const r = await add(t, ['--kind', 'https', '--url', 'https://api.internal/health', '--host', 'other.internal']);
  assert.equal(r.code, 2);
  assert.match(r.io.stderr, /^error E_USAGE: --url and --host both given.*\n {2}fix: give --url URL/);
  assert.equal(r.written, false);
});

test('resources add --client-key with --client-key-env: E_USAGE', async (t) => {
  const r = await add(t, ['--kind', 'redis', '--host', 'r', '--client-key', 'k.pem', '--client-key-env', 'KEY']);
  assert.equal(r.code, 2);
  assert.match(r.io.stderr, /^error E_USAGE: --client-key and --client-key-env both given/);
});
