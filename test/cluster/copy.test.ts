/**
 * `certgate store copy` between the filesystem and a real PostgreSQL, both ways: an
 * installation moves onto the cluster store and back without reissuing, every certificate and
 * key identical (byte for byte on the filesystem at the end, the same through the repository
 * in between), encrypted keys copied as the same envelopes.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { run } from '../../src/cli/run.ts';
import { createAcmeEngines } from '../../src/runtime/acme.ts';
import { Keyring, parseStoreKey } from '../../src/store/crypt.ts';
import { FsStore } from '../../src/store/fs.ts';
import { openStorage } from '../../src/store/open.ts';
import { Repository } from '../../src/store/repository.ts';
import { fakeIo } from '../helpers/io.ts';
import { settings } from '../helpers/settings.ts';
import { tempDir } from '../helpers/tmp.ts';
import { bundleFor, hexKey } from '../store/crypt-helpers.ts';
import { pgFixture } from '../store/pg-helpers.ts';

const fx = await pgFixture();
test.after(() => fx.close());

const NAMES = ['app.example.com', '*.example.org', 'api.example.net'];

async function copy(from: string, to: string): Promise<{ code: number; json: { verified: boolean; certificates: number } }> {
  const io = fakeIo();
  const code = await run(['store', 'copy', '--from', from, '--to', to, '--json'], io);
  assert.equal(code, 0, io.stderr);
  return { code, json: JSON.parse(io.stdout) };
}

test('copy fs → PostgreSQL → fs: identical certificates and keys at every step, nothing reissued', async (t) => {
  const first = tempDir(t);
  const src = new FsStore({ root: first });
  for (const n of NAMES) await src.putBundle(n, await bundleFor(n));
  const url = await fx.database();

  const there = await copy(first, url);
  assert.equal(there.json.verified, true);
  assert.equal(there.json.certificates, NAMES.length);
  const opened = await openStorage(url);
  try {
    const pgRepo = new Repository(opened.storage);
    for (const n of NAMES) {
      const [a, b] = [await src.getBundle(n), await pgRepo.getBundle(n)];
      assert.equal(b?.certPem, a?.certPem, `${n}: the certificate on PostgreSQL`);
      assert.equal(b?.keyPem, a?.keyPem, `${n}: the key on PostgreSQL`);
    }
    assert.deepEqual(await pgRepo.scan(), await src.scan());
  } finally {
    await opened.close();
  }

  const back = join(tempDir(t), 'back');
  assert.equal((await copy(url, back)).json.verified, true);
  const dst = new FsStore({ root: back });
  for (const n of NAMES) {
    const [a, b] = [src.filePaths(n), dst.filePaths(n)];
    for (const f of ['fullchain', 'key', 'meta'] as const)
      assert.deepEqual(readFileSync(b?.[f] as string), readFileSync(a?.[f] as string), `${n} ${f} byte for byte after the round trip`);
  }
});

test('copy to PostgreSQL keeps encrypted keys sealed (the same envelope; no key needed to copy)', async (t) => {
  const dir = tempDir(t);
  const keyring = new Keyring({ current: parseStoreKey(hexKey()) });
  const src = new FsStore({ root: dir, keyring });
  await src.putBundle(NAMES[0] as string, await bundleFor(NAMES[0] as string));
  const url = await fx.database();
  await copy(dir, url);
  const opened = await openStorage(url);
  try {
    const raw = (await opened.storage.load(`certificates/${NAMES[0]}/privkey.pem`))?.toString('utf8') ?? '';
    assert.equal(raw, readFileSync(src.filePaths(NAMES[0] as string)?.key as string, 'utf8'));
    assert.match(raw, /BEGIN CERTGATE ENCRYPTED KEY/);
    const clear = await new Repository(opened.storage, { keyring }).getBundle(NAMES[0] as string);
    assert.equal(clear?.keyPem, (await src.getBundle(NAMES[0] as string))?.keyPem, 'the key opens with the same store key');
  } finally {
    await opened.close();
  }
});

test('with a store key, the engines on a PostgreSQL store seal every private key they write, and open them again', async (t) => {
  const url = await fx.database();
  const key = hexKey();
  const engines = createAcmeEngines(settings(join(tempDir(t), 'data'), { store: url, storeKey: key }), { warn: () => {} });
  t.after(() => engines.close());
  await engines.ready();
  const name = NAMES[0] as string;
  const bundle = await bundleFor(name);
  await engines.store.putBundle(name, bundle);
  const raw = (await engines.store.storage.load(`certificates/${name}/privkey.pem`))?.toString('utf8') ?? '';
  assert.match(raw, /^-----BEGIN CERTGATE ENCRYPTED KEY-----/);
  assert.ok(!raw.includes(bundle.keyPem.split('\n')[1] as string), 'no line of the key in the row');
  assert.equal((await engines.store.getBundle(name))?.keyPem, bundle.keyPem);
  const without = new Repository(engines.store.storage);
  await assert.rejects(without.getBundle(name), (e: { code?: string }) => e.code === 'E_STORE_KEY_MISSING');
});
