/**
 * The handshake cache: a certificate serves every name it lists, exact beats wildcard beats
 * default, expired entries are skipped, replacing a certificate drops the names it no longer
 * lists, and the secure contexts stay within their bound.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { CertCache } from '../../src/cache/cache.ts';
import { createCertificate } from '../../src/pki/generate.ts';
import type { CertificateBundle } from '../../src/store/store.ts';

const ca = await createCertificate({ subject: 'CN=Cache Test CA', ca: true });

async function bundle(names: string[], notAfter = new Date(Date.now() + 86_400_000)): Promise<CertificateBundle> {
  const leaf = await createCertificate({ subject: `CN=${names[0]}`, issuer: ca, dns: names, notAfter });
  return {
    certPem: leaf.certPem + ca.certPem,
    keyPem: leaf.keyPem,
    meta: {
      name: names[0] as string,
      names,
      issuer: 'CN=Cache Test CA',
      serialNumber: '01',
      notBefore: new Date(Date.now() - 3600_000).toISOString(),
      notAfter: notAfter.toISOString(),
      issuedAt: new Date().toISOString(),
      directory: 'test',
      accountUrl: null,
      keyType: 'ec-p256',
      profile: null,
      ari: null,
    },
  };
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
  const past = new Date(Date.now() + 1000);
  cache.put('soon.example.com', await bundle(['soon.example.com', 'alias.example.com'], past));
  assert.equal(cache.resolve('alias.example.com', past.getTime() + 1), null, 'expired: not served');
  assert.equal(cache.resolve('alias.example.com', past.getTime() - 500), 'soon.example.com');
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
