/**
 * Two resource files that give the same name: neither is used, everywhere resources are read,
 * and the error names both files (before, the one that sorted first won without a word).
 */
import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { run } from '../../src/cli/run.ts';
import type { CertgateError } from '../../src/errors.ts';
import { resourceClient } from '../../src/profiles/client.ts';
import { fakeIo } from '../helpers/io.ts';
import { tempDir } from '../helpers/tmp.ts';

function setup(t: Parameters<typeof tempDir>[0]) {
  const dir = tempDir(t);
  const data = join(dir, 'data');
  mkdirSync(join(data, 'resources'), { recursive: true });
  // "a-copy.yaml" sorts first: it is the one that used to win.
  writeFileSync(join(data, 'resources', 'a-copy.yaml'), 'name: orders-db\nkind: redis\nhost: wrong.internal\n');
  writeFileSync(join(data, 'resources', 'orders-db.yaml'), 'kind: redis\nhost: right.internal\n');
  writeFileSync(join(data, 'resources', 'other.yaml'), 'kind: redis\nhost: other.internal\n');
  return { data, io: () => fakeIo({ cwd: dir, env: { CERTGATE_DATA: data } }) };
}

const BOTH = /E_RESOURCE_DUPLICATE: the resource name "orders-db" is used by resources\/a-copy\.yaml and resources\/orders-db\.yaml/;

test('resources list: a name in two files is a problem naming both, and neither is listed', async (t) => {
  const { io } = setup(t);
  const l = io();
  assert.equal(await run(['resources', 'list', '--json'], l), 1);
  const out = JSON.parse(l.stdout);
  assert.deepEqual(
    out.resources.map((r: { name: string }) => r.name),
    ['other'],
  );
  assert.equal(out.problems[0].code, 'E_RESOURCE_DUPLICATE');
  assert.match(`E_RESOURCE_DUPLICATE: ${out.problems[0].message}`, BOTH);
});

for (const argv of [
  ['resources', 'show', 'orders-db'],
  ['resources', 'test', 'orders-db', '--timeout', '500'],
  ['resources', 'export'],
]) {
  test(`${argv.slice(0, 2).join(' ')}: refuses a duplicated name with a coded error naming both files`, async (t) => {
    const { io } = setup(t);
    const x = io();
    assert.equal(await run(argv, x), 2);
    assert.match(x.stderr, new RegExp(`^error ${BOTH.source}`));
    assert.match(x.stderr, /\n {2}fix: keep one/);
  });
}

test('resources add without --replace does not write over a duplicated name', async (t) => {
  const { io } = setup(t);
  const x = io();
  assert.equal(await run(['resources', 'add', 'orders-db', '--kind', 'redis', '--host', 'third.internal'], x), 2);
  assert.match(x.stderr, /E_RESOURCE_EXISTS/);
});

test('resourceClient refuses a duplicated name', async (t) => {
  const { data } = setup(t);
  await assert.rejects(
    () => resourceClient('orders-db', { dataDir: data, env: {} }),
    (err: CertgateError) => err.code === 'E_RESOURCE_DUPLICATE' && /a-copy\.yaml/.test(err.message) && /orders-db\.yaml/.test(err.message),
  );
});
