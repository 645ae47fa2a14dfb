import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createPrivateKey, X509Certificate } from 'node:crypto';
import { once } from 'node:events';
import * as fs from 'node:fs';
import { readdirSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import type { CertgateError } from '../../src/errors.ts';
import { checkIssuable } from '../../src/manager/policy.ts';
import { createCertificate } from '../../src/pki/generate.ts';
import { FsLocker, FsStore } from '../../src/store/fs.ts';
import { canonicalName } from '../../src/store/names.ts';
import { tempDir } from '../helpers/tmp.ts';

test('names are validated before they become paths', () => {
  assert.equal(canonicalName('App.Example.COM.'), 'app.example.com');
  assert.equal(canonicalName('*.example.com'), '*.example.com');
  assert.equal(canonicalName('bücher.example'), 'xn--bcher-kva.example');
  const bad = [
    '../etc',
    '*.*',
    'a/b.example.com',
    `${'a'.repeat(64)}.example.com`,
    `${'a.'.repeat(150)}com`,
    'a..b.com',
    '-a.example.com',
    'single',
    '',
    'a.*.example.com',
  ];
  for (const b of bad)
    assert.throws(
      () => canonicalName(b),
      (e: CertgateError) => e.code === 'E_DOMAIN_INVALID' && Boolean(e.fix),
      b,
    );
});

test('policy: public names only; IPs only when the CA supports them', () => {
  assert.equal(checkIssuable('app.example.com'), 'app.example.com');
  assert.equal(checkIssuable('user.github.io'), 'user.github.io');
  assert.throws(
    () => checkIssuable('com'),
    (e: CertgateError) => e.code === 'E_DOMAIN_INVALID',
  );
  for (const b of ['co.uk', 'db.internal', 'printer.local', 'app.localhost', 'x.test']) {
    assert.throws(
      () => checkIssuable(b),
      (e: CertgateError) => e.code === 'E_DOMAIN_NOT_ALLOWED',
      b,
    );
  }
  assert.throws(
    () => checkIssuable('192.0.2.1'),
    (e: CertgateError) => e.code === 'E_DOMAIN_NOT_ALLOWED' && /IP address/.test(e.message),
  );
  assert.equal(checkIssuable('192.0.2.1', { allowIp: true }), '192.0.2.1');
});

/** A stored certificate's meta with fixed fields: what the index and scan read. */
const meta = (n: string) => ({
  name: n,
  names: [n],
  issuer: 't',
  serialNumber: 'AA',
  notBefore: '2026-01-01T00:00:00.000Z',
  notAfter: '2026-04-01T00:00:00.000Z',
  issuedAt: '2026-01-01T00:00:00.000Z',
  directory: 't',
  accountUrl: null,
  keyType: 'ec-p256',
  profile: null,
  ari: null,
});

async function pair(serial: string) {
  const c = await createCertificate({ subject: `CN=crash-${serial}.example.com`, dns: [`crash-${serial}.example.com`] });
  return { certPem: c.certPem, keyPem: c.keyPem, serial };
}

test('killed mid-write, again and again: the store holds the old pair or the new pair, never a mix', async (t) => {
  const root = tempDir(t);
  const pairs = await Promise.all(['A', 'B', 'C'].map(pair));
  const name = 'crash.example.com';
  const store = new FsStore({ root });
  for (let round = 0; round < 12; round++) {
    const child = spawn(process.execPath, ['--import', 'tsx', join(import.meta.dirname, 'crash-writer.ts'), root, name, JSON.stringify(pairs)], {
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    await once(child.stdout, 'data');
    await new Promise((r) => setTimeout(r, 20 + round * 13));
    child.kill('SIGKILL');
    await once(child, 'exit');
    const b = await store.getBundle(name);
    if (!b) continue; // killed before the first write completed
    const cert = new X509Certificate(b.certPem);
    assert.ok(cert.checkPrivateKey(createPrivateKey(b.keyPem)), `round ${round}: the key belongs to the certificate`);
    const expected = pairs.find((p) => p.certPem === b.certPem);
    assert.ok(expected, `round ${round}: a whole certificate`);
    assert.equal(b.meta.serialNumber, expected?.serial, `round ${round}: meta of the same pair`);
    assert.equal(statSync(store.filePaths(name).key).mode & 0o777, 0o600);
  }
  const versions = readdirSync(join(root, 'certificates', '.versions', name));
  assert.ok(versions.length <= 3, `old versions are cleaned up (${versions.length} left)`);
});

test('the index: scan reads it, survives a torn last line, and is rebuilt when missing', async (t) => {
  const root = tempDir(t);
  const store = new FsStore({ root });
  const p = await pair('I');
  await store.putBundle('a.example.com', { ...p, meta: meta('a.example.com') });
  await store.putBundle('b.example.com', { ...p, meta: meta('b.example.com') });
  await store.deleteBundle('a.example.com');
  writeFileSync(join(root, 'certificates', 'index.log'), `${fs.readFileSync(join(root, 'certificates', 'index.log'), 'utf8')}{"name":"torn`);
  assert.deepEqual(
    (await store.scan()).map((e) => e.name),
    ['b.example.com'],
  );
  fs.rmSync(join(root, 'certificates', 'index.log'));
  assert.deepEqual(
    (await new FsStore({ root }).scan()).map((e) => e.name),
    ['b.example.com'],
  );
});

test('locks: exclusive, released, and a stale lock of a dead holder is taken over', async (t) => {
  const root = tempDir(t);
  const locker = new FsLocker({ root, staleMs: 300, pollMs: 10 });
  const release = await locker.lock('issue-x');
  let second = false;
  const waiting = locker.lock('issue-x').then((r) => {
    second = true;
    return r;
  });
  await new Promise((r) => setTimeout(r, 100));
  assert.equal(second, false, 'the second waits');
  await release();
  const r2 = await waiting;
  assert.equal(second, true);
  await r2();
  // a holder that died: its lock file stops being refreshed and goes stale
  writeFileSync(join(root, 'locks', 'issue-y.lock'), '{"pid":1}');
  const past = new Date(Date.now() - 10_000);
  fs.utimesSync(join(root, 'locks', 'issue-y.lock'), past, past);
  const r3 = await locker.lock('issue-y');
  await r3();
  const short = new FsLocker({ root, staleMs: 60_000, pollMs: 10, timeoutMs: 100 });
  const held = await short.lock('issue-z');
  await assert.rejects(short.lock('issue-z'), (e: CertgateError) => e.code === 'E_LOCK_TIMEOUT');
  await held();
});

test('sweep removes what a killed writer left (a version never swapped in, temp files) and keeps the live pair and young work', async (t) => {
  const root = tempDir(t);
  const store = new FsStore({ root });
  const name = 'sweep.example.com';
  const p = await pair('S');
  await store.putBundle(name, { ...p, meta: meta(name) });
  const certs = join(root, 'certificates');
  const stray = join(certs, '.versions', name, 'zzz-00000000');
  fs.mkdirSync(stray, { recursive: true });
  writeFileSync(join(stray, 'privkey.pem'), 'half');
  const link = join(certs, `.${name}.0123456789ab.link`);
  fs.symlinkSync('.versions/x/y', link);
  const tmp = join(certs, `.index.log.abcdef012345.tmp`);
  writeFileSync(tmp, 'x');
  const young = join(certs, `.other.example.com.fedcba987654.tmp`);
  writeFileSync(young, 'in progress');
  const past = new Date(Date.now() - 3_600_000);
  for (const f of [stray, tmp]) fs.utimesSync(f, past, past);
  fs.lutimesSync(link, past, past);
  const removed = await store.sweep();
  assert.deepEqual(removed.sort(), [link, stray, tmp].sort());
  assert.ok(fs.existsSync(young), 'a temp file younger than a minute is a live writer: kept');
  const b = await store.getBundle(name);
  assert.equal(b?.certPem, p.certPem, 'the live pair is untouched');
});
