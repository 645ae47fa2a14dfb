/**
 * The handshake cache: a certificate serves every name it lists, exact beats wildcard beats
 * default, expired entries are skipped, replacing a certificate drops the names it no longer
 * lists, and the secure contexts stay within their bound.
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { test } from 'node:test';
import { CertCache } from '../../src/cache/cache.ts';
import { LocalCa } from '../../src/localca/local-ca.ts';
import { decodeCertificate } from '../../src/pki/certificate.ts';
import { createCertificate } from '../../src/pki/generate.ts';
import { parseCertificates } from '../../src/pki/parse.ts';
import { certMeta } from '../../src/store/meta.ts';
import type { CertificateBundle } from '../../src/store/store.ts';
import { tempDir } from '../helpers/tmp.ts';

const ca = await createCertificate({ subject: 'CN=Cache Test CA', ca: true });

async function bundle(names: string[], notAfter = new Date(Date.now() + 86_400_000)): Promise<CertificateBundle> {
  const leaf = await createCertificate({ subject: `CN=${names[0]}`, issuer: ca, dns: names, notAfter });
  const certPem = leaf.certPem + ca.certPem;
  return { certPem, keyPem: leaf.keyPem, meta: certMeta(certPem, { name: names[0] as string, names, directory: 'test', keyType: 'ec-p256' }) };
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
