/**
 * Every verify failure named: real TLS servers on loopback (Node's, and openssl s_server where
 * Node cannot serve the certificate), certificates with odd extensions made by the openssl CLI
 * at test time. Each test asserts the finding's code, the certificate it names, and the fix.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { VERIFY_CODES } from '../../src/diagnostics/explain.ts';
import { type InspectResult, inspect } from '../../src/diagnostics/inspect.ts';
import { parseCertificates } from '../../src/pki/parse.ts';
import { X509_ERRORS } from '../../src/pki/x509-errors.ts';
import { CA_EXT, issue, LEAF_EXT, type OsslCert, openssl } from '../helpers/openssl-pki.ts';
import { startOpensslServer } from '../helpers/s-server.ts';
import { startTlsServer } from '../helpers/servers.ts';

const dir = mkdtempSync(join(tmpdir(), 'certgate-verify-'));
after(() => rmSync(dir, { recursive: true, force: true }));
const root = issue(dir, 'root', { subject: '/CN=Odd Root', ext: CA_EXT });
const inter = issue(dir, 'inter', { subject: '/CN=Odd Inter', ext: CA_EXT, issuer: root });

async function check(t: { after(fn: () => unknown): void }, chain: OsslCert[], trust: OsslCert = root): Promise<InspectResult> {
  const leaf = chain[0] as OsslCert;
  const server = await startTlsServer({ chain: chain.map((c) => c.certPem), key: leaf.keyPem });
  t.after(() => server.close());
  return inspect(`127.0.0.1:${server.port}`, {
    servername: 'app.test',
    ca: parseCertificates(Buffer.from(trust.certPem)),
    systemRoots: false,
    timeoutMs: 5000,
  });
}

function finding(r: InspectResult, code: string) {
  const f = r.findings.find((x) => x.code === code);
  assert.ok(f, `${code} in ${JSON.stringify(r.findings.map((x) => x.code))}`);
  return f;
}

function leafWith(name: string, ext: string, issuer: OsslCert = inter): OsslCert {
  return issue(dir, name, { subject: '/CN=app.test', ext, issuer });
}

test('the table: every one of the 94 X509_V_ERR codes of OpenSSL 3 has an explainer', () => {
  assert.equal(X509_ERRORS.length, 94);
  const missing = X509_ERRORS.filter((e) => !VERIFY_CODES[e.name]).map((e) => e.name);
  assert.deepEqual(missing, []);
});

test('an unknown critical extension (Node: UNSPECIFIED): UNKNOWN_CRITICAL_EXTENSION on #0 naming the OID', async (t) => {
  const leaf = leafWith('crit', `${LEAF_EXT}\n1.2.3.4.5=critical,ASN1:UTF8String:x`);
  const r = await check(t, [leaf, inter]);
  assert.equal(r.verification.opensslCode, 'UNHANDLED_CRITICAL_EXTENSION');
  assert.equal(r.verification.opensslText, 'unhandled critical extension');
  const f = finding(r, 'UNKNOWN_CRITICAL_EXTENSION');
  assert.equal(f.certificate, 0);
  assert.match(f.message, /#0 "app\.test" carries the extension 1\.2\.3\.4\.5 marked critical/);
  assert.match(f.fix, /reissue #0 "app\.test" without 1\.2\.3\.4\.5 or with it not critical/);
});

test("a name outside the root's permitted subtree: NAME_CONSTRAINTS_VIOLATION on #0, naming the constraint and the root from the store", async (t) => {
  const ncRoot = issue(dir, 'ncroot', { subject: '/CN=NC Root', ext: `${CA_EXT}\nnameConstraints=critical,permitted;DNS:.corp.example` });
  const ncInter = issue(dir, 'ncinter', { subject: '/CN=NC Inter', ext: CA_EXT, issuer: ncRoot });
  const r = await check(t, [leafWith('ncleaf', LEAF_EXT, ncInter), ncInter], ncRoot);
  assert.equal(r.verification.opensslCode, 'PERMITTED_VIOLATION');
  const f = finding(r, 'NAME_CONSTRAINTS_VIOLATION');
  assert.equal(f.certificate, 0);
  assert.match(f.message, /DNS:app\.test of #0 "app\.test" is outside the permitted subtrees \(DNS:\.corp\.example\) of the trust-store root "NC Root"/);
  assert.match(f.fix, /reissue #0 "app\.test" only for names the CA permits/);
});

test("a name in an intermediate's excluded subtree: NAME_CONSTRAINTS_VIOLATION naming #1", async (t) => {
  const ex = issue(dir, 'exinter', { subject: '/CN=Excluding Inter', ext: `${CA_EXT}\nnameConstraints=critical,excluded;DNS:app.test`, issuer: root });
  const r = await check(t, [leafWith('exleaf', LEAF_EXT, ex), ex]);
  assert.equal(r.verification.opensslCode, 'EXCLUDED_VIOLATION');
  const f = finding(r, 'NAME_CONSTRAINTS_VIOLATION');
  assert.equal(f.certificate, 0);
  assert.match(f.message, /excluded subtree DNS:app\.test of #1 "Excluding Inter"/);
});

test('pathlen:0 with a CA below it: PATH_LENGTH_EXCEEDED on the constraining CA #2', async (t) => {
  const i1 = issue(dir, 'pl0', {
    subject: '/CN=Pathlen0 Inter',
    ext: 'basicConstraints=critical,CA:TRUE,pathlen:0\nkeyUsage=critical,keyCertSign\nsubjectKeyIdentifier=hash\nauthorityKeyIdentifier=keyid',
    issuer: root,
  });
  const i2 = issue(dir, 'below', { subject: '/CN=Below Pathlen', ext: CA_EXT, issuer: i1 });
  const r = await check(t, [leafWith('plleaf', LEAF_EXT, i2), i2, i1]);
  assert.equal(r.verification.opensslCode, 'PATH_LENGTH_EXCEEDED');
  const f = finding(r, 'PATH_LENGTH_EXCEEDED');
  assert.equal(f.certificate, 2);
  assert.match(f.message, /#2 "Pathlen0 Inter" has pathlen:0 .* but 1 follows/);
  assert.match(f.fix, /directly from #2 "Pathlen0 Inter"/);
});

test('keyUsage without digitalSignature (Node: INVALID_PURPOSE): KEY_USAGE_NOT_FOR_SERVER names keyUsage, not extendedKeyUsage', async (t) => {
  const r = await check(t, [leafWith('ku', LEAF_EXT.replace('keyUsage=critical,digitalSignature', 'keyUsage=critical,nonRepudiation')), inter]);
  assert.equal(r.verification.opensslCode, 'INVALID_PURPOSE');
  const f = finding(r, 'KEY_USAGE_NOT_FOR_SERVER');
  assert.equal(f.certificate, 0);
  assert.match(f.message, /keyUsage nonRepudiation/);
  assert.match(f.fix, /keyUsage digitalSignature .*its extendedKeyUsage is not the problem/);
});

test('extendedKeyUsage clientAuth on the leaf: NOT_FOR_SERVER_AUTH on #0', async (t) => {
  const r = await check(t, [leafWith('eku', LEAF_EXT.replace('extendedKeyUsage=serverAuth', 'extendedKeyUsage=clientAuth')), inter]);
  const f = finding(r, 'NOT_FOR_SERVER_AUTH');
  assert.equal(f.severity, 'error');
  assert.equal(f.certificate, 0);
  assert.match(f.message, /extendedKeyUsage clientAuth without serverAuth/);
  assert.match(f.fix, /extendedKeyUsage serverAuth/);
});

test('an intermediate restricted to clientAuth: NOT_FOR_SERVER_AUTH on #1, the CA, not the leaf', async (t) => {
  const ca = issue(dir, 'clientca', { subject: '/CN=Client Only Inter', ext: `${CA_EXT}\nextendedKeyUsage=clientAuth`, issuer: root });
  const r = await check(t, [leafWith('ekuca', LEAF_EXT, ca), ca]);
  const f = finding(r, 'NOT_FOR_SERVER_AUTH');
  assert.equal(f.certificate, 1);
  assert.match(f.message, /CA #1 "Client Only Inter" restricts its extendedKeyUsage to clientAuth/);
  assert.match(f.fix, /reissue #1 "Client Only Inter" with extendedKeyUsage serverAuth/);
});

test('a CA whose keyUsage lacks keyCertSign: CA_WITHOUT_KEYCERTSIGN on #1 naming keyUsage', async (t) => {
  const ca = issue(dir, 'nocs', {
    subject: '/CN=No CertSign Inter',
    ext: 'basicConstraints=critical,CA:TRUE\nkeyUsage=critical,digitalSignature,cRLSign\nsubjectKeyIdentifier=hash\nauthorityKeyIdentifier=keyid',
    issuer: root,
  });
  const r = await check(t, [leafWith('nocsleaf', LEAF_EXT, ca), ca]);
  assert.equal(r.verification.opensslCode, 'KEYUSAGE_NO_CERTSIGN');
  const f = finding(r, 'CA_WITHOUT_KEYCERTSIGN');
  assert.equal(f.severity, 'error');
  assert.equal(f.certificate, 1);
  assert.match(f.fix, /keyUsage keyCertSign, cRLSign \(basicConstraints is not the problem\)/);
});

test('a CA:FALSE issuer (OpenSSL: "unsuitable certificate purpose"): ISSUER_NOT_CA on #1, not a key-usage story', async (t) => {
  const notCa = issue(dir, 'caf', {
    subject: '/CN=Not A CA',
    ext: 'basicConstraints=critical,CA:FALSE\nsubjectKeyIdentifier=hash\nauthorityKeyIdentifier=keyid',
    issuer: root,
  });
  const r = await check(t, [leafWith('cafleaf', LEAF_EXT, notCa), notCa]);
  assert.equal(r.verification.opensslCode, 'INVALID_PURPOSE');
  const f = finding(r, 'ISSUER_NOT_CA');
  assert.equal(f.certificate, 1);
  assert.ok(!r.findings.some((x) => x.code === 'NOT_FOR_SERVER_AUTH' || x.code === 'CHAIN_INCOMPLETE'), JSON.stringify(r.findings));
  assert.match(f.fix, /CA:TRUE/);
});

test('an expired intermediate: CERT_EXPIRED names #1, not the leaf', async (t) => {
  const old = issue(dir, 'expired', { subject: '/CN=Expired Inter', ext: CA_EXT, issuer: root, days: 2, daysAgo: 10 });
  const r = await check(t, [leafWith('expleaf', LEAF_EXT, old), old]);
  assert.equal(r.verification.opensslCode, 'CERT_HAS_EXPIRED');
  const f = finding(r, 'CERT_EXPIRED');
  assert.equal(f.certificate, 1);
  assert.match(f.message, /"Expired Inter"/);
  assert.match(f.fix, /renew it/);
});

test('a re-keyed intermediate (same name, other key): AKI_SKI_MISMATCH on #1 with both key ids, not "missing intermediate"', async (t) => {
  const rekeyed = issue(dir, 'rekeyed', { subject: '/CN=Odd Inter', ext: CA_EXT, issuer: root });
  const r = await check(t, [leafWith('rkleaf', LEAF_EXT), rekeyed]);
  assert.equal(r.verification.opensslCode, 'UNABLE_TO_VERIFY_LEAF_SIGNATURE');
  const f = finding(r, 'AKI_SKI_MISMATCH');
  assert.ok(!r.findings.some((x) => x.code === 'CHAIN_INCOMPLETE' || x.code === 'CHAIN_EXTRA_CERT'), JSON.stringify(r.findings));
  assert.equal(f.severity, 'error');
  assert.equal(f.certificate, 1);
  assert.match(f.message, /#1 "Odd Inter" has the right name but not the key that signed #0/);
  assert.match(f.fix, /whose subjectKeyIdentifier is [0-9A-F:]+; replace #1/);
});

test('a cross-signed root: says which path Node built and which an older trust store builds', async (t) => {
  const oldRoot = issue(dir, 'oldroot', { subject: '/CN=Old Root', ext: CA_EXT });
  const newRoot = issue(dir, 'newroot', { subject: '/CN=New Root', ext: CA_EXT });
  const cross = issue(dir, 'cross', { subject: '/CN=New Root', ext: CA_EXT, issuer: oldRoot, keyOf: newRoot });
  const xi = issue(dir, 'xinter', { subject: '/CN=X Inter', ext: CA_EXT, issuer: newRoot });
  const chain = [leafWith('xleaf', LEAF_EXT, xi), xi, cross];
  const modern = await check(t, chain, newRoot);
  assert.equal(modern.status !== 'fail', true, JSON.stringify(modern.findings));
  assert.deepEqual(modern.verification.builtPath, [0, 1, 'New Root']);
  const f = finding(modern, 'CHAIN_ALTERNATE_PATH');
  assert.equal(f.certificate, 2);
  assert.match(
    f.message,
    /Node built #0 → #1 → "New Root" \(trust store\); #2 is "New Root" cross-signed by "Old Root", so a client whose store lacks "New Root" .* builds #0 → #1 → #2 → "Old Root"/,
  );
  assert.match(f.fix, /keep #2 in the chain file while clients with old trust stores matter/);
  const old = await check(t, chain, oldRoot);
  assert.deepEqual(old.verification.builtPath, [0, 1, 2, 'Old Root']);
  assert.ok(!old.findings.some((x) => x.code === 'CHAIN_ALTERNATE_PATH'));
});

test('a SHA-1 signed leaf (openssl s_server, Node will not serve it): SECURITY_LEVEL on #0 with the digest', async (t) => {
  const leaf = issue(dir, 'sha1', { subject: '/CN=app.test', ext: LEAF_EXT, issuer: inter, md: 'sha1' });
  const server = await startOpensslServer(dir, { cert: leaf, chain: [inter], args: ['-cipher', 'DEFAULT:@SECLEVEL=0'] });
  t.after(() => server.close());
  const r = await inspect(`127.0.0.1:${server.port}`, {
    servername: 'app.test',
    ca: parseCertificates(Buffer.from(root.certPem)),
    systemRoots: false,
    timeoutMs: 5000,
  });
  assert.equal(r.verification.opensslCode, 'CA_MD_TOO_WEAK');
  const f = finding(r, 'SECURITY_LEVEL');
  assert.equal(f.certificate, 0);
  assert.match(f.message, /#0 "app\.test" is signed with sha1WithRSAEncryption|#0 "app\.test" is signed with ecdsa-with-SHA1/);
  assert.match(f.fix, /reissue #0 "app\.test" signed with SHA-256/);
});

test('a leaf whose signature was altered: SIGNATURE_INVALID on #0 naming its issuer by name, not a missing intermediate', async (t) => {
  const leaf = leafWith('tampered', LEAF_EXT);
  const der = Buffer.from(leaf.certPem.replace(/-----[^-]+-----|\s+/g, ''), 'base64');
  // The last byte is inside the signature value: the certificate still parses, the signature fails.
  der[der.length - 1] = (der[der.length - 1] as number) ^ 0x01;
  const pem = `-----BEGIN CERTIFICATE-----\n${der.toString('base64')}\n-----END CERTIFICATE-----\n`;
  const server = await startTlsServer({ chain: [pem, inter.certPem], key: leaf.keyPem });
  t.after(() => server.close());
  const r = await inspect(`127.0.0.1:${server.port}`, {
    servername: 'app.test',
    ca: parseCertificates(Buffer.from(root.certPem)),
    systemRoots: false,
    timeoutMs: 5000,
  });
  assert.equal(r.verification.opensslCode, 'CERT_SIGNATURE_FAILURE');
  const f = finding(r, 'SIGNATURE_INVALID');
  assert.equal(f.certificate, 0);
  assert.match(f.message, /signature of #0 "app\.test" does not verify with the key of #1 "Odd Inter"/);
  assert.ok(!r.findings.some((x) => x.code === 'CHAIN_INCOMPLETE' || x.code === 'CHAIN_EXTRA_CERT'), JSON.stringify(r.findings));
});

test('an intermediate not valid yet: CERT_NOT_YET_VALID names #1 and its start date', async (t) => {
  const future = issue(dir, 'future', { subject: '/CN=Future Inter', ext: CA_EXT, issuer: root, daysAgo: -5 });
  const r = await check(t, [leafWith('futleaf', LEAF_EXT, future), future]);
  assert.equal(r.verification.opensslCode, 'CERT_NOT_YET_VALID');
  const f = finding(r, 'CERT_NOT_YET_VALID');
  assert.equal(f.certificate, 1);
  assert.match(f.message, /"Future Inter" is not valid before/);
  assert.match(f.fix, /clock/);
});

test('an intermediate without basicConstraints: ISSUER_NOT_CA on #1 saying the extension is absent', async (t) => {
  const bare = issue(dir, 'nobc', {
    subject: '/CN=No BC Inter',
    ext: 'keyUsage=critical,keyCertSign\nsubjectKeyIdentifier=hash\nauthorityKeyIdentifier=keyid',
    issuer: root,
  });
  const r = await check(t, [leafWith('nobcleaf', LEAF_EXT, bare), bare]);
  assert.equal(r.verification.opensslCode, 'INVALID_CA');
  const f = finding(r, 'ISSUER_NOT_CA');
  assert.match(f.message, /basicConstraints are absent/);
  assert.equal(f.certificate, 1);
  assert.match(f.message, /"No BC Inter"/);
  assert.match(f.fix, /CA:TRUE/);
});

test('an RSA-1024 intermediate at security level 2 (Debian curl, Python): SECURITY_LEVEL on #1, the CA key', async (t) => {
  const weak = issue(dir, 'weakca', { subject: '/CN=Weak Key Inter', ext: CA_EXT, issuer: root, key: 'rsa1024' });
  const leaf = leafWith('weakcaleaf', LEAF_EXT, weak);
  const server = await startOpensslServer(dir, { cert: leaf, chain: [weak], args: ['-cipher', 'DEFAULT:@SECLEVEL=0'] });
  t.after(() => server.close());
  const r = await inspect(`127.0.0.1:${server.port}`, {
    servername: 'app.test',
    ca: parseCertificates(Buffer.from(root.certPem)),
    systemRoots: false,
    timeoutMs: 5000,
    securityLevel: 2,
  });
  assert.equal(r.verification.opensslCode, 'CA_KEY_TOO_SMALL');
  const f = finding(r, 'SECURITY_LEVEL');
  assert.equal(f.certificate, 1);
  assert.match(f.message, /#1 "Weak Key Inter" has a 1024-bit RSA key \(security level 2 needs 2048\+\)/);
});

test('an email SAN without "@" under an email name constraint: UNSUPPORTED_NAME_SYNTAX is NAME_CONSTRAINTS_VIOLATION on #0', async (t) => {
  const ca = issue(dir, 'emailnc', { subject: '/CN=Email NC Inter', ext: `${CA_EXT}\nnameConstraints=critical,permitted;email:corp.example`, issuer: root });
  const leaf = leafWith('emailleaf', `${LEAF_EXT}\nsubjectAltName=DNS:app.test,email:nobody`, ca);
  const r = await check(t, [leaf, ca]);
  assert.equal(r.verification.opensslCode, 'UNSUPPORTED_NAME_SYNTAX');
  assert.equal(r.verification.opensslText, 'unsupported or invalid name syntax');
  const f = finding(r, 'NAME_CONSTRAINTS_VIOLATION');
  assert.equal(f.certificate, 0);
  assert.match(f.fix, /well-formed subjectAltNames/);
});

test('a registeredID name constraint: UNSUPPORTED_CONSTRAINT_TYPE is NAME_CONSTRAINTS_VIOLATION with the supported types in the fix', async (t) => {
  const ca = issue(dir, 'ridnc', { subject: '/CN=RID NC Inter', ext: `${CA_EXT}\nnameConstraints=critical,permitted;RID:1.2.3.4`, issuer: root });
  const leaf = leafWith('ridleaf', LEAF_EXT.replace('subjectAltName=DNS:app.test', 'subjectAltName=DNS:app.test,RID:1.2.3.4'), ca);
  const r = await check(t, [leaf, ca]);
  assert.equal(r.verification.opensslCode, 'UNSUPPORTED_CONSTRAINT_TYPE');
  const f = finding(r, 'NAME_CONSTRAINTS_VIOLATION');
  assert.match(f.fix, /DNS, IP, email, URI or DirName constraints only/);
});

test('a root whose OpenSSL trust settings reject serverAuth (TRUSTED CERTIFICATE): UNTRUSTED_ROOT, not an extendedKeyUsage story', async (t) => {
  openssl(dir, ['x509', '-in', root.certFile, '-addreject', 'serverAuth', '-trustout', '-out', 'rejected-root.pem']);
  const leaf = leafWith('rejleaf', LEAF_EXT);
  const server = await startTlsServer({ chain: [leaf.certPem, inter.certPem], key: leaf.keyPem });
  t.after(() => server.close());
  const r = await inspect(`127.0.0.1:${server.port}`, {
    servername: 'app.test',
    caPem: [readFileSync(join(dir, 'rejected-root.pem'), 'utf8')],
    systemRoots: false,
    timeoutMs: 5000,
  });
  assert.equal(r.verification.opensslCode, 'INVALID_PURPOSE');
  const f = finding(r, 'UNTRUSTED_ROOT');
  assert.ok(!r.findings.some((x) => x.code === 'NOT_FOR_SERVER_AUTH'), JSON.stringify(r.findings));
  assert.match(f.message, /TRUSTED CERTIFICATE entries, whose OpenSSL trust settings can reject serverAuth/);
  assert.match(f.fix, /-addtrust serverAuth/);
});
