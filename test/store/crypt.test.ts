/**
 * Private keys encrypted at rest: the envelope on disk, the round trip through the repository,
 * plain and encrypted values side by side, and every way a read can fail (no key, the wrong key,
 * an envelope moved to another name or kind, a damaged one), each with its code and fix, and
 * never the key in a message.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { run } from '../../src/cli/run.ts';
import type { CertgateError } from '../../src/errors.ts';
import { createAcmeEngines } from '../../src/runtime/acme.ts';
import { buildRuntime } from '../../src/runtime/server.ts';
import { ARMOR_BEGIN, decodeStoreKey, Keyring, parseStoreKey, storeKeyId } from '../../src/store/crypt.ts';
import { FsStore } from '../../src/store/fs.ts';
import { startServe as startServeProcess } from '../edge/helpers.ts';
import { freePort } from '../helpers/daemons.ts';
import { cleanEnv } from '../helpers/env.ts';
import { fakeIo } from '../helpers/io.ts';
import { settings } from '../helpers/settings.ts';
import { tempDir } from '../helpers/tmp.ts';
import { b64Key, bundleFor, countingCa, fingerprintOf, hexKey, servedFingerprint } from './crypt-helpers.ts';

const ring = (text: string) => new Keyring({ current: parseStoreKey(text) });
const code = (c: string) => (e: CertgateError) => e.code === c && Boolean(e.fix);

test('store key: 64 hex digits or base64 of 32 bytes (standard, URL-safe, unpadded, with a newline); nothing else', () => {
  const bytes = Buffer.alloc(32, 0xfb);
  for (const text of [
    bytes.toString('hex'),
    bytes.toString('hex').toUpperCase(),
    bytes.toString('base64'),
    bytes.toString('base64url'),
    bytes.toString('base64').replace(/=$/, ''),
    `${bytes.toString('base64')}\n`,
  ])
    assert.deepEqual(decodeStoreKey(text), bytes, text);
  for (const text of [
    '',
    'secret',
    Buffer.alloc(31).toString('hex'),
    Buffer.alloc(33).toString('base64'),
    Buffer.alloc(16).toString('base64'),
    `${bytes.toString('hex')}00`,
  ])
    assert.equal(decodeStoreKey(text), null, text);
  assert.equal(parseStoreKey(bytes.toString('hex')).id, storeKeyId(bytes));
  assert.match(parseStoreKey(bytes.toString('hex')).id, /^[0-9a-f]{16}$/);
  assert.throws(
    () => parseStoreKey('not-a-key-at-all'),
    (e: CertgateError) => e.code === 'E_STORE_KEY' && !e.message.includes('not-a-key-at-all'),
  );
});

test('encrypted at rest: privkey.pem is the envelope (with the key id), getBundle gives the key back', async (t) => {
  const root = tempDir(t);
  const key = hexKey();
  const store = new FsStore({ root, keyring: ring(key) });
  const b = await bundleFor('app.example.com');
  await store.putBundle('app.example.com', b);
  const onDisk = readFileSync(store.filePaths('app.example.com')?.key ?? '', 'utf8');
  assert.ok(onDisk.startsWith(`${ARMOR_BEGIN}\n`));
  assert.match(onDisk, new RegExp(`^Key-Id: ${parseStoreKey(key).id}$`, 'm'));
  assert.match(onDisk, /^Kind: certificate$/m);
  assert.ok(!onDisk.includes('PRIVATE KEY-----'), 'no plain key on disk');
  assert.equal((await store.getBundle('app.example.com'))?.keyPem, b.keyPem);
  assert.equal(readFileSync(store.filePaths('app.example.com').fullchain, 'utf8'), b.certPem, 'the certificate stays plain');
});

test('encrypted at rest: the ACME account key too', async (t) => {
  const root = tempDir(t);
  const store = new FsStore({ root, keyring: ring(b64Key()) });
  const b = await bundleFor('acct.example.com');
  await store.putAccount({ directory: 'https://ca.example/dir', keyPem: b.keyPem, url: null, email: null, createdAt: new Date().toISOString() });
  const [file] = readdirSync(join(root, 'accounts'));
  const raw = JSON.parse(readFileSync(join(root, 'accounts', file as string), 'utf8'));
  assert.ok(raw.keyPem.startsWith(ARMOR_BEGIN));
  assert.match(raw.keyPem, /^Kind: account$/m);
  assert.equal((await store.getAccount('https://ca.example/dir'))?.keyPem, b.keyPem);
});

test('migration: a plain key written before the key was configured still reads; the next write seals it', async (t) => {
  const root = tempDir(t);
  const b = await bundleFor('old.example.com');
  await new FsStore({ root }).putBundle('old.example.com', b);
  const store = new FsStore({ root, keyring: ring(hexKey()) });
  assert.equal((await store.getBundle('old.example.com'))?.keyPem, b.keyPem);
  await store.putBundle('old.example.com', b);
  assert.ok(readFileSync(store.filePaths('old.example.com').key, 'utf8').startsWith(ARMOR_BEGIN));
});

test('no key configured: reading an encrypted key fails with E_STORE_KEY_MISSING and the variable to set', async (t) => {
  const root = tempDir(t);
  await new FsStore({ root, keyring: ring(hexKey()) }).putBundle('app.example.com', await bundleFor('app.example.com'));
  await assert.rejects(
    new FsStore({ root }).getBundle('app.example.com'),
    (e: CertgateError) => code('E_STORE_KEY_MISSING')(e) && /CERTGATE_STORE_KEY/.test(e.fix ?? ''),
  );
});

test('the wrong key: E_STORE_KEY_WRONG names both key ids, never a key', async (t) => {
  const root = tempDir(t);
  const right = hexKey();
  const wrong = hexKey();
  await new FsStore({ root, keyring: ring(right) }).putBundle('app.example.com', await bundleFor('app.example.com'));
  await assert.rejects(new FsStore({ root, keyring: ring(wrong) }).getBundle('app.example.com'), (e: CertgateError) => {
    assert.equal(e.code, 'E_STORE_KEY_WRONG');
    assert.ok(e.message.includes(parseStoreKey(right).id) && e.message.includes(parseStoreKey(wrong).id));
    for (const k of [right, wrong]) assert.ok(!`${e.message}${e.fix}`.includes(k));
    return true;
  });
});

test('bound to its name: an encrypted key moved to another certificate does not open', async (t) => {
  const root = tempDir(t);
  const store = new FsStore({ root, keyring: ring(hexKey()) });
  await store.putBundle('a.example.com', await bundleFor('a.example.com'));
  await store.putBundle('b.example.com', await bundleFor('b.example.com'));
  const a = readFileSync(store.filePaths('a.example.com').key, 'utf8');
  writeFileSync(store.filePaths('b.example.com').key, a);
  await assert.rejects(
    store.getBundle('b.example.com'),
    (e: CertgateError) => code('E_STORE_DECRYPT')(e) && /sealed for certificate a\.example\.com/.test(e.message),
  );
  // The header edited to say b.example.com does not help: the associated data decides.
  writeFileSync(store.filePaths('b.example.com').key, a.replace('Name: a.example.com', 'Name: b.example.com'));
  await assert.rejects(store.getBundle('b.example.com'), code('E_STORE_DECRYPT'));
});

test('bound to its kind: a certificate key sealed as such does not open as an account key', () => {
  const k = ring(hexKey());
  const sealed = k.seal('certificate', 'https://ca.example/dir', 'secret');
  assert.equal(k.open('certificate', 'https://ca.example/dir', sealed, 'x'), 'secret');
  assert.throws(() => k.open('account', 'https://ca.example/dir', sealed, 'x'), code('E_STORE_DECRYPT'));
});

test('a damaged envelope (a flipped ciphertext byte, a cut file) is E_STORE_DECRYPT with the file named', () => {
  const k = ring(hexKey());
  const sealed = k.seal('certificate', 'app.example.com', 'secret');
  const lines = sealed.split('\n');
  const i = lines.indexOf('') + 1;
  const line = lines[i] as string;
  lines[i] = (line[0] === 'A' ? 'B' : 'A') + line.slice(1);
  assert.throws(
    () => k.open('certificate', 'app.example.com', lines.join('\n'), 'certificates/app.example.com/privkey.pem'),
    (e: CertgateError) => code('E_STORE_DECRYPT')(e) && e.message.includes('privkey.pem'),
  );
  assert.throws(() => k.open('certificate', 'app.example.com', sealed.slice(0, 120), 'p'), code('E_STORE_DECRYPT'));
});

test('the node does not start without the key: E_STORE_KEY_MISSING before anything is written or listens', async (t) => {
  const root = tempDir(t);
  await new FsStore({ root, keyring: ring(hexKey()) }).putBundle('app.example.com', await bundleFor('app.example.com'));
  const before = readdirSync(root).sort();
  await assert.rejects(buildRuntime(settings(root, { acmeAgreeTos: true, acmeEmail: 'ops@certgate.dev' })), code('E_STORE_KEY_MISSING'));
  assert.deepEqual(readdirSync(root).sort(), before, 'no local CA, nothing else created');
  await assert.rejects(buildRuntime(settings(root, { storeKey: hexKey() })), code('E_STORE_KEY_WRONG'));
  assert.deepEqual(readdirSync(root).sort(), before);
});

test('the runtime takes the key from settings: a key file works, and a malformed key is refused without echoing it', async (t) => {
  const root = tempDir(t);
  const key = b64Key();
  writeFileSync(join(root, 'key'), `${key}\n`, { mode: 0o600 });
  const { store } = createAcmeEngines(settings(root, { storeKeyFile: join(root, 'key') }), { warn: () => {} });
  await store.putBundle('app.example.com', await bundleFor('app.example.com'));
  assert.ok(readFileSync(store.filePaths('app.example.com')?.key ?? '', 'utf8').startsWith(ARMOR_BEGIN));
  const io = fakeIo({ env: { CERTGATE_DATA: root, CERTGATE_STORE_KEY: 'hunter2-hunter2' } });
  assert.equal(await run(['certs', 'list'], io), 2);
  assert.match(io.stderr, /error E_USAGE: CERTGATE_STORE_KEY=\(redacted\): not 32 random bytes/);
  assert.ok(!io.stderr.includes('hunter2'));
  const both = fakeIo({ env: { CERTGATE_DATA: root, CERTGATE_STORE_KEY: key, CERTGATE_STORE_KEY_FILE: join(root, 'key') } });
  assert.equal(await run(['certs', 'list'], both), 2);
  assert.match(both.stderr, /E_STORE_KEY: .*both the store key and the store key file/);
  assert.ok(!both.stderr.includes(key));
});

test('config show redacts the store key; config check counts the secrets per key id and refuses a store it cannot open', async (t) => {
  const root = tempDir(t);
  const key = hexKey();
  await new FsStore({ root, keyring: ring(key) }).putBundle('app.example.com', await bundleFor('app.example.com'));
  await new FsStore({ root }).putBundle('old.example.com', await bundleFor('old.example.com'));
  const show = fakeIo({ env: { CERTGATE_DATA: root, CERTGATE_STORE_KEY: key } });
  assert.equal(await run(['config', 'show', '--json'], show), 0);
  assert.equal(JSON.parse(show.stdout).settings.storeKey.value, '(redacted)');
  assert.ok(!show.stdout.includes(key));
  const check = fakeIo({ env: { CERTGATE_DATA: root, CERTGATE_STORE_KEY: key } });
  assert.equal(await run(['config', 'check', '--https-port', '0', '--http-port', '0', '--json'], check), 0, check.stderr);
  const id = parseStoreKey(key).id;
  assert.ok(JSON.parse(check.stdout).checks.includes(`store keys: 1 plain, 1 under key ${id}; new keys are encrypted with key ${id}`), check.stdout);
  const none = fakeIo({ env: { CERTGATE_DATA: root } });
  assert.equal(await run(['config', 'check', '--https-port', '0', '--http-port', '0'], none), 2);
  assert.match(none.stderr, /error E_STORE_KEY_MISSING: .*\(1 secret in the store uses that key\)/);
});

test('certgate serve on an encrypted store without its key exits 2 with one error line and its fix, having created nothing', async (t) => {
  const root = tempDir(t);
  await new FsStore({ root, keyring: ring(hexKey()) }).putBundle('app.example.com', await bundleFor('app.example.com'));
  const before = readdirSync(root).sort();
  const bin = join(import.meta.dirname, '..', '..', 'bin', 'certgate.js');
  const r = spawnSync(process.execPath, [bin, 'serve'], {
    env: cleanEnv({ CERTGATE_DATA: root, CERTGATE_HTTPS_PORT: '0', CERTGATE_HTTP_PORT: '0', CERTGATE_HOST: '127.0.0.1', HOME: root }),
    encoding: 'utf8',
    timeout: 30_000,
  });
  assert.equal(r.status, 2, r.stderr);
  const lines = r.stderr.trim().split('\n');
  assert.match(lines[0] as string, /^error E_STORE_KEY_MISSING: certificates\/app\.example\.com\/privkey\.pem is encrypted/);
  assert.match(lines[1] as string, /^ {2}fix: set CERTGATE_STORE_KEY/);
  assert.equal(lines.length, 2);
  assert.deepEqual(readdirSync(root).sort(), before);
});

test('certgate issue on an encrypted store without its key: E_STORE_KEY_MISSING, exit 2, no CA contacted', async (t) => {
  const root = tempDir(t);
  await new FsStore({ root, keyring: ring(hexKey()) }).putBundle('app.example.com', await bundleFor('app.example.com'));
  const ca = await countingCa();
  t.after(() => ca.close());
  const io = fakeIo({ env: { CERTGATE_DATA: root, HOME: root } });
  const code = await run(
    ['issue', 'app.example.com', '--force', '--directory', ca.url, '--email', 'ops@certgate.dev', '--agree-tos', '--http-port', '0', '--https-port', '0'],
    io,
  );
  assert.equal(code, 2);
  assert.match(io.stderr, /^error E_STORE_KEY_MISSING: /);
  assert.equal(ca.connections(), 0);
});

test('serve --workers 2 with a store key file: every worker opens the sealed key and serves the stored certificate', async (t) => {
  const root = tempDir(t);
  const key = b64Key();
  writeFileSync(join(root, 'store.key'), `${key}\n`, { mode: 0o600 });
  const b = await bundleFor('app.example.com');
  await new FsStore({ root, keyring: ring(key) }).putBundle('app.example.com', b);
  const ca = await countingCa();
  t.after(() => ca.close());
  const port = await freePort();
  const serve = startServeProcess(['--workers', '2', '--https-port', String(port), '--http-port', 'off', '--host', '127.0.0.1'], {
    HOME: root,
    CERTGATE_DATA: root,
    CERTGATE_STORE_KEY_FILE: join(root, 'store.key'),
    CERTGATE_ACME_AGREE_TOS: 'true',
    CERTGATE_ACME_EMAIL: 'ops@certgate.dev',
    CERTGATE_ACME_DIRECTORY: ca.url,
  });
  t.after(async () => {
    serve.child.kill('SIGTERM');
    await serve.exited;
  });
  for (let i = 0; i < 300 && !serve.err().includes('https://localhost'); i++) {
    if (serve.child.exitCode !== null) break;
    await new Promise((r) => setTimeout(r, 100));
  }
  assert.match(serve.err(), /2 worker processes/, serve.err());
  for (let i = 0; i < 6; i++) assert.equal(await servedFingerprint(port, 'app.example.com'), fingerprintOf(b.certPem), `connection ${i}`);
  assert.ok(!serve.err().includes(key), 'the key is never logged');
  assert.equal(ca.connections(), 0);
});
