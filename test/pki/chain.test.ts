import assert from 'node:assert/strict';
import { test } from 'node:test';
import { decodeCertificate } from '../../src/pki/certificate.ts';
import { analyzeChain, isSelfSignedServerCert, kindOf, orderChains } from '../../src/pki/chain.ts';
import { createCertificate } from '../../src/pki/generate.ts';
import { lintChain } from '../../src/pki/lint.ts';
import { makePki } from '../helpers/pki.ts';

const pki = await makePki({ caIssuersUrl: 'http://127.0.0.1:9/inter.der' });
const leaf = decodeCertificate(pki.leaf.der);
const inter = decodeCertificate(pki.inter.der);
const root = decodeCertificate(pki.root.der);
const other = decodeCertificate(pki.otherRoot.der);

test('a good chain has a path in order and nothing missing', () => {
  const a = analyzeChain([leaf, inter, root]);
  assert.deepEqual(a.path, [0, 1, 2]);
  assert.equal(a.endsInSelfSigned, true);
  assert.equal(a.missingIssuer, null);
  assert.equal(a.wrongOrder, false);
  assert.deepEqual(a.extra, []);
  assert.deepEqual(a.issuerOf, [1, 2, null]);
});

test('a lone leaf names its missing issuer with the AIA URL', () => {
  const a = analyzeChain([leaf]);
  assert.equal(a.missingIssuer?.commonName, 'Certgate Test Intermediate');
  assert.equal(a.missingIssuer?.authorityKeyId, inter.info.subjectKeyId);
  assert.deepEqual(a.missingIssuer?.caIssuersUrls, ['http://127.0.0.1:9/inter.der']);
  const findings = lintChain([leaf], a, { context: 'server' });
  assert.equal(findings[0]?.code, 'CHAIN_INCOMPLETE');
  assert.match(findings[0]?.fix ?? '', /intermediate.*http:\/\/127\.0\.0\.1:9\/inter\.der/);
});

test('wrong order and extra certificates are reported by index', () => {
  const a = analyzeChain([leaf, other, root, inter]);
  assert.deepEqual(a.path, [0, 3, 2]);
  assert.equal(a.wrongOrder, true);
  assert.deepEqual(a.extra, [1]);
  const codes = lintChain([leaf, other, root, inter], a, { context: 'server' }).map((f) => `${f.code}:${f.certificate}`);
  assert.ok(codes.includes('CHAIN_WRONG_ORDER:null'));
  assert.ok(codes.includes('CHAIN_EXTRA_CERT:1'));
  assert.ok(codes.includes('CHAIN_ROOT_SENT:2'));
});

test('names alone do not make an issuer: the signature must verify', async () => {
  // Same subject name and no key identifiers in common: an impostor intermediate.
  const impostor = await createCertificate({ subject: 'CN=Certgate Test Intermediate, O=Certgate Tests', ca: true, issuer: pki.root });
  const a = analyzeChain([leaf, decodeCertificate(impostor.der)]);
  assert.deepEqual(a.path, [0]);
  assert.deepEqual(a.extra, [1]);
});

test('a leaf signed by a leaf is flagged', async () => {
  const fakeCa = await createCertificate({ subject: 'CN=not-a-ca.test', issuer: pki.inter, dns: ['not-a-ca.test'] });
  const victim = await createCertificate({ subject: 'CN=victim.test', issuer: fakeCa, dns: ['victim.test'] });
  const chain = [decodeCertificate(victim.der), decodeCertificate(fakeCa.der), inter];
  const a = analyzeChain(chain);
  assert.deepEqual(a.path, [0, 1, 2]);
  assert.deepEqual(a.issuerNotCa, [[0, 1]]);
  const f = lintChain(chain, a, { context: 'server' }).find((x) => x.code === 'ISSUER_NOT_CA');
  assert.equal(f?.severity, 'error');
  assert.equal(f?.certificate, 1);
});

test('orderChains splits a bag into chains, leaf first', () => {
  const otherLeafIssued = decodeCertificate(pki.otherRoot.der);
  const chains = orderChains([root, otherLeafIssued, inter, leaf]);
  assert.deepEqual(chains, [[1], [3, 2, 0]]);
});

test("one rule: a self-signed CA:TRUE certificate that names a host and may serve TLS is a server's own, not a root", async () => {
  // openssl req -x509 writes CA:TRUE and no keyUsage; the SAN (or a host-name CN) gives it away.
  const withSan = decodeCertificate((await createCertificate({ subject: 'CN=db.internal', ca: true, dns: ['db.internal'], keyUsage: [] })).der);
  const cnOnly = decodeCertificate((await createCertificate({ subject: 'CN=db.internal', ca: true, keyUsage: [] })).der);
  const ip = decodeCertificate((await createCertificate({ subject: 'CN=10.0.0.5', ca: true, keyUsage: [] })).der);
  assert.equal(withSan.info.kind, 'root', 'the decoder alone calls it a root');
  for (const c of [withSan, cnOnly, ip]) {
    assert.equal(isSelfSignedServerCert(c), true, c.info.subject);
    assert.equal(kindOf(c, { position: 0 }), 'self-signed-leaf');
  }
});

test('one rule: a self-signed CA without host names, one limited to signing, or one that issued the others is a root', async () => {
  const signOnly = decodeCertificate((await createCertificate({ subject: 'CN=ca.corp.example', ca: true, keyUsage: ['keyCertSign', 'cRLSign'] })).der);
  const clientOnly = decodeCertificate((await createCertificate({ subject: 'CN=db.internal', ca: true, extendedKeyUsage: ['clientAuth'] })).der);
  const issuing = await createCertificate({ subject: 'CN=db.internal', ca: true, dns: ['db.internal'], keyUsage: [] });
  const child = decodeCertificate((await createCertificate({ subject: 'CN=x.test', issuer: issuing, dns: ['x.test'] })).der);
  const issuer = decodeCertificate(issuing.der);
  assert.equal(isSelfSignedServerCert(root), false, 'a CN with spaces is no host name');
  assert.equal(isSelfSignedServerCert(signOnly), false, 'keyUsage without digitalSignature/keyEncipherment cannot serve TLS');
  assert.equal(isSelfSignedServerCert(clientOnly), false, 'not for serverAuth');
  assert.equal(isSelfSignedServerCert(issuer, { others: [issuer, child] }), false, 'it issued another certificate given with it');
  assert.equal(isSelfSignedServerCert(decodeCertificate(issuing.der), { position: 2 }), false, "sent above the server's own");
});
