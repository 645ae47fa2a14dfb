import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo, Server } from 'node:net';
import { test } from 'node:test';
import { createSecureContext, createServer as createTlsServer, type TlsOptions } from 'node:tls';
import { type GradeCode, type GradeReport, gradeServer } from '../../src/diagnostics/grade/index.ts';
import { decodeCertificate } from '../../src/pki/certificate.ts';
import { parseCertificates } from '../../src/pki/parse.ts';
import { days, leafSpec, makePki } from '../helpers/pki.ts';
import { tempDir } from '../helpers/tmp.ts';
import { ocspResponse, opensslChain, startSServer } from './grade-servers.ts';

const pki = await makePki();
const rootCa = decodeCertificate(pki.root.der);

function finding(r: GradeReport, code: GradeCode) {
  const f = r.findings.find((x) => x.code === code);
  assert.ok(f, `expected ${code}; got ${r.findings.map((x) => x.code).join(', ')}`);
  assert.ok(f.fix.length > 10, `${code} has a fix`);
  return f;
}
function absent(r: GradeReport, code: GradeCode) {
  assert.ok(!r.findings.some((x) => x.code === code), `did not expect ${code}: ${r.findings.find((x) => x.code === code)?.what}`);
}

/** A Node TLS (or HTTPS) server on loopback, closed after the test. */
async function node(t: import('node:test').TestContext, options: TlsOptions & { https?: (res: import('node:http').ServerResponse) => void }) {
  const { https, ...tlsOptions } = options;
  const server = https
    ? createHttpsServer(tlsOptions, (_req, res) => https(res))
    : createTlsServer(tlsOptions, (s) => {
        s.on('error', () => {});
        s.end('hello\n');
      });
  server.on('tlsClientError', () => {});
  const sockets = new Set<import('node:net').Socket>();
  server.on('connection', (s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  await new Promise<void>((r) => (server as unknown as Server).listen(0, '127.0.0.1', r));
  t.after(
    () =>
      new Promise<void>((r) => {
        for (const s of sockets) s.destroy();
        server.close(() => r());
      }),
  );
  return ((server as unknown as Server).address() as AddressInfo).port;
}

const good = { cert: pki.leaf.certPem + pki.inter.certPem, key: pki.leaf.keyPem };
const grade = (port: number, o: Parameters<typeof gradeServer>[1] = {}) =>
  gradeServer({ host: '127.0.0.1', port }, { servername: 'localhost', ca: [rootCa], systemRoots: false, ...o });

test('a well-configured Node server gets no warnings or errors, and the grade takes well under 1.5 s', async (t) => {
  const port = await node(t, {
    ...good,
    ALPNProtocols: ['h2', 'http/1.1'],
    https: (res) => res.writeHead(200, { 'strict-transport-security': 'max-age=31536000' }).end('ok'),
  });
  const t0 = Date.now();
  const r = await grade(port);
  const ms = Date.now() - t0;
  const loud = r.findings.filter((f) => f.severity !== 'info');
  assert.deepEqual(loud, []);
  assert.equal(r.alpn, 'h2');
  assert.equal(r.resumption.tickets, true);
  assert.ok(ms < 1500, `grade took ${ms} ms`);
});

test('a server that speaks only TLS 1.0 is explained as such, not as a handshake failure', async (t) => {
  const dir = tempDir(t);
  const files = await opensslChain(dir);
  const s = await startSServer(files, ['-tls1', '-cipher', 'DEFAULT@SECLEVEL=0']);
  t.after(s.close);
  const r = await grade(s.port, { ca: parseCertificates(readFileSync(files.ca)) });
  const f = finding(r, 'GRADE_ONLY_LEGACY_TLS');
  assert.match(f.what, /only TLS 1\.0/);
  assert.match(f.fix, /TLS 1\.2 and 1\.3/);
  absent(r, 'GRADE_NO_TLS');
  assert.deepEqual(
    r.protocols.filter((p) => p.offered).map((p) => p.version),
    ['TLSv1'],
  );
});

test('TLS 1.0 and 1.1 offered next to 1.2 are findings', async (t) => {
  const port = await node(t, { ...good, minVersion: 'TLSv1', ciphers: 'DEFAULT@SECLEVEL=0' });
  const r = await grade(port);
  assert.match(finding(r, 'GRADE_TLS1_0_OFFERED').fix, /turn off TLS 1\.0/);
  assert.match(finding(r, 'GRADE_TLS1_1_OFFERED').fix, /turn off TLS 1\.1/);
  absent(r, 'GRADE_ONLY_LEGACY_TLS');
});

test('a TLS 1.2 server without TLS 1.3 is told to enable it', async (t) => {
  const port = await node(t, { ...good, maxVersion: 'TLSv1.2' });
  const r = await grade(port);
  assert.match(finding(r, 'GRADE_NO_TLS1_3').fix, /enable TLS 1\.3/);
});

test('RSA key exchange only (AES128-SHA): no forward secrecy, RSA kx and no AEAD', async (t) => {
  const dir = tempDir(t);
  const files = await opensslChain(dir);
  const s = await startSServer(files, ['-no_tls1_3', '-cipher', 'AES128-SHA']);
  t.after(s.close);
  const r = await grade(s.port, { ca: parseCertificates(readFileSync(files.ca)) });
  assert.deepEqual(
    r.suites.map((x) => x.name),
    ['AES128-SHA'],
  );
  assert.match(finding(r, 'GRADE_RSA_KEY_EXCHANGE').fix, /!kRSA/);
  assert.match(finding(r, 'GRADE_NO_FORWARD_SECRECY').fix, /ECDHE/);
  assert.match(finding(r, 'GRADE_NO_AEAD').fix, /GCM|AESGCM/);
});

test('CBC suites next to GCM ones are an info finding that names them', async (t) => {
  const port = await node(t, { ...good, maxVersion: 'TLSv1.2', ciphers: 'ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-ECDSA-AES128-SHA' });
  const r = await grade(port);
  const f = finding(r, 'GRADE_CIPHER_CBC');
  assert.match(f.what, /ECDHE-ECDSA-AES128-SHA/);
  absent(r, 'GRADE_NO_AEAD');
  absent(r, 'GRADE_RSA_KEY_EXCHANGE');
});

test('a SHA-1-signed certificate (openssl x509 -sha1) is named with its position', async (t) => {
  const dir = tempDir(t);
  const files = await opensslChain(dir, { hash: 'sha1' });
  const s = await startSServer(files, ['-cipher', 'DEFAULT@SECLEVEL=0']);
  t.after(s.close);
  const r = await grade(s.port, { ca: parseCertificates(readFileSync(files.ca)) });
  const f = finding(r, 'GRADE_SIGNATURE_SHA1');
  assert.equal(f.certificate, 0);
  assert.match(f.fix, /SHA-256/);
});

test('a 1024-bit RSA key is refused from security level 2 (the Debian default) up', async (t) => {
  const dir = tempDir(t);
  const files = await opensslChain(dir, { leafKey: 'rsa:1024' });
  const s = await startSServer(files, ['-cipher', 'DEFAULT@SECLEVEL=0']);
  t.after(s.close);
  const r = await grade(s.port, { ca: parseCertificates(readFileSync(files.ca)) });
  const f = finding(r, 'GRADE_KEY_TOO_SMALL');
  assert.match(f.what, /1024-bit RSA.*security level 2/);
  assert.match(f.fix, /2048/);
});

test('no ALPN: h2 is not offered', async (t) => {
  const dir = tempDir(t);
  const files = await opensslChain(dir);
  const s = await startSServer(files, []);
  t.after(s.close);
  const r = await grade(s.port, { ca: parseCertificates(readFileSync(files.ca)) });
  assert.equal(r.alpn, null);
  assert.match(finding(r, 'GRADE_NO_ALPN_H2').fix, /HTTP\/2/);
});

test('a server without tickets (-no_ticket) resumes by session id only', async (t) => {
  const dir = tempDir(t);
  const files = await opensslChain(dir);
  const s = await startSServer(files, ['-no_ticket']);
  t.after(s.close);
  const r = await grade(s.port, { ca: parseCertificates(readFileSync(files.ca)) });
  assert.deepEqual(r.resumption, { tickets: false, sessionIds: true });
  assert.match(finding(r, 'GRADE_NO_SESSION_TICKETS').fix, /session tickets/);
  absent(r, 'GRADE_NO_RESUMPTION');
});

test('a server that resumes nothing is a warning', async (t) => {
  const dir = tempDir(t);
  const files = await opensslChain(dir);
  const s = await startSServer(files, ['-no_ticket', '-no_cache']);
  t.after(s.close);
  const r = await grade(s.port, { ca: parseCertificates(readFileSync(files.ca)) });
  assert.match(finding(r, 'GRADE_NO_RESUMPTION').fix, /ssl_session_cache/);
});

test('an OCSP response stapled from -status_file is seen', async (t) => {
  const dir = tempDir(t);
  const files = await opensslChain(dir);
  const resp = await ocspResponse(dir);
  const s = await startSServer(files, ['-status_file', resp]);
  t.after(s.close);
  const r = await grade(s.port, { ca: parseCertificates(readFileSync(files.ca)) });
  assert.equal(r.ocspStapled, true);
  absent(r, 'GRADE_OCSP_NOT_STAPLED');
});

test('no stapling, with an OCSP responder in the certificate: the finding says to turn it on', async (t) => {
  const dir = tempDir(t);
  const files = await opensslChain(dir);
  const s = await startSServer(files, []);
  t.after(s.close);
  const r = await grade(s.port, { ca: parseCertificates(readFileSync(files.ca)) });
  assert.equal(r.ocspStapled, false);
  assert.match(finding(r, 'GRADE_OCSP_NOT_STAPLED').fix, /stapling on/);
});

test('must-staple without a staple is an error', async (t) => {
  const dir = tempDir(t);
  const files = await opensslChain(dir, { mustStaple: true });
  const s = await startSServer(files, []);
  t.after(s.close);
  const r = await grade(s.port, { ca: parseCertificates(readFileSync(files.ca)) });
  const f = finding(r, 'GRADE_MUST_STAPLE_NOT_STAPLED');
  assert.equal(f.severity, 'error');
  assert.match(f.fix, /ssl_stapling on/);
});

test('no HSTS header on the HTTPS answer', async (t) => {
  const r = await grade(await node(t, { ...good, https: (res) => res.end('ok') }));
  assert.match(finding(r, 'GRADE_HSTS_MISSING').fix, /max-age=31536000/);
});

test('an HSTS max-age under 180 days', async (t) => {
  const r = await grade(await node(t, { ...good, https: (res) => res.writeHead(200, { 'strict-transport-security': 'max-age=300' }).end('ok') }));
  assert.match(finding(r, 'GRADE_HSTS_SHORT').what, /max-age 300/);
});

test('HSTS is not judged on a port that does not answer HTTP', async (t) => {
  const port = await node(t, good);
  const r = await grade(port);
  assert.equal(r.http, null);
  absent(r, 'GRADE_HSTS_MISSING');
});

test('a server that fails without SNI needs it', async (t) => {
  const ctx = createSecureContext(good);
  const r = await grade(await node(t, { SNICallback: (_n, cb) => cb(null, ctx) }));
  assert.match(finding(r, 'GRADE_SNI_REQUIRED').fix, /-servername localhost/);
});

test('a server whose default certificate (no SNI) is another one', async (t) => {
  const ctx = createSecureContext(good);
  const other = await leafSpec(pki, { subject: 'CN=default.test', dns: ['default.test'], ip: [] });
  const r = await grade(await node(t, { cert: other.certPem + pki.inter.certPem, key: other.keyPem, SNICallback: (_n, cb) => cb(null, ctx) }));
  assert.match(finding(r, 'GRADE_NO_SNI_OTHER_CERT').what, /default\.test/);
});

/** Grades a Node TLS server that sends `chain` with the key of its first certificate. */
async function served(t: import('node:test').TestContext, chain: string[], key: string): Promise<GradeReport> {
  return grade(await node(t, { cert: chain.join(''), key }));
}

test('the chain as sent out of order is a finding that says which order to write', async (t) => {
  const r = await served(t, [pki.leaf.certPem, pki.root.certPem, pki.inter.certPem], pki.leaf.keyPem);
  assert.match(finding(r, 'GRADE_CHAIN_WRONG_ORDER').fix, /server certificate first/);
});

test('a root sent with the chain is named by its position', async (t) => {
  const r = await served(t, [pki.leaf.certPem, pki.inter.certPem, pki.root.certPem], pki.leaf.keyPem);
  assert.equal(finding(r, 'GRADE_CHAIN_ROOT_SENT').certificate, 2);
  absent(r, 'GRADE_CHAIN_INCOMPLETE');
});

test('a certificate off the path is an extra certificate', async (t) => {
  const r = await served(t, [pki.leaf.certPem, pki.inter.certPem, pki.otherRoot.certPem], pki.leaf.keyPem);
  assert.equal(finding(r, 'GRADE_CHAIN_EXTRA_CERT').certificate, 2);
});

test('a missing intermediate names the issuer the server does not send', async (t) => {
  const r = await served(t, [pki.leaf.certPem], pki.leaf.keyPem);
  const f = finding(r, 'GRADE_CHAIN_INCOMPLETE');
  assert.match(f.what, /Certgate Test Intermediate/);
  assert.match(f.fix, /fullchain/);
});

test('a certificate without subjectAltName', async (t) => {
  const c = await leafSpec(pki, { subject: 'CN=localhost', dns: [], ip: [] });
  const r = await served(t, [c.certPem, pki.inter.certPem], c.keyPem);
  assert.match(finding(r, 'GRADE_CERT_NO_SAN').fix, /subjectAltName/);
});

test('a certificate whose extendedKeyUsage lacks serverAuth', async (t) => {
  const c = await leafSpec(pki, { extendedKeyUsage: ['clientAuth'] });
  const r = await served(t, [c.certPem, pki.inter.certPem], c.keyPem);
  assert.match(finding(r, 'GRADE_CERT_NO_SERVER_AUTH').fix, /serverAuth/);
});

test('a server certificate that says CA:TRUE', async (t) => {
  const c = await leafSpec(pki, { ca: true });
  const r = await served(t, [c.certPem, pki.inter.certPem], c.keyPem);
  assert.match(finding(r, 'GRADE_CERT_LEAF_IS_CA').fix, /CA:FALSE/);
});

test('an EC key with keyUsage keyEncipherment is inconsistent with its key type', async (t) => {
  const c = await leafSpec(pki, { keyUsage: ['digitalSignature', 'keyEncipherment'] });
  const r = await served(t, [c.certPem, pki.inter.certPem], c.keyPem);
  assert.match(finding(r, 'GRADE_CERT_KEY_USAGE').fix, /digitalSignature only/);
});

test('under a third of its lifetime left is close to expiry', async (t) => {
  const now = Date.now();
  const c = await leafSpec(pki, { notBefore: new Date(now - days(80)), notAfter: new Date(now + days(10)) });
  const r = await served(t, [c.certPem, pki.inter.certPem], c.keyPem);
  assert.match(finding(r, 'GRADE_CERT_EXPIRING').what, /of its 90 days left/);
});

test('the same days left on a short-lived certificate are not close to expiry', async (t) => {
  const now = Date.now();
  const c = await leafSpec(pki, { notBefore: new Date(now - days(5)), notAfter: new Date(now + days(10)) });
  const r = await served(t, [c.certPem, pki.inter.certPem], c.keyPem);
  absent(r, 'GRADE_CERT_EXPIRING');
});

test('a 1024-bit DH group behind DHE suites is weak', async (t) => {
  const dir = tempDir(t);
  // OpenSSL sizes its automatic DH group to the certificate key: a 1024-bit key gets a 1024-bit group.
  const files = await opensslChain(dir, { leafKey: 'rsa:1024' });
  const s = await startSServer(files, ['-no_tls1_3', '-cipher', 'DHE-RSA-AES128-GCM-SHA256@SECLEVEL=0']);
  t.after(s.close);
  const r = await grade(s.port, { ca: parseCertificates(readFileSync(files.ca)) });
  assert.equal(r.dhBits, 1024);
  assert.match(finding(r, 'GRADE_DH_WEAK').fix, /2048/);
});

test('a server that lets the client pick the suite has no cipher order', async (t) => {
  const dir = tempDir(t);
  const files = await opensslChain(dir);
  const s = await startSServer(files, ['-no_tls1_3', '-cipher', 'ECDHE-RSA-AES128-GCM-SHA256:AES128-SHA']);
  t.after(s.close);
  const r = await grade(s.port, { ca: parseCertificates(readFileSync(files.ca)) });
  assert.equal(r.serverCipherOrder, false);
  assert.match(finding(r, 'GRADE_NO_CIPHER_ORDER').fix, /ssl_prefer_server_ciphers on/);
});

test('a server with its own order (-serverpref) is not flagged', async (t) => {
  const dir = tempDir(t);
  const files = await opensslChain(dir);
  const s = await startSServer(files, ['-no_tls1_3', '-serverpref', '-cipher', 'ECDHE-RSA-AES128-GCM-SHA256:AES128-SHA']);
  t.after(s.close);
  const r = await grade(s.port, { ca: parseCertificates(readFileSync(files.ca)) });
  assert.equal(r.serverCipherOrder, true);
  absent(r, 'GRADE_NO_CIPHER_ORDER');
});
