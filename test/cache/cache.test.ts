/**
 * The handshake cache: a certificate serves every name it lists, exact beats wildcard beats
 * default, expired entries are skipped, replacing a certificate drops the names it no longer
 * lists, and the secure contexts stay within their bound.
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { test } from 'node:test';
import { CertCache, keyAlgorithm, SLOT_ECDSA, SLOT_RSA } from '../../src/cache/cache.ts';
import { LocalCa } from '../../src/localca/local-ca.ts';
import { decodeCertificate } from '../../src/pki/certificate.ts';
import { createCertificate } from '../../src/pki/generate.ts';
import { parseCertificates } from '../../src/pki/parse.ts';
import { certMeta } from '../../src/store/meta.ts';
import type { CertificateBundle } from '../../src/store/store.ts';
import { tempDir } from '../helpers/tmp.ts';

const ca = await createCertificate({ subject: 'CN=Cache Test CA', ca: true });

async function bundle(names: string[], notAfter = new Date(Date.now() + 86_400_000), key: 'ec-p256' | 'rsa-2048' = 'ec-p256'): Promise<CertificateBundle> {
  const leaf = await createCertificate({ subject: `CN=${names[0]}`, issuer: ca, dns: names, notAfter, key });
  const certPem = leaf.certPem + ca.certPem;
  return { certPem, keyPem: leaf.keyPem, meta: certMeta(certPem, { name: names[0] as string, names, directory: 'test', keyType: key }) };
}

test('every name a certificate lists is served by it; exact, then wildcard', async () => {
  const cache = new CertCache();
  cache.put('example.com', await bundle(['example.com', 'www.example.com']));
  cache.put('*.apps.example.com', await bundle(['*.apps.example.com']));
  cache.put('one.apps.example.com', await bundle(['one.apps.example.com']));
  assert.equal(cache.resolve('example.com'), 'example.com');
  assert.equal(cache.resolve('WWW.Example.com'), 'example.com', 'a SAN of a stored certificate, any case');
  assert.equal(cache.resolve('two.apps.example.com'), '*.apps.example.com');
  assert.equal(cache.resolve('one.apps.example.com'), 'one.apps.example.com', 'exact beats wildcard');
  assert.equal(cache.resolve('a.b.apps.example.com'), null, 'a wildcard covers one label only');
  assert.equal(cache.resolve('other.org'), null, "no match is the edge's to decide (default certificate, on demand)");
  assert.equal(cache.resolve(''), null);
});

test('replacing or deleting a certificate drops the names it no longer covers; expired ones are skipped', async () => {
  const cache = new CertCache();
  cache.put('example.com', await bundle(['example.com', 'www.example.com', 'old.example.com']));
  cache.put('example.com', await bundle(['example.com', 'www.example.com']));
  assert.equal(cache.resolve('old.example.com'), null);
  assert.equal(cache.resolve('www.example.com'), 'example.com');
  cache.delete('example.com');
  assert.equal(cache.resolve('www.example.com'), null);
  const soon = await bundle(['soon.example.com', 'alias.example.com'], new Date(Date.now() + 2000));
  cache.put('soon.example.com', soon);
  const end = Date.parse(soon.meta.notAfter);
  assert.equal(cache.resolve('alias.example.com', end + 1), null, 'expired: not served');
  assert.equal(cache.resolve('alias.example.com', end - 500), 'soon.example.com');
});

test('secure contexts are built once, reused, and bounded', async () => {
  const cache = new CertCache({ maxContexts: 3 });
  for (let i = 0; i < 5; i++) cache.put(`n${i}.example.com`, await bundle([`n${i}.example.com`]));
  const first = cache.context('n0.example.com');
  assert.ok(first);
  assert.equal(cache.context('n0.example.com'), first, 'the same context object on the next handshake');
  for (let i = 1; i < 5; i++) cache.context(`n${i}.example.com`);
  assert.equal(cache.contextCount, 3);
  assert.equal(cache.size, 5, 'certificates stay; only built contexts are bounded');
  assert.notEqual(cache.context('n0.example.com'), first, 'rebuilt after eviction');
  cache.put('n4.example.com', await bundle(['n4.example.com']));
  assert.equal(cache.contextCount, 2, 'a replaced certificate drops its old context');
});

test('certMeta reads issuer, serial and validity from the leaf; local-CA bundles carry them too', async (t) => {
  const b = await bundle(['meta.example.com']);
  const leaf = decodeCertificate(parseCertificates(Buffer.from(b.certPem))[0]?.der as Buffer).info;
  assert.deepEqual(
    { issuer: b.meta.issuer, serial: b.meta.serialNumber, notBefore: b.meta.notBefore, notAfter: b.meta.notAfter },
    { issuer: 'CN=Cache Test CA', serial: leaf.serialNumber, notBefore: leaf.notBefore, notAfter: leaf.notAfter },
  );
  assert.throws(() => certMeta('not a certificate', { name: 'x', names: ['x'], directory: 'test', keyType: 'ec-p256' }), /E_INPUT_FORMAT|no certificate/);
  const localCa = new LocalCa({ dir: join(tempDir(t), 'local-ca') });
  const local = await localCa.issue(['dev.localhost']);
  const info = decodeCertificate(parseCertificates(Buffer.from(local.certPem))[0]?.der as Buffer).info;
  assert.equal(local.meta.serialNumber, info.serialNumber, 'was empty before');
  assert.equal(local.meta.directory, 'local');
});

test('a name holds an ECDSA and an RSA certificate at once, given in either order; get() is the ECDSA one', async () => {
  const cache = new CertCache();
  const ec = await bundle(['both.example.com']);
  const rsa = await bundle(['both.example.com', 'rsa-alias.example.com'], undefined, 'rsa-2048');
  cache.put('both.example.com', [rsa, ec]);
  assert.equal(cache.get('both.example.com'), ec);
  assert.deepEqual(cache.bundles('both.example.com'), [ec, rsa]);
  assert.equal(cache.resolve('rsa-alias.example.com'), 'both.example.com', 'the names of both are indexed');
  const ctx = cache.context('both.example.com');
  assert.equal(ctx?.slots, SLOT_ECDSA | SLOT_RSA);
  assert.ok(ctx?.alt, 'one context per key algorithm');
  cache.put('both.example.com', ec);
  assert.deepEqual(cache.bundles('both.example.com'), [ec], 'a put replaces what the name held');
  assert.equal(cache.resolve('rsa-alias.example.com'), null);
});

test('two certificates of one key algorithm for one name are refused', async () => {
  const cache = new CertCache();
  const a = await bundle(['twice.example.com']);
  const b = await bundle(['twice.example.com']);
  assert.throws(
    () => cache.put('twice.example.com', [a, b]),
    (err: Error & { code?: string }) => err.code === 'E_OPTION' && /ECDSA/.test(err.message),
  );
  assert.equal(cache.get('twice.example.com'), undefined);
});

test("of a name's two certificates, an expired one is left out of the context; the other still serves", async () => {
  const cache = new CertCache();
  const ec = await bundle(['half.example.com'], new Date(Date.now() + 60_000));
  const rsa = await bundle(['half.example.com'], new Date(Date.now() + 86_400_000), 'rsa-2048');
  cache.put('half.example.com', [ec, rsa]);
  const later = Date.now() + 120_000;
  assert.equal(cache.resolve('half.example.com', later), 'half.example.com');
  assert.equal(cache.context('half.example.com', later)?.slots, SLOT_RSA);
});

test('the key algorithm comes from the key type, or from the key when the type says nothing', async () => {
  const rsa = await bundle(['algo.example.com'], undefined, 'rsa-2048');
  assert.equal(keyAlgorithm(rsa), 'rsa');
  assert.equal(keyAlgorithm({ ...rsa, meta: { ...rsa.meta, keyType: 'imported' } }), 'rsa');
  const ec = await bundle(['algo.example.com']);
  assert.equal(keyAlgorithm({ ...ec, meta: { ...ec.meta, keyType: '' } }), 'ecdsa');
});

test("putAlongside replaces the certificate of its key algorithm and keeps the name's other one", async () => {
  const cache = new CertCache();
  const ec = await bundle(['along.example.com']);
  const rsa = await bundle(['along.example.com'], undefined, 'rsa-2048');
  cache.putAlongside('along.example.com', ec);
  cache.putAlongside('along.example.com', rsa);
  assert.deepEqual(cache.bundles('along.example.com'), [ec, rsa]);
  const renewed = await bundle(['along.example.com']);
  cache.putAlongside('along.example.com', renewed);
  assert.deepEqual(cache.bundles('along.example.com'), [renewed, rsa]);
});
