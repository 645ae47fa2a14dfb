import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { run } from '../../src/cli/run.ts';
import { loadResources } from '../../src/profiles/registry.ts';
import { mountSkip, tinyDisk } from '../helpers/disk.ts';
import { fakeIo } from '../helpers/io.ts';
import { tempDir } from '../helpers/tmp.ts';

const doc = (i: number) => `name: r${i}\nkind: postgres\nhost: db${i}.internal\n`;

test('resources import with one bad document writes nothing', async (t) => {
  const dir = tempDir(t);
  writeFileSync(join(dir, 'in.yaml'), [doc(1), doc(2), 'name: r3\nkind: postgress\nhost: x\n', doc(4)].join('---\n'));
  const io = fakeIo({ cwd: dir, env: { CERTGATE_DATA: join(dir, 'data') } });
  assert.equal(await run(['resources', 'import', 'in.yaml'], io), 2);
  assert.match(io.stderr, /^error E_RESOURCE_INVALID: in\.yaml document 3: kind/);
  assert.ok(!existsSync(join(dir, 'data', 'resources')) || readdirSync(join(dir, 'data', 'resources')).length === 0);
});

test('resources import that fails while writing (a full disk) leaves nothing behind', { skip: mountSkip }, async (t) => {
  const data = tinyDisk(t);
  const dir = tempDir(t);
  writeFileSync(join(dir, 'in.yaml'), Array.from({ length: 40 }, (_, i) => doc(i)).join('---\n'));
  const io = fakeIo({ cwd: dir, env: { CERTGATE_DATA: data } });
  assert.equal(await run(['resources', 'import', 'in.yaml'], io), 2);
  assert.match(io.stderr, /^error E_STORE: .*ENOSPC/);
  assert.deepEqual(readdirSync(join(data, 'resources')), []);
});

test('an import interrupted before its commit is undone, one interrupted after it is finished', async (t) => {
  const dir = join(tempDir(t), 'resources');
  mkdirSync(join(dir, '.import-aaaa'), { recursive: true });
  writeFileSync(join(dir, '.import-aaaa', 'half.yaml'), doc(1).replace('r1', 'half'));
  mkdirSync(join(dir, '.import-bbbb'));
  writeFileSync(join(dir, '.import-bbbb', 'done.yaml'), doc(2).replace('r2', 'done'));
  writeFileSync(join(dir, '.import-bbbb', 'COMMIT'), 'moved\ndone\n');
  const { resources } = await loadResources(dir);
  assert.deepEqual(
    resources.map((r) => r.name),
    ['done'],
  );
  assert.deepEqual(readdirSync(dir), ['done.yaml']);
});
