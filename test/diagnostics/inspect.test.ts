/**
 * inspect against real TLS servers on loopback, one per broken case, built from a PKI
 * generated now. Trust is always explicit: systemRoots off, the test root passed as `ca`.
 */
import assert from 'node:assert/strict';
import type { LookupFunction } from 'node:net';
import { createServer } from 'node:net';
import { test } from 'node:test';
import { inspect, parseTarget } from '../../src/diagnostics/inspect.ts';
import type { CertgateError } from '../../src/errors.ts';
import { decodeCertificate } from '../../src/pki/certificate.ts';
import { createCertificate } from '../../src/pki/generate.ts';
import { days, leafSpec, makePki } from '../helpers/pki.ts';
import { startHttpServer, startTlsServer, type TlsServerOptions } from '../helpers/servers.ts';

const pki = await makePki();
const trusted = [decodeCertificate(pki.root.der)];
const base = { servername: 'app.test', ca: trusted, systemRoots: false, timeoutMs: 5000 } as const;

async function serve(t: { after(fn: () => unknown): void }, options: TlsServerOptions): Promise<string> {
  const server = await startTlsServer(options);
  t.after(() => server.close());
  return `127.0.0.1:${server.port}`;
}

function codes(r: { findings: Array<{ code: string; severity: string; certificate: number | null }> }): string[] {
  return r.findings.map((f) => `${f.code}:${f.severity}:${f.certificate}`);
}

test('a good chain: ok, trusted, hostname matches, chain read off the wire', async (t) => {
  const target = await serve(t, { chain: [pki.leaf.certPem, pki.inter.certPem], key: pki.leaf.keyPem });
  const r = await inspect(target, base);
  assert.equal(r.status, 'ok', JSON.stringify(r.findings));
  assert.deepEqual(r.findings, []);
  assert.equal(r.verification.trusted, true);
  assert.equal(r.verification.hostnameMatches, true);
  assert.equal(r.tls?.chainSource, 'wire');
  assert.equal(r.tls?.protocol, 'TLSv1.3');
  assert.deepEqual(
    r.chain.map((c) => [c.index, c.subjectCommonName, c.issuedBy]),
    [
      [0, 'app.test', 1],
      [1, 'Certgate Test Intermediate', null],
    ],
  );
  assert.match(r.chain[0]?.pem ?? '', /^-----BEGIN CERTIFICATE-----/);
});

test('missing intermediate: names the issuer and says the server must send it', async (t) => {
  const target = await serve(t, { chain: [pki.leaf.certPem], key: pki.leaf.keyPem });
  const r = await inspect(target, base);
  assert.equal(r.status, 'fail');
  assert.equal(r.verification.opensslCode, 'UNABLE_TO_VERIFY_LEAF_SIGNATURE');
  assert.deepEqual(codes(r), ['CHAIN_INCOMPLETE:error:0']);
  assert.match(r.findings[0]?.message ?? '', /sent only its own certificate \(#0\).*"Certgate Test Intermediate"/);
  assert.match(r.findings[0]?.fix ?? '', /must send its intermediate/);
});

test('--fetch-missing gets the intermediate from the AIA URL and keeps the verdict about the server', async (t) => {
  const aia = await startHttpServer((path) => (path === '/inter.der' ? { status: 200, body: pki.inter.der } : undefined));
  t.after(() => aia.close());
  const leaf = await leafSpec(pki, { caIssuersUrl: `http://127.0.0.1:${aia.port}/inter.der` });
  const target = await serve(t, { chain: [leaf.certPem], key: leaf.keyPem });
  const r = await inspect(target, { ...base, fetchMissing: true });
  assert.equal(r.status, 'fail');
  assert.equal(r.fetched[0]?.subjectCommonName, 'Certgate Test Intermediate');
  const fetched = r.findings.find((f) => f.code === 'INTERMEDIATE_FETCHED');
  assert.match(fetched?.message ?? '', /with it the chain verifies/);
  assert.ok(r.findings.some((f) => f.code === 'CHAIN_INCOMPLETE' && f.severity === 'error'));
  assert.match(r.findings.find((f) => f.code === 'CHAIN_INCOMPLETE')?.fix ?? '', new RegExp(`127\\.0\\.0\\.1:${aia.port}/inter\\.der`));
});

test('untrusted root sent by the server: add that one (#2), not the leaf', async (t) => {
  const target = await serve(t, { chain: [pki.leaf.certPem, pki.inter.certPem, pki.root.certPem], key: pki.leaf.keyPem });
  const r = await inspect(target, { ...base, ca: [] });
  assert.equal(r.verification.opensslCode, 'SELF_SIGNED_CERT_IN_CHAIN');
  const f = r.findings.find((x) => x.code === 'UNTRUSTED_ROOT');
  assert.equal(f?.certificate, 2);
  assert.match(f?.fix ?? '', /add this one \(#2, not #0/);
  assert.match(f?.fix ?? '', /certgate trust add --from 127\.0\.0\.1:\d+/);
});

test('untrusted root not sent: the issuer of the last certificate is named', async (t) => {
  const target = await serve(t, { chain: [pki.leaf.certPem, pki.inter.certPem], key: pki.leaf.keyPem });
  const r = await inspect(target, { ...base, ca: [decodeCertificate(pki.otherRoot.der)] });
  assert.equal(r.verification.opensslCode, 'UNABLE_TO_GET_ISSUER_CERT_LOCALLY');
  const f = r.findings.find((x) => x.code === 'UNTRUSTED_ROOT');
  assert.equal(f?.certificate, 1);
  assert.match(f?.message ?? '', /issuer "Certgate Test Root" is not in the trust store/);
});

test('self-signed leaf: pin it, do not add it to ca-certs', async (t) => {
  const self = await createCertificate({ subject: 'CN=app.test', dns: ['app.test'] });
  const target = await serve(t, { chain: [self.certPem], key: self.keyPem });
  const r = await inspect(target, base);
  assert.equal(r.verification.opensslCode, 'DEPTH_ZERO_SELF_SIGNED_CERT');
  const f = r.findings.find((x) => x.code === 'SELF_SIGNED_LEAF');
  assert.equal(f?.severity, 'error');
  assert.match(f?.fix ?? '', /pin/);
  assert.match(f?.fix ?? '', /not.*ca-certs|instead of adding it to ca-certs/);
});

test('expired and not-yet-valid certificates give dates and a clock hint', async (t) => {
  const expired = await leafSpec(pki, { notBefore: new Date(Date.now() - days(100)), notAfter: new Date(Date.now() - days(3)) });
  const r1 = await inspect(await serve(t, { chain: [expired.certPem, pki.inter.certPem], key: expired.keyPem }), base);
  assert.equal(r1.verification.opensslCode, 'CERT_HAS_EXPIRED');
  assert.deepEqual(codes(r1), ['CERT_EXPIRED:error:0']);
  const future = await leafSpec(pki, { notBefore: new Date(Date.now() + 10 * 60_000) });
  const r2 = await inspect(await serve(t, { chain: [future.certPem, pki.inter.certPem], key: future.keyPem }), base);
  assert.equal(r2.verification.opensslCode, 'CERT_NOT_YET_VALID');
  assert.deepEqual(codes(r2), ['CERT_NOT_YET_VALID:error:0']);
  assert.match(r2.findings[0]?.fix ?? '', /clock/);
});

test('wrong host lists the names the certificate is for', async (t) => {
  const target = await serve(t, { chain: [pki.leaf.certPem, pki.inter.certPem], key: pki.leaf.keyPem });
  const r = await inspect(target, { ...base, servername: 'db.internal' });
  assert.equal(r.verification.hostnameMatches, false);
  assert.deepEqual(codes(r), ['HOSTNAME_MISMATCH:error:0']);
  assert.match(r.findings[0]?.message ?? '', /app\.test, localhost, 127\.0\.0\.1, not for "db\.internal"/);
});

test('wildcard and IP SANs match as clients match them', async (t) => {
  const wild = await leafSpec(pki, { subject: 'CN=*.apps.test', dns: ['*.apps.test'], ip: ['127.0.0.1'] });
  const target = await serve(t, { chain: [wild.certPem, pki.inter.certPem], key: wild.keyPem });
  assert.equal((await inspect(target, { ...base, servername: 'one.apps.test' })).status, 'ok');
  assert.equal((await inspect(target, { ...base, servername: 'a.b.apps.test' })).verification.hostnameMatches, false);
  const byIp = await inspect(target, { ...base, servername: undefined as unknown as string });
  assert.equal(byIp.target.servername, null);
  assert.equal(byIp.verification.hostnameMatches, true);
});

test('wrong order is a warning when clients still verify it', async (t) => {
  const target = await serve(t, { chain: [pki.leaf.certPem, pki.root.certPem, pki.inter.certPem], key: pki.leaf.keyPem });
  const r = await inspect(target, base);
  assert.equal(r.status, 'warn');
  assert.ok(codes(r).includes('CHAIN_WRONG_ORDER:warning:null'));
});

test('a leaf signed by a leaf is refused and explained', async (t) => {
  const fakeCa = await leafSpec(pki, { subject: 'CN=not-a-ca.test', dns: ['not-a-ca.test'] });
  const victim = await createCertificate({ subject: 'CN=app.test', issuer: fakeCa, dns: ['app.test'] });
  const target = await serve(t, { chain: [victim.certPem, fakeCa.certPem, pki.inter.certPem], key: victim.keyPem });
  const r = await inspect(target, base);
  assert.equal(r.status, 'fail');
  const f = r.findings.find((x) => x.code === 'ISSUER_NOT_CA');
  assert.equal(f?.certificate, 1);
});

test('mTLS: a server that requires a client certificate, with and without one', async (t) => {
  const client = await createCertificate({ subject: 'CN=certgate client', issuer: pki.inter, extendedKeyUsage: ['clientAuth'] });
  const wrongClient = await createCertificate({ subject: 'CN=stranger', issuer: pki.otherRoot, extendedKeyUsage: ['clientAuth'] });
  const chain = [pki.leaf.certPem, pki.inter.certPem];
  for (const maxVersion of ['TLSv1.3', 'TLSv1.2'] as const) {
    const target = await serve(t, { chain, key: pki.leaf.keyPem, requestCert: { ca: [pki.root.certPem, pki.inter.certPem] }, maxVersion });
    const without = await inspect(target, base);
    assert.equal(without.status, 'fail', maxVersion);
    assert.equal(without.findings[0]?.code, 'CLIENT_CERT_REQUIRED', `${maxVersion}: ${JSON.stringify(without.findings)}`);
    assert.match(without.findings[0]?.fix ?? '', /--client-cert/);
    const withCert = await inspect(target, { ...base, clientCert: client.certPem + pki.inter.certPem, clientKey: client.keyPem });
    assert.equal(withCert.status, 'ok', `${maxVersion}: ${JSON.stringify(withCert.findings)}`);
    const wrong = await inspect(target, { ...base, clientCert: wrongClient.certPem, clientKey: wrongClient.keyPem });
    assert.equal(wrong.findings[0]?.code, 'CLIENT_CERT_REJECTED', `${maxVersion}: ${JSON.stringify(wrong.findings)}`);
  }
});

test('a plain HTTP port is named as such', async (t) => {
  const http = await startHttpServer(() => ({ status: 200, body: 'hi' }));
  t.after(() => http.close());
  const r = await inspect(`127.0.0.1:${http.port}`, base);
  assert.equal(r.status, 'fail');
  assert.equal(r.findings[0]?.code, 'PLAIN_HTTP_PORT');
  assert.match(r.findings[0]?.message ?? '', /plain HTTP/);
  assert.match(r.findings[0]?.fix ?? '', /certgate inspect 127\.0\.0\.1:443 --servername app\.test/);
  assert.equal(r.tls, null);
});

test('RSA-1024: a weak key is reported, and OpenSSL at security level 2 refuses it', async (t) => {
  const weak = await leafSpec(pki, { key: 'rsa-1024' });
  const target = await serve(t, { chain: [weak.certPem, pki.inter.certPem], key: weak.keyPem, ciphers: 'DEFAULT@SECLEVEL=0' });
  const r = await inspect(target, base);
  assert.ok(codes(r).includes('WEAK_KEY:warning:0'), JSON.stringify(r.findings));
  assert.equal(r.chain[0]?.publicKey.bits, 1024);
  const strict = await inspect(target, { ...base, securityLevel: 2 });
  assert.equal(strict.status, 'fail');
  assert.equal(strict.findings[0]?.code, 'SECURITY_LEVEL', JSON.stringify(strict.findings));
  assert.equal(strict.chain[0]?.publicKey.bits, 1024, 'the chain is still shown, read with a permissive second handshake');
});

test("a TLS 1.3-only server: the chain is OpenSSL's reconstruction, and says so", async (t) => {
  const target = await serve(t, { chain: [pki.leaf.certPem, pki.inter.certPem], key: pki.leaf.keyPem, minVersion: 'TLSv1.3' });
  const r = await inspect(target, base);
  assert.equal(r.status, 'ok', JSON.stringify(r.findings));
  assert.equal(r.tls?.chainSource, 'reconstructed');
  assert.equal(r.chain.length, 2);
});

test('CN-only certificates warn that modern clients ignore the CN', async (t) => {
  const cnOnly = await createCertificate({ subject: 'CN=app.test', issuer: pki.inter });
  const target = await serve(t, { chain: [cnOnly.certPem, pki.inter.certPem], key: cnOnly.keyPem });
  const r = await inspect(target, base);
  assert.ok(codes(r).includes('NO_SAN:warning:0'));
});

test('connection errors: refused and DNS are one-line errors with a code; a silent port is SILENT_PORT', async () => {
  const closed = createServer();
  await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
  const port = (closed.address() as { port: number }).port;
  await new Promise<void>((resolve) => closed.close(() => resolve()));
  await assert.rejects(inspect(`127.0.0.1:${port}`, base), (e: CertgateError) => e.code === 'E_CONNECT_REFUSED' && Boolean(e.fix));

  const silent = createServer((s) => s.on('error', () => {}));
  await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
  try {
    const p = (silent.address() as { port: number }).port;
    // A port that takes the connection and stays silent is a finding about the port, not E_TIMEOUT.
    const r = await inspect(`127.0.0.1:${p}`, { ...base, timeoutMs: 300 });
    assert.equal(r.findings[0]?.code, 'SILENT_PORT');
  } finally {
    silent.close();
  }
  const nxdomain: LookupFunction = (hostname, _opts, cb) => {
    const err = Object.assign(new Error(`getaddrinfo ENOTFOUND ${hostname}`), { code: 'ENOTFOUND' });
    (cb as (e: Error) => void)(err);
  };
  await assert.rejects(
    inspect('no-such-host.invalid:443', { ...base, lookup: nxdomain }),
    (e: CertgateError) => e.code === 'E_DNS' && /no-such-host\.invalid/.test(e.message),
  );
});

test('parseTarget reads host, host:port, [v6]:port and URLs', () => {
  assert.deepEqual(parseTarget('example.com', 443), { host: 'example.com', port: 443 });
  assert.deepEqual(parseTarget('db:5432', 443), { host: 'db', port: 5432 });
  assert.deepEqual(parseTarget('[::1]:8443', 443), { host: '::1', port: 8443 });
  assert.deepEqual(parseTarget('::1', 443), { host: '::1', port: 443 });
  assert.deepEqual(parseTarget('https://app.example.com/login', 1), { host: 'app.example.com', port: 443 });
  assert.deepEqual(parseTarget('https://app.example.com:8443/', 1), { host: 'app.example.com', port: 8443 });
  for (const bad of ['', 'host:abc', 'host:70000', 'bad host', 'x'.repeat(300)]) {
    assert.throws(
      () => parseTarget(bad, 443),
      (e: CertgateError) => e.code === 'E_USAGE',
    );
  }
});

test('a self-signed CA:TRUE server certificate (openssl req -x509) is shown as a self-signed leaf to pin, not a root', async (t) => {
  const self = await createCertificate({ subject: 'CN=app.test', ca: true, dns: ['app.test'], keyUsage: [] });
  const target = await serve(t, { chain: [self.certPem], key: self.keyPem });
  const r = await inspect(target, { ...base, ca: [] });
  assert.equal(r.chain[0]?.kind, 'self-signed-leaf');
  const f = r.findings.find((x) => x.code === 'SELF_SIGNED_LEAF');
  assert.equal(f?.severity, 'error');
  assert.match(f?.fix ?? '', /pin it .*instead of adding it to ca-certs/);
  assert.equal(
    r.findings.some((x) => x.code === 'UNTRUSTED_ROOT'),
    false,
  );
});

test('a leaf from certgate\'s local CA: trust the local CA (local-ca path), not "the server must send its intermediate"', async (t) => {
  const { LocalCa } = await import('../../src/localca/local-ca.ts');
  const { tempDir } = await import('../helpers/tmp.ts');
  const bundle = await new LocalCa({ dir: tempDir(t) }).issue(['app.test']);
  const target = await serve(t, { chain: [bundle.certPem], key: bundle.keyPem });
  const r = await inspect(target, { ...base, ca: [] });
  // (its 7-day lifetime also makes a CERT_EXPIRING_SOON warning; not the point here)
  assert.deepEqual(
    codes(r).filter((c) => !c.startsWith('CERT_EXPIRING_SOON')),
    ['UNTRUSTED_ROOT:error:0'],
  );
  assert.match(r.findings[0]?.message ?? '', /certgate's local CA/);
  assert.match(r.findings[0]?.fix ?? '', /certgate trust add "\$\(certgate local-ca path\)"/);
});

test('the trust set named without a label counts its CA certificates in words: "1 extra CA certificate"', async (t) => {
  const target = await serve(t, { chain: [pki.leaf.certPem, pki.inter.certPem], key: pki.leaf.keyPem });
  const r = await inspect(target, base);
  assert.equal(r.verification.trust, '1 extra CA certificate');
});
