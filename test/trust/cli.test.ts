import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { existsSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { rootCertificates } from 'node:tls';
import { promisify } from 'node:util';
import { run } from '../../src/cli/run.ts';
import { LocalCa } from '../../src/localca/local-ca.ts';
import { createCertificate } from '../../src/pki/generate.ts';
import { cleanEnv } from '../helpers/env.ts';
import { fakeIo } from '../helpers/io.ts';
import { days, makePki } from '../helpers/pki.ts';
import { startHttpServer, startHttpsServer, startStartTlsServer, startTlsServer } from '../helpers/servers.ts';
import { tempDir } from '../helpers/tmp.ts';

const exec = promisify(execFile);
const pki = await makePki();
// Node's bundled roots expire (Entrust's did on 2026-11-27 and turned this suite red): use the one
// that lives longest, so the test does not depend on which roots are still valid today.
const longestSystemRoot = [...rootCertificates].sort(
  (a, b) => Date.parse(new X509Certificate(b).validTo) - Date.parse(new X509Certificate(a).validTo),
)[0] as string;

function setup(t: Parameters<typeof tempDir>[0]) {
  const dir = tempDir(t);
  const data = join(dir, 'data');
  const io = () => fakeIo({ cwd: dir, env: { CERTGATE_DATA: data } });
  return { dir, data, io, caCerts: join(data, 'ca-certs') };
}

test('trust add validates before it stores: CAs in, leaves and keys refused with the right move', async (t) => {
  const { dir, io, caCerts } = setup(t);
  const expired = await createCertificate({
    subject: 'CN=Old Root',
    ca: true,
    notBefore: new Date(Date.now() - days(400)),
    notAfter: new Date(Date.now() - days(5)),
  });
  const self = await createCertificate({ subject: 'CN=db.internal', dns: ['db.internal'] });
  writeFileSync(join(dir, 'mixed.pem'), pki.leaf.certPem + pki.inter.certPem + pki.root.certPem + pki.leaf.keyPem);
  writeFileSync(join(dir, 'expired.pem'), expired.certPem);
  writeFileSync(join(dir, 'self.pem'), self.certPem);
  writeFileSync(join(dir, 'system.pem'), longestSystemRoot);
  const a = io();
  assert.equal(await run(['trust', 'add', 'mixed.pem', 'expired.pem', 'self.pem', 'system.pem', '--json'], a), 1, a.stderr);
  const r = JSON.parse(a.stdout);
  assert.deepEqual(r.added.map((x: { subject: string }) => x.subject).sort(), [
    'CN=Certgate Test Intermediate, O=Certgate Tests',
    'CN=Certgate Test Root, O=Certgate Tests',
  ]);
  assert.deepEqual(r.refused.map((x: { code: string }) => x.code).sort(), ['E_TRUST_EXPIRED', 'E_TRUST_LEAF', 'E_TRUST_LEAF']);
  assert.match(r.refused.find((x: { subject: string }) => x.subject === 'CN=db.internal').fix, /pin it on the resource/);
  assert.match(r.refused.find((x: { subject: string }) => x.subject === 'CN=app.test').fix, /add its issuing CA "Certgate Test Intermediate"/);
  assert.deepEqual(r.keysRefused, ['mixed.pem']);
  assert.equal(r.skipped[0].code, 'IN_SYSTEM_ROOTS');
  const files = readdirSync(caCerts).sort();
  assert.equal(files.length, 2);
  for (const f of files) assert.doesNotMatch((await import('node:fs')).readFileSync(join(caCerts, f), 'utf8'), /PRIVATE KEY/, 'the key is never copied');
  // again: duplicates are skipped, nothing rewritten
  const b = io();
  assert.equal(await run(['trust', 'add', 'mixed.pem', '--json'], b), 1);
  assert.deepEqual(
    JSON.parse(b.stdout).skipped.map((x: { code: string }) => x.code),
    ['DUPLICATE', 'DUPLICATE'],
  );
});

test('an intermediate alone is added with the warning that its root is needed too', async (t) => {
  const { dir, io } = setup(t);
  writeFileSync(join(dir, 'inter.pem'), pki.inter.certPem);
  const a = io();
  assert.equal(await run(['trust', 'add', 'inter.pem'], a), 0);
  assert.match(a.stdout, /\+ added certgate-test-intermediate-[0-9a-f]{8}\.crt/);
  assert.match(a.stdout, /add its root "Certgate Test Root" too/);
  assert.match(a.stdout, /"Certgate Test Intermediate" is an intermediate CA/);
});

test('junk in ca-certs: the fix names the file to remove, with its path', async (t) => {
  const { io, caCerts } = setup(t);
  const { mkdirSync } = await import('node:fs');
  mkdirSync(caCerts, { recursive: true });
  writeFileSync(join(caCerts, 'junk.pem'), 'not a cert');
  const l = io();
  assert.equal(await run(['trust', 'list', '--json'], l), 1);
  const problem = JSON.parse(l.stdout).problems[0];
  assert.equal(problem.code, 'E_INPUT_FORMAT');
  assert.ok(problem.fix.includes(`remove ${join(caCerts, 'junk.pem')}`), problem.fix);
});

test('trust env with one certificate in ca-certs says "1 CA certificate", not "1 CA certificate(s)"', async (t) => {
  const { dir, io } = setup(t);
  writeFileSync(join(dir, 'root.pem'), pki.root.certPem);
  assert.equal(await run(['trust', 'add', 'root.pem'], io()), 0);
  const e = io();
  assert.equal(await run(['trust', 'env', '--no-system-roots'], e), 0);
  assert.match(e.stdout, /^# certgate trust env: 1 CA certificate from /);
});

test('trust list, remove, and the exit code for junk in ca-certs', async (t) => {
  const { dir, io, caCerts } = setup(t);
  writeFileSync(join(dir, 'r.pem'), pki.root.certPem + pki.otherRoot.certPem);
  assert.equal(await run(['trust', 'add', 'r.pem'], io()), 0);
  const l = io();
  assert.equal(await run(['trust', 'list', '--json'], l), 0);
  const listed = JSON.parse(l.stdout);
  assert.equal(listed.certificates.length, 2);
  assert.equal(listed.certificates[0].daysLeft >= 89, true);
  const fp = listed.certificates.find((c: { subject: string }) => c.subject.includes('Some Other Root')).sha256.slice(0, 11);
  const rm = io();
  assert.equal(await run(['trust', 'remove', fp], rm), 0, rm.stderr);
  assert.match(rm.stdout, /removed "Some Other Root"/);
  const miss = io();
  assert.equal(await run(['trust', 'remove', 'nothing-like-this'], miss), 2);
  assert.match(miss.stderr, /^error E_TRUST_NOT_FOUND/);
  writeFileSync(join(caCerts, 'junk.pem'), 'not a cert');
  const l2 = io();
  assert.equal(await run(['trust', 'list'], l2), 1);
  assert.match(l2.stdout, /✗ E_INPUT_FORMAT: junk\.pem/);
});

test('trust add --from picks the root the server sent, never its own certificate; --yes for scripts', async (t) => {
  const { io, caCerts } = setup(t);
  const server = await startTlsServer({ chain: [pki.leaf.certPem, pki.inter.certPem, pki.root.certPem], key: pki.leaf.keyPem });
  t.after(() => server.close());
  const target = `127.0.0.1:${server.port}`;
  const noYes = io();
  assert.equal(await run(['trust', 'add', '--from', target, '--servername', 'app.test'], noYes), 2);
  assert.match(noYes.stderr, /^error E_CONFIRM: .*\n {2}fix: pass --yes/);
  assert.equal(existsSync(caCerts), false, 'nothing written without confirmation');
  const ok = io();
  assert.equal(await run(['trust', 'add', '--from', target, '--servername', 'app.test', '--yes'], ok), 0, ok.stderr);
  assert.match(ok.stdout, /picked: #2 "Certgate Test Root" is the root CA .* #0 "app\.test" is the server's own certificate and is not added/);
  assert.equal(readdirSync(caCerts).length, 1);
  // now trust verify succeeds with the store, with system roots too
  const v = io();
  assert.equal(await run(['trust', 'verify', target, '--servername', 'app.test'], v), 0, v.stdout);
  assert.match(v.stdout, /Trust\s+Node's bundled roots \+ ca-certs \(1 in /);
});

test('trust add --from follows the AIA URL when the server does not send its root, and refuses a self-signed server', async (t) => {
  const { io } = setup(t);
  const aia = await startHttpServer((path) => (path === '/root.der' ? { status: 200, body: pki.root.der } : undefined));
  t.after(() => aia.close());
  const inter = await createCertificate({ subject: 'CN=AIA Intermediate', ca: true, issuer: pki.root, caIssuersUrl: `http://127.0.0.1:${aia.port}/root.der` });
  const leaf = await createCertificate({ subject: 'CN=app.test', issuer: inter, dns: ['app.test'] });
  const server = await startTlsServer({ chain: [leaf.certPem, inter.certPem], key: leaf.keyPem });
  t.after(() => server.close());
  const a = io();
  assert.equal(await run(['trust', 'add', '--from', `127.0.0.1:${server.port}`, '--yes'], a), 0, a.stderr);
  assert.match(a.stdout, /does not send its root.*fetched "Certgate Test Root" from http:\/\/127\.0\.0\.1:\d+\/root\.der/);

  const self = await createCertificate({ subject: 'CN=self.test', dns: ['self.test'] });
  const s2 = await startTlsServer({ chain: [self.certPem], key: self.keyPem });
  t.after(() => s2.close());
  const b = io();
  assert.equal(await run(['trust', 'add', '--from', `127.0.0.1:${s2.port}`, '--yes'], b), 2);
  assert.match(b.stderr, /^error E_TRUST_LEAF: .*self-signed.*\n {2}fix: pin it on the resource instead: certgate resources pin NAME --from/);
});

test('trust export (pem, openssl-dir) and trust env really work for OpenSSL and for a Node child', async (t) => {
  const { dir, io, data } = setup(t);
  writeFileSync(join(dir, 'root.pem'), pki.root.certPem);
  assert.equal(await run(['trust', 'add', 'root.pem'], io()), 0);
  const server = await startHttpsServer({ chain: [pki.leaf.certPem, pki.inter.certPem], key: pki.leaf.keyPem });
  t.after(() => server.close());

  const pem = io();
  assert.equal(await run(['trust', 'export', '--no-system-roots'], pem), 0);
  assert.match(pem.stdout, /^# CN=Certgate Test Root, O=Certgate Tests\n-----BEGIN CERTIFICATE-----/);
  assert.equal(pem.stdout.match(/BEGIN CERTIFICATE/g)?.length, 1);

  const hashed = io();
  assert.equal(await run(['trust', 'export', '--format', 'openssl-dir', '--out', 'hashed', '--no-system-roots'], hashed), 0, hashed.stderr);
  assert.ok(
    readdirSync(join(dir, 'hashed')).some((f) => /^[0-9a-f]{8}\.0$/.test(f)),
    'openssl hash links',
  );
  writeFileSync(join(dir, 'chain.pem'), pki.leaf.certPem);
  writeFileSync(join(dir, 'inter.pem'), pki.inter.certPem);
  const verified = await exec('openssl', ['verify', '-CApath', join(dir, 'hashed'), '-untrusted', join(dir, 'inter.pem'), join(dir, 'chain.pem')]);
  assert.match(verified.stdout, /chain\.pem: OK/);

  const e = io();
  assert.equal(await run(['trust', 'env', '--json'], e), 0, e.stderr);
  const env = JSON.parse(e.stdout);
  const names = env.variables.map((v: { name: string }) => v.name);
  for (const n of ['NODE_EXTRA_CA_CERTS', 'SSL_CERT_FILE', 'SSL_CERT_DIR', 'CURL_CA_BUNDLE', 'REQUESTS_CA_BUNDLE']) assert.ok(names.includes(n), n);
  const extra = env.variables.find((v: { name: string }) => v.name === 'NODE_EXTRA_CA_CERTS').value;
  assert.ok(extra.startsWith(join(data, 'generated')));
  // A child Node process given exactly NODE_EXTRA_CA_CERTS (set here, cleared of everything else) trusts the server.
  const script = `require('https').get({host:'127.0.0.1',port:${server.port},servername:'app.test',path:'/'},r=>{console.log('status',r.statusCode);process.exit(0)}).on('error',e=>{console.log('error',e.code);process.exit(0)})`;
  const childEnv = cleanEnv();
  const without = await exec(process.execPath, ['-e', script], { env: childEnv });
  assert.match(without.stdout, /error UNABLE_TO_GET_ISSUER_CERT_LOCALLY/);
  const withExtra = await exec(process.execPath, ['-e', script], { env: { ...childEnv, NODE_EXTRA_CA_CERTS: extra } });
  assert.match(withExtra.stdout, /status 200/);
  const sh = io();
  assert.equal(await run(['trust', 'env'], sh), 0);
  assert.match(sh.stdout, /^export NODE_EXTRA_CA_CERTS=\S+ {3}# Node\.js/m);
});

test('the trust add --from that inspect suggests for a STARTTLS port carries --starttls and --servername, and works', async (t) => {
  const { io, caCerts } = setup(t);
  const server = await startStartTlsServer('mysql', { chain: [pki.leaf.certPem, pki.inter.certPem, pki.root.certPem], key: pki.leaf.keyPem });
  t.after(() => server.close());
  const target = `127.0.0.1:${server.port}`;
  const i = io();
  assert.equal(await run(['inspect', target, '--starttls', 'mysql', '--servername', 'app.test', '--json'], i), 1, i.stderr);
  const fix = JSON.parse(i.stdout).findings.find((f: { code: string }) => f.code === 'UNTRUSTED_ROOT').fix as string;
  const suggested = /certgate (trust add --from \S+(?: --\S+ \S+)*)/.exec(fix)?.[1];
  assert.equal(suggested, `trust add --from ${target} --starttls mysql --servername app.test`);
  const a = io();
  assert.equal(await run([...(suggested as string).split(' '), '--yes'], a), 0, a.stderr);
  assert.match(a.stdout, /added certgate-test-root-/);
  assert.equal(readdirSync(caCerts).length, 1);
});

/** What `openssl req -x509 -subj /CN=db.internal -addext subjectAltName=DNS:db.internal` writes: CA:TRUE, no keyUsage. */
const opensslSelfSigned = () => createCertificate({ subject: 'CN=db.internal', ca: true, dns: ['db.internal', 'localhost'], ip: ['127.0.0.1'], keyUsage: [] });

test("trust add FILE refuses a self-signed CA:TRUE server certificate (openssl req -x509) as the server's own: pin it", async (t) => {
  const { dir, io, caCerts } = setup(t);
  writeFileSync(join(dir, 'server.pem'), (await opensslSelfSigned()).certPem);
  const a = io();
  assert.equal(await run(['trust', 'add', 'server.pem', '--json'], a), 1, a.stderr);
  const r = JSON.parse(a.stdout);
  assert.deepEqual(r.added, []);
  assert.equal(r.refused[0].code, 'E_TRUST_LEAF');
  assert.match(r.refused[0].reason, /server's own self-signed certificate .*CA:TRUE/);
  assert.match(r.refused[0].fix, /pin it on the resource/);
  assert.equal(existsSync(caCerts), false);
});

test('trust add --from a server presenting a self-signed CA:TRUE certificate says pin it, once, even when ca-certs holds it', async (t) => {
  const { io, caCerts } = setup(t);
  const self = await opensslSelfSigned();
  const server = await startTlsServer({ chain: [self.certPem], key: self.keyPem });
  t.after(() => server.close());
  const { mkdirSync } = await import('node:fs');
  mkdirSync(caCerts, { recursive: true });
  writeFileSync(join(caCerts, 'by-hand.crt'), self.certPem);
  const a = io();
  assert.equal(await run(['trust', 'add', '--from', `127.0.0.1:${server.port}`, '--yes'], a), 2);
  assert.match(a.stderr, /^error E_TRUST_LEAF: .*"db\.internal" is self-signed.*\n {2}fix: pin it on the resource instead: certgate resources pin NAME --from/);
  assert.doesNotMatch(a.stdout + a.stderr, /already in ca-certs|picked:/);
});

test('a self-signed CA:TRUE server certificate dropped into ca-certs is reported and not trusted', async (t) => {
  const { io, caCerts } = setup(t);
  const { mkdirSync } = await import('node:fs');
  mkdirSync(caCerts, { recursive: true });
  writeFileSync(join(caCerts, 'db.crt'), (await opensslSelfSigned()).certPem);
  const l = io();
  assert.equal(await run(['trust', 'list', '--json'], l), 1);
  const listed = JSON.parse(l.stdout);
  assert.deepEqual(listed.certificates, []);
  assert.equal(listed.problems[0].code, 'E_TRUST_LEAF');
  assert.equal(listed.problems[0].file, 'db.crt');
});

test('trust add --from a server with a certgate local-CA leaf points to certgate local-ca path, not a PKI team', async (t) => {
  const { dir, io } = setup(t);
  const bundle = await new LocalCa({ dir: join(dir, 'local-ca') }).issue(['localhost', '127.0.0.1']);
  const server = await startTlsServer({ chain: [bundle.certPem], key: bundle.keyPem });
  t.after(() => server.close());
  const a = io();
  assert.equal(await run(['trust', 'add', '--from', `127.0.0.1:${server.port}`, '--yes'], a), 2);
  assert.match(a.stderr, /^error E_TRUST_ROOT_MISSING: .*"certgate local CA [^"]+" is certgate's local CA/);
  assert.match(a.stderr, /fix: trust the local CA: certgate trust add "\$\(certgate local-ca path\)" --yes .*certgate local-ca export/);
});
