import 'reflect-metadata';
import assert from 'node:assert/strict';
import { test } from 'node:test';
import * as x509 from '@peculiar/x509';
import { decodeCertificate, isIssuerOf } from '../../src/pki/certificate.ts';
import { createCertificate } from '../../src/pki/generate.ts';

const DAY = 86_400_000;

test('decodes every field an operator needs, and agrees with @peculiar/x509', async () => {
  const root = await createCertificate({ subject: 'CN=Decode Root, O=Certgate Tests, C=DE', ca: { pathLength: 1 }, key: 'rsa-2048' });
  const leaf = await createCertificate({
    subject: 'CN=api.example.test, O=Example',
    issuer: root,
    key: 'ec-p384',
    dns: ['api.example.test', '*.api.example.test'],
    ip: ['192.0.2.7', '2001:db8::1'],
    email: ['ops@example.test'],
    caIssuersUrl: 'http://pki.example.test/root.der',
    ocspUrl: 'http://ocsp.example.test',
    crlUrl: 'http://pki.example.test/root.crl',
    hash: 'SHA-384',
    notBefore: new Date(Date.now() - DAY),
    notAfter: new Date(Date.now() + 40.5 * DAY),
  });
  const { info } = decodeCertificate(leaf.der);
  const ref = new x509.X509Certificate(new Uint8Array(leaf.der));
  assert.equal(info.version, 3);
  assert.equal(info.subject, 'CN=api.example.test, O=Example');
  assert.equal(info.subjectCommonName, 'api.example.test');
  assert.equal(info.issuer, 'CN=Decode Root, O=Certgate Tests, C=DE');
  // Whole bytes, as openssl prints it (a first byte 0x0a stays "0A"); the reference may drop that zero.
  assert.equal(info.serialNumber.replace(/^0+/, ''), ref.serialNumber.toUpperCase().replace(/^0+/, ''));
  assert.equal(info.serialNumber.length % 2, 0);
  assert.equal(info.notBefore, ref.notBefore.toISOString());
  assert.equal(info.notAfter, ref.notAfter.toISOString());
  assert.equal(info.daysLeft, 40);
  assert.deepEqual(info.subjectAltNames, {
    dns: ['api.example.test', '*.api.example.test'],
    ip: ['192.0.2.7', '2001:db8::1'],
    email: ['ops@example.test'],
    uri: [],
  });
  assert.deepEqual(info.publicKey, { algorithm: 'ECDSA', bits: 384, curve: 'P-384' });
  assert.equal(info.signatureAlgorithm, 'sha384WithRSAEncryption');
  assert.deepEqual(info.basicConstraints, { ca: false, pathLength: null, critical: true });
  assert.deepEqual(info.keyUsage, ['digitalSignature']);
  assert.deepEqual(info.extendedKeyUsage, ['serverAuth', 'clientAuth']);
  const ski = ref.getExtension(x509.SubjectKeyIdentifierExtension);
  const aki = ref.getExtension(x509.AuthorityKeyIdentifierExtension);
  assert.equal(info.subjectKeyId?.replace(/:/g, '').toLowerCase(), ski?.keyId);
  assert.equal(info.authorityKeyId?.replace(/:/g, '').toLowerCase(), aki?.keyId);
  assert.deepEqual(info.authorityInfoAccess, { ocsp: ['http://ocsp.example.test'], caIssuers: ['http://pki.example.test/root.der'] });
  assert.deepEqual(info.crlDistributionPoints, ['http://pki.example.test/root.crl']);
  const thumb = Buffer.from(await ref.getThumbprint('SHA-256')).toString('hex');
  assert.equal(info.fingerprints.sha256.replace(/:/g, '').toLowerCase(), thumb);
  assert.equal(info.kind, 'leaf');
  assert.equal(info.selfSigned, false);

  const r = decodeCertificate(root.der).info;
  assert.equal(r.kind, 'root');
  assert.deepEqual(r.basicConstraints, { ca: true, pathLength: 1, critical: true });
  assert.deepEqual(r.publicKey, { algorithm: 'RSA', bits: 2048, curve: null });
  assert.deepEqual(r.keyUsage, ['digitalSignature', 'keyCertSign', 'cRLSign']);
  assert.equal(isIssuerOf(decodeCertificate(root.der), decodeCertificate(leaf.der)), true);
  assert.equal(isIssuerOf(decodeCertificate(leaf.der), decodeCertificate(root.der)), false);
});

test('the SPKI pin matches what openssl and curl compute (sha256 of the DER SubjectPublicKeyInfo)', async () => {
  const leaf = await createCertificate({ subject: 'CN=pin.test', dns: ['pin.test'] });
  const { info, x509: node } = decodeCertificate(leaf.der);
  const { createHash } = await import('node:crypto');
  const expected = createHash('sha256')
    .update(node.publicKey.export({ type: 'spki', format: 'der' }))
    .digest('base64');
  assert.equal(info.spkiSha256, expected);
});

test('classifies root, intermediate, leaf and self-signed leaf', async () => {
  const root = await createCertificate({ subject: 'CN=R', ca: true });
  const inter = await createCertificate({ subject: 'CN=I', ca: true, issuer: root });
  const leaf = await createCertificate({ subject: 'CN=L', issuer: inter, dns: ['l.test'] });
  const self = await createCertificate({ subject: 'CN=S', dns: ['s.test'] });
  assert.deepEqual(
    [root, inter, leaf, self].map((c) => decodeCertificate(c.der).info.kind),
    ['root', 'intermediate', 'leaf', 'self-signed-leaf'],
  );
});

test('Ed25519 keys, SCT lists and must-staple are read', async () => {
  const base = await createCertificate({ subject: 'CN=ed.test', key: 'ed25519', dns: ['ed.test'] });
  const info = decodeCertificate(base.der).info;
  assert.equal(info.publicKey.algorithm, 'Ed25519');
  assert.equal(info.signatureAlgorithm, 'Ed25519');
  // An SCT list with two entries and the TLS feature status_request, added as raw extensions.
  const sct = Buffer.concat([Buffer.from([0, 10]), Buffer.from([0, 3, 1, 2, 3]), Buffer.from([0, 3, 4, 5, 6])]);
  const sctExt = new x509.Extension('1.3.6.1.4.1.11129.2.4.2', false, Buffer.concat([Buffer.from([0x04, sct.length]), sct]));
  const staple = new x509.Extension('1.3.6.1.5.5.7.1.24', false, Buffer.from([0x30, 0x03, 0x02, 0x01, 0x05]));
  const keys = await crypto.subtle.generateKey({ name: 'ECDSA', namedCurve: 'P-256' }, true, ['sign', 'verify']);
  x509.cryptoProvider.set(crypto);
  const cert = await x509.X509CertificateGenerator.createSelfSigned({ name: 'CN=sct.test', keys, extensions: [sctExt, staple] });
  const withSct = decodeCertificate(new Uint8Array(cert.rawData)).info;
  assert.equal(withSct.sctCount, 2);
  assert.equal(withSct.mustStaple, true);
  assert.equal(withSct.kind, 'self-signed-leaf');
});

test('names with special characters are escaped as RFC 4514 says', async () => {
  const c = await createCertificate({ subject: 'CN=a\\+b, O=Comma\\, Inc.' });
  assert.equal(decodeCertificate(c.der).info.subject, 'CN=a\\+b, O=Comma\\, Inc.');
});
