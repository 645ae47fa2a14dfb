import assert from 'node:assert/strict';
import { test } from 'node:test';
import { decodeCertificate } from '../../src/pki/certificate.ts';
import { createCertificate } from '../../src/pki/generate.ts';
import { lintCertificate } from '../../src/pki/lint.ts';
import { makePki } from '../helpers/pki.ts';

const DAY = 86_400_000;
const pki = await makePki();
const now = new Date();

async function codes(spec: Parameters<typeof createCertificate>[0], endEntity = true): Promise<string[]> {
  const c = await createCertificate(spec);
  return lintCertificate(decodeCertificate(c.der), 0, { now, endEntity }).map((f) => `${f.code}:${f.severity}`);
}

test('a good leaf has no findings', async () => {
  assert.deepEqual(await codes({ subject: 'CN=ok.test', issuer: pki.inter, dns: ['ok.test'] }), []);
});

test('expired, not yet valid, and expiring soon', async () => {
  assert.deepEqual(
    await codes({ subject: 'CN=x', issuer: pki.inter, dns: ['x'], notBefore: new Date(Date.now() - 100 * DAY), notAfter: new Date(Date.now() - 10 * DAY) }),
    ['CERT_EXPIRED:error'],
  );
  assert.deepEqual(await codes({ subject: 'CN=x', issuer: pki.inter, dns: ['x'], notBefore: new Date(Date.now() + 3 * DAY) }), ['CERT_NOT_YET_VALID:error']);
  assert.deepEqual(await codes({ subject: 'CN=x', issuer: pki.inter, dns: ['x'], notAfter: new Date(Date.now() + 10 * DAY) }), ['CERT_EXPIRING_SOON:warning']);
});

test('a certificate a few minutes in the future points at the clock', async () => {
  const c = await createCertificate({ subject: 'CN=x', issuer: pki.inter, dns: ['x'], notBefore: new Date(Date.now() + 5 * 60_000) });
  const [f] = lintCertificate(decodeCertificate(c.der), 0, { now, endEntity: true });
  assert.equal(f?.code, 'CERT_NOT_YET_VALID');
  assert.match(f?.fix ?? '', /clock/);
});

test('RSA under 2048 bits, SHA-1 signatures, no SAN, CA without keyCertSign', async () => {
  assert.deepEqual(await codes({ subject: 'CN=x', key: 'rsa-1024', dns: ['x'], issuer: pki.inter }), ['WEAK_KEY:warning']);
  const rsaCa = await createCertificate({ subject: 'CN=RSA CA', key: 'rsa-2048', ca: true });
  assert.deepEqual(await codes({ subject: 'CN=x', issuer: rsaCa, dns: ['x'], hash: 'SHA-1' }), ['WEAK_SIGNATURE:warning']);
  assert.deepEqual(await codes({ subject: 'CN=cn-only.test', issuer: pki.inter }), ['NO_SAN:warning']);
  assert.deepEqual(await codes({ subject: 'CN=Odd CA', ca: true, keyUsage: ['digitalSignature'] }, false), ['CA_WITHOUT_KEYCERTSIGN:warning']);
  assert.deepEqual(await codes({ subject: 'CN=x', issuer: pki.inter, dns: ['x'], extendedKeyUsage: ['clientAuth'] }), ['NOT_FOR_SERVER_AUTH:warning']);
});

test('a self-signed root signed with SHA-1 is not flagged: its signature is never checked', async () => {
  const root = await createCertificate({ subject: 'CN=Old Root', key: 'rsa-2048', ca: true, hash: 'SHA-1' });
  assert.deepEqual(lintCertificate(decodeCertificate(root.der), 0, { now, endEntity: false }), []);
});
