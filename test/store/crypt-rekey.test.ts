/**
 * `certgate store rekey`: none → key → another key → none, with the node serving the same
 * certificate after every step and no CA contacted; a wrong old key changes nothing; a rekey
 * killed mid-way leaves every pair readable (old or new key) and finishes when run again.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createPrivateKey, X509Certificate } from 'node:crypto';
import { once } from 'node:events';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { run } from '../../src/cli/run.ts';
import { ARMOR_BEGIN, Keyring, parseStoreKey } from '../../src/store/crypt.ts';
import { FsStore } from '../../src/store/fs.ts';
import { cleanEnv } from '../helpers/env.ts';
import { fakeIo } from '../helpers/io.ts';
import { tempDir } from '../helpers/tmp.ts';
import { bundleFor, countingCa, fingerprintOf, hexKey, servedFingerprint, startServe } from './crypt-helpers.ts';

const NAME = 'app.example.com';

async function rekey(env: Record<string, string>, args: string[] = []): Promise<{ code: number; out: string; err: string }> {
  const io = fakeIo({ env });
  const code = await run(['store', 'rekey', '--json', ...args], io);
  return { code, out: io.stdout, err: io.stderr };
}

test('rekey none → key → key2 → none: the same certificate is served after every step, no CA contacted', async (t) => {
  const data = tempDir(t);
  const ca = await countingCa();
  t.after(() => ca.close());
  const b = await bundleFor(NAME);
  const plain = new FsStore({ root: data });
  await plain.putBundle(NAME, b);
  await plain.putAccount({
    directory: ca.url,
    keyPem: (await bundleFor('acct.example.com')).keyPem,
    url: null,
    email: null,
    createdAt: new Date().toISOString(),
  });
  const served = async (over: Record<string, string | undefined>) => {
    const { rt, https } = await startServe(data, ca.url, over);
    try {
      return await servedFingerprint(https, NAME);
    } finally {
      await rt.close();
    }
  };
  assert.equal(await served({}), fingerprintOf(b.certPem));
  const k1 = hexKey();
  const k2 = hexKey();

  const r1 = await rekey({ CERTGATE_DATA: data, CERTGATE_STORE_KEY: k1 });
  assert.equal(r1.code, 0, r1.err);
  const j1 = JSON.parse(r1.out);
  assert.deepEqual(
    [j1.keyId, j1.certificates, j1.accounts, j1.remaining],
    [parseStoreKey(k1).id, { total: 1, rewritten: 1, unchanged: 0 }, { total: 1, rewritten: 1, unchanged: 0 }, 0],
  );
  assert.ok(readFileSync(plain.filePaths(NAME).key, 'utf8').startsWith(ARMOR_BEGIN));
  assert.equal(await served({ storeKey: k1 }), fingerprintOf(b.certPem));

  const again = JSON.parse((await rekey({ CERTGATE_DATA: data, CERTGATE_STORE_KEY: k1 })).out);
  assert.deepEqual(again.certificates, { total: 1, rewritten: 0, unchanged: 1 }, 'a second run rewrites nothing');

  const r2 = await rekey({ CERTGATE_DATA: data, CERTGATE_STORE_KEY: k2, CERTGATE_STORE_KEY_OLD: k1 });
  assert.equal(r2.code, 0, r2.err);
  assert.match(readFileSync(plain.filePaths(NAME).key, 'utf8'), new RegExp(`Key-Id: ${parseStoreKey(k2).id}`));
  assert.equal(await served({ storeKey: k2 }), fingerprintOf(b.certPem));

  const r3 = await rekey({ CERTGATE_DATA: data, CERTGATE_STORE_KEY_OLD: k2 }, ['--decrypt']);
  assert.equal(r3.code, 0, r3.err);
  assert.equal(readFileSync(plain.filePaths(NAME).key, 'utf8'), b.keyPem, 'plain again, byte for byte');
  assert.equal(await served({}), fingerprintOf(b.certPem));
  assert.equal(ca.connections(), 0, 'nothing was asked of a CA');
});

test('rekey without a new key and without --decrypt is refused (E_USAGE, exit 2): it would store keys plain by accident', async (t) => {
  const data = tempDir(t);
  const r = await rekey({ CERTGATE_DATA: data, CERTGATE_STORE_KEY_OLD: hexKey() });
  assert.equal(r.code, 2);
  assert.match(r.err, /error E_USAGE: no store key is configured/);
});

test('rekey with the wrong old key: E_STORE_KEY_WRONG, exit 2, nothing rewritten', async (t) => {
  const data = tempDir(t);
  const k1 = hexKey();
  const store = new FsStore({ root: data, keyring: new Keyring({ current: parseStoreKey(k1) }) });
  for (const n of ['a.example.com', 'b.example.com']) await store.putBundle(n, await bundleFor(n));
  await new FsStore({ root: data }).putBundle('c.example.com', await bundleFor('c.example.com'));
  const before = ['a', 'b', 'c'].map((n) => readFileSync(store.filePaths(`${n}.example.com`).key, 'utf8'));
  const r = await rekey({ CERTGATE_DATA: data, CERTGATE_STORE_KEY: hexKey(), CERTGATE_STORE_KEY_OLD: hexKey() });
  assert.equal(r.code, 2);
  assert.equal(JSON.parse(r.out).error.code, 'E_STORE_KEY_WRONG');
  assert.match(r.err, /\(2 secrets in the store use that key\)/);
  assert.deepEqual(
    ['a', 'b', 'c'].map((n) => readFileSync(store.filePaths(`${n}.example.com`).key, 'utf8')),
    before,
  );
});

test('a rekey killed mid-way: every pair opens with the old and new keys, and running it again finishes it', async (t) => {
  const data = tempDir(t);
  const k1 = parseStoreKey(hexKey());
  const k2 = parseStoreKey(hexKey());
  const old = new FsStore({ root: data, keyring: new Keyring({ current: k1 }) });
  const names = Array.from({ length: 40 }, (_, i) => `n${i}.example.com`);
  const bundles = new Map<string, string>();
  for (const n of names) {
    const b = await bundleFor(n);
    bundles.set(n, b.certPem);
    await old.putBundle(n, b);
  }
  const both = new FsStore({ root: data, keyring: new Keyring({ current: k2, previous: [k1] }) });
  const hex = (k: typeof k1) => k.bytes.toString('hex');
  let partial = 0;
  for (let round = 0; round < 6; round++) {
    const child = spawn(process.execPath, ['--import', 'tsx', join(import.meta.dirname, 'crypt-rekey-child.ts'), data, hex(k1), hex(k2)], {
      stdio: ['ignore', 'pipe', 'inherit'],
      env: cleanEnv(),
    });
    const exited = once(child, 'exit');
    let out = '';
    child.stdout.on('data', (d) => {
      out += d;
    });
    await once(child.stdout, 'data');
    await new Promise((r) => setTimeout(r, 30 + round * 40));
    child.kill('SIGKILL');
    await exited;
    const ids = new Set<string | null>();
    for (const s of await both.secrets()) ids.add(s.keyId);
    if (ids.size > 1) partial++;
    for (const n of names) {
      const b = await both.getBundle(n);
      assert.ok(b, `round ${round}: ${n} is there`);
      assert.equal(b.certPem, bundles.get(n), `round ${round}: ${n} has its own certificate`);
      assert.ok(new X509Certificate(b.certPem).checkPrivateKey(createPrivateKey(b.keyPem)), `round ${round}: ${n}'s key is its certificate's`);
    }
    if (out.includes('done')) break;
  }
  const r = await rekey({ CERTGATE_DATA: data, CERTGATE_STORE_KEY: hex(k2), CERTGATE_STORE_KEY_OLD: hex(k1) });
  assert.equal(r.code, 0, r.err);
  const j = JSON.parse(r.out);
  assert.equal(j.remaining, 0);
  assert.equal(j.certificates.total, 40);
  for (const s of await both.secrets()) assert.equal(s.keyId, k2.id);
  t.diagnostic(`rounds that left a half-rekeyed store: ${partial}; the final run rewrote ${j.certificates.rewritten}`);
});
