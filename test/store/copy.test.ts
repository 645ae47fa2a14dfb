/**
 * `certgate store copy`: an installation moves without reissuing. Every key arrives byte for
 * byte (encrypted keys as the same envelopes), private files stay private, the target is
 * verified by reading it back, a non-empty target is refused unless --force, and `serve` on
 * the copy serves the same certificate without a CA being contacted.
 */
import assert from 'node:assert/strict';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { run } from '../../src/cli/run.ts';
import type { CertgateError } from '../../src/errors.ts';
import { copyStore, storeDigest } from '../../src/store/copy.ts';
import { Keyring, parseStoreKey } from '../../src/store/crypt.ts';
import { FsStore } from '../../src/store/fs.ts';
import { FsStorage } from '../../src/store/fs-storage.ts';
import { openStorage } from '../../src/store/open.ts';
import { fakeIo } from '../helpers/io.ts';
import { tempDir } from '../helpers/tmp.ts';
import { bundleFor, countingCa, fingerprintOf, hexKey, servedFingerprint, startServe } from './crypt-helpers.ts';

const NAMES = ['app.example.com', '*.example.org', 'api.example.net'];

/** A store with certificates (one renewed: a second version), state, events, an account and the registry. */
async function populated(root: string, keyring?: Keyring): Promise<FsStore> {
  const store = new FsStore({ root, ...(keyring ? { keyring } : {}) });
  for (const n of NAMES) await store.putBundle(n, await bundleFor(n));
  await store.putBundle(NAMES[0] as string, await bundleFor(NAMES[0] as string));
  await store.putState(NAMES[1] as string, {
    attempts: 2,
    lastError: { code: 'E_ACME_CHALLENGE', message: 'x', at: new Date().toISOString() },
    nextAttemptAt: null,
    flagged: false,
  });
  await store.appendEvent({ at: new Date().toISOString(), name: NAMES[0] as string, type: 'cert_obtained', message: 'obtained' });
  await store.putAccount({
    directory: 'https://ca.example/dir',
    keyPem: (await bundleFor('acct.example.com')).keyPem,
    url: 'https://ca.example/acct/1',
    email: null,
    createdAt: new Date().toISOString(),
  });
  await store.putDocument('domains', { main: NAMES[0], custom: [NAMES[2]] });
  return store;
}

async function copyCli(args: string[]): Promise<{ code: number; out: string; err: string }> {
  const io = fakeIo();
  const code = await run(['store', 'copy', ...args], io);
  return { code, out: io.stdout, err: io.stderr };
}

test('copy fs → fs: every file byte for byte, keys still private, same fingerprints and keys through the repository', async (t) => {
  const from = tempDir(t);
  const to = join(tempDir(t), 'new');
  const src = await populated(from);
  const r = await copyCli(['--from', from, '--to', to, '--json']);
  assert.equal(r.code, 0, r.err);
  const j = JSON.parse(r.out);
  assert.equal(j.verified, true);
  assert.equal(j.certificates, 3);
  assert.deepEqual(j.differences, []);
  assert.equal(j.keys.accounts, 1);
  const dst = new FsStore({ root: to });
  for (const n of NAMES) {
    const a = src.filePaths(n);
    const b = dst.filePaths(n);
    for (const f of ['fullchain', 'key', 'meta'] as const) assert.deepEqual(readFileSync(b[f]), readFileSync(a[f]), `${n} ${f}`);
    assert.equal(statSync(b.key).mode & 0o777, 0o600, `${n}: privkey.pem stays 0600`);
    const [x, y] = [await src.getBundle(n), await dst.getBundle(n)];
    assert.equal(fingerprintOf(y?.certPem as string), fingerprintOf(x?.certPem as string));
    assert.equal(y?.keyPem, x?.keyPem);
  }
  const [acct] = readdirSync(join(to, 'accounts'));
  assert.equal(statSync(join(to, 'accounts', acct as string)).mode & 0o777, 0o600);
  assert.deepEqual(await dst.scan(), await src.scan());
  assert.deepEqual(await dst.readEvents(), await src.readEvents());
  assert.deepEqual(await dst.getState(NAMES[1] as string), await src.getState(NAMES[1] as string));
  assert.deepEqual(await dst.getDocument('domains'), await src.getDocument('domains'));
  assert.equal((await storeDigest(new FsStorage({ root: to }))).digest, j.digest, 'the digest is of the source, equal to the target');
});

test('copy: encrypted keys are copied as they are (no key needed); the copy opens with the source key only', async (t) => {
  const from = tempDir(t);
  const to = tempDir(t);
  const key = parseStoreKey(hexKey());
  const src = await populated(from, new Keyring({ current: key }));
  const r = await copyCli(['--from', from, '--to', to]);
  assert.equal(r.code, 0, r.err);
  assert.match(r.out, /^copied 3 certificates, \d+ keys/);
  assert.match(r.out, /verified: the target reads back identical/);
  for (const n of NAMES) assert.deepEqual(readFileSync(new FsStore({ root: to }).filePaths(n).key), readFileSync(src.filePaths(n).key));
  assert.equal(
    (await new FsStore({ root: to, keyring: new Keyring({ current: key }) }).getBundle(NAMES[0] as string))?.keyPem,
    (await src.getBundle(NAMES[0] as string))?.keyPem,
  );
  await assert.rejects(new FsStore({ root: to }).getBundle(NAMES[0] as string), (e: CertgateError) => e.code === 'E_STORE_KEY_MISSING');
});

test('copy refuses a non-empty target (E_STORE_NOT_EMPTY, exit 2, nothing written); --force makes it an exact copy', async (t) => {
  const from = tempDir(t);
  const to = tempDir(t);
  await populated(from);
  const other = new FsStore({ root: to });
  await other.putBundle('stale.example.com', await bundleFor('stale.example.com'));
  await other.putState('stale.example.com', { attempts: 1, lastError: null, nextAttemptAt: null, flagged: false });
  const before = (await storeDigest(new FsStorage({ root: to }))).digest;
  const r = await copyCli(['--from', from, '--to', to]);
  assert.equal(r.code, 2);
  assert.match(r.err, /error E_STORE_NOT_EMPTY: .* is not empty/);
  assert.match(r.err, /fix: .*--force/);
  assert.equal((await storeDigest(new FsStorage({ root: to }))).digest, before, 'nothing was written');
  const f = await copyCli(['--from', from, '--to', to, '--force', '--json']);
  assert.equal(f.code, 0, f.err);
  const j = JSON.parse(f.out);
  assert.ok(j.removed >= 4, `the stale pair and its state are gone (${j.removed})`);
  assert.equal((await storeDigest(new FsStorage({ root: to }))).digest, (await storeDigest(new FsStorage({ root: from }))).digest);
  assert.equal(await new FsStore({ root: to }).getBundle('stale.example.com'), null);
});

test('copy: usage errors exit 2: no --to, the same store twice, a source that holds nothing', async (t) => {
  const from = tempDir(t);
  assert.match((await copyCli(['--from', from])).err, /error E_USAGE: store copy needs --from and --to/);
  await populated(from);
  assert.match((await copyCli(['--from', from, '--to', `${from}/`])).err, /error E_USAGE: --from and --to are the same store/);
  const empty = tempDir(t);
  const r = await copyCli(['--from', join(empty, 'typo'), '--to', tempDir(t)]);
  assert.equal(r.code, 2);
  assert.match(r.err, /error E_STORE: .*holds no store/);
});

test('openStorage: a path or file:// URL is the filesystem store; postgres:// is the PostgreSQL store, its errors without the password', async (t) => {
  const dir = tempDir(t);
  const a = await openStorage(dir);
  assert.equal(a.describe, dir);
  assert.ok(a.storage instanceof FsStorage);
  assert.equal((await openStorage(`file://${dir}`)).describe, dir);
  // Port 1 on loopback: nothing listens, so the connection layer answers at once.
  for (const url of ['postgres://certgate:s3cret@127.0.0.1:1/certgate', 'postgresql://certgate:s3cret@127.0.0.1:1/certgate'])
    await assert.rejects(openStorage(url), (e: CertgateError) => e.code === 'E_STORE_CONNECT' && !e.message.includes('s3cret'));
  await assert.rejects(openStorage('s3://bucket/x'), (e: CertgateError) => e.code === 'E_STORE_UNSUPPORTED');
  const r = await copyCli(['--from', dir, '--to', 'postgres://u:pw@127.0.0.1:1/x', '--json']);
  assert.equal(r.code, 2);
  assert.equal(JSON.parse(r.out).error.code, 'E_STORE_CONNECT');
  assert.ok(!r.out.includes(':pw@') && !r.err.includes(':pw@'), 'the password is never shown');
});

test('copyStore reports the keys that differ after the copy (a writer on the target meanwhile): verified false, exit 1', async (t) => {
  const from = tempDir(t);
  const to = tempDir(t);
  await populated(from);
  const target = new FsStorage({ root: to });
  // A target whose storeGroup also writes a stray file stands in for a node writing during the copy.
  const meddling = Object.assign(Object.create(target), {
    storeGroup: async (prefix: string, files: Record<string, { value: string | Uint8Array; private?: boolean }>) => {
      await target.storeGroup(prefix, files);
      await target.store('state/intruder.example.com.json', '{}');
    },
  });
  const report = await copyStore(new FsStorage({ root: from }), meddling);
  assert.equal(report.verified, false);
  assert.deepEqual(report.differences, [{ key: 'state/intruder.example.com.json', problem: 'extra' }]);
});

test('an installation moves without reissuing: serve on the copied directory serves the same certificate, no CA contacted', async (t) => {
  const from = tempDir(t);
  const to = tempDir(t);
  const key = hexKey();
  const src = await populated(from, new Keyring({ current: parseStoreKey(key) }));
  const ca = await countingCa();
  t.after(() => ca.close());
  const r = await copyCli(['--from', from, '--to', to]);
  assert.equal(r.code, 0, r.err);
  const { rt, https } = await startServe(to, ca.url, { storeKey: key });
  t.after(() => rt.close());
  for (const n of ['app.example.com', 'api.example.net', 'www.example.org'])
    assert.equal(await servedFingerprint(https, n), fingerprintOf((await src.getBundle(n.replace(/^www\./, '*.')))?.certPem as string), n);
  assert.equal(ca.connections(), 0, 'nothing was asked of a CA');
  const events = await new FsStore({ root: to, keyring: new Keyring({ current: parseStoreKey(key) }) }).readEvents();
  assert.ok(!events.some((e) => e.type === 'cert_obtaining'), 'no order was started');
});

/**
 * A → B → C through `store copy` with store specs only: C equals A byte for byte. The middle is a
 * second directory here; with the PostgreSQL store wired into openStorage it is a postgres:// URL
 * (the lead's one-line change), and the same assertions hold.
 */
async function roundTrip(t: import('node:test').TestContext, middle: string): Promise<void> {
  const a = tempDir(t);
  const c = join(tempDir(t), 'back');
  await populated(a, new Keyring({ current: parseStoreKey(hexKey()) }));
  for (const [from, to] of [
    [a, middle],
    [middle, c],
  ] as const) {
    const r = await copyCli(['--from', from, '--to', to, '--json']);
    assert.equal(r.code, 0, r.err);
    assert.equal(JSON.parse(r.out).verified, true);
  }
  const [x, y] = await Promise.all([storeDigest(new FsStorage({ root: a })), storeDigest(new FsStorage({ root: c }))]);
  assert.equal(y.digest, x.digest);
  for (const n of NAMES) {
    const [p, q] = [new FsStore({ root: a }).filePaths(n), new FsStore({ root: c }).filePaths(n)];
    assert.deepEqual(readFileSync(q.key), readFileSync(p.key), `${n}: the same sealed key`);
    assert.equal(fingerprintOf(readFileSync(q.fullchain, 'utf8')), fingerprintOf(readFileSync(p.fullchain, 'utf8')), `${n}: the same certificate`);
  }
}

test('copy A → B → A′ (directory → store → directory): identical certificates and keys at the end', async (t) => {
  await roundTrip(t, `file://${join(tempDir(t), 'middle')}`);
});
