import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import { copyFileSync, mkdirSync, writeFileSync } from 'node:fs';
import { connect as netConnect } from 'node:net';
import { join } from 'node:path';
import { test } from 'node:test';
import { promisify } from 'node:util';
import { run } from '../../src/cli/run.ts';
import { createCertificate } from '../../src/pki/generate.ts';
import { cleanEnv } from '../helpers/env.ts';
import { fakeIo } from '../helpers/io.ts';
import { days, makePki } from '../helpers/pki.ts';
import { startTlsServer } from '../helpers/servers.ts';
import { tempDir } from '../helpers/tmp.ts';

const pki = await makePki({ caIssuersUrl: 'http://127.0.0.1:9/inter.der' });
const ESC = String.fromCharCode(27);

test('decode: human blocks with arrows, the key matched, exit 0', async (t) => {
  const dir = tempDir(t);
  writeFileSync(join(dir, 'chain.pem'), pki.leaf.certPem + pki.inter.certPem);
  writeFileSync(join(dir, 'key.pem'), pki.leaf.keyPem);
  const io = fakeIo({ cwd: dir });
  const code = await run(['decode', 'chain.pem', 'key.pem'], io);
  assert.equal(code, 0, io.stderr);
  assert.match(io.stdout, /\*\* CERTIFICATE #0 \*\* {2}leaf/);
  assert.match(io.stdout, /↓ issued by\n\*\* CERTIFICATE #1 \*\* {2}intermediate CA/);
  assert.match(io.stdout, /SANs {7}DNS:app\.test, DNS:localhost, IP:127\.0\.0\.1/);
  assert.match(io.stdout, /\(89 days left\)|\(90 days left\)/);
  assert.match(io.stdout, /PRIVATE KEY \*\* {2}ECDSA P-256 \(pkcs8\) in key\.pem: matches certificate #0/);
  assert.ok(!io.stdout.includes(ESC), 'no colour when not a TTY');
  assert.doesNotMatch(io.stdout, /BEGIN PRIVATE KEY/);
});

test('decode --json: the documented schema', async () => {
  const io = fakeIo({ stdin: Buffer.from(pki.leaf.certPem) });
  assert.equal(await run(['decode', '--json'], io), 0);
  const out = JSON.parse(io.stdout);
  assert.deepEqual(Object.keys(out), ['status', 'findings', 'certificates', 'keys', 'requests']);
  assert.equal(out.status, 'ok');
  const c = out.certificates[0];
  for (const key of [
    'index',
    'source',
    'issuedBy',
    'subject',
    'issuer',
    'serialNumber',
    'notBefore',
    'notAfter',
    'daysLeft',
    'subjectAltNames',
    'publicKey',
    'signatureAlgorithm',
    'basicConstraints',
    'keyUsage',
    'extendedKeyUsage',
    'subjectKeyId',
    'authorityKeyId',
    'authorityInfoAccess',
    'crlDistributionPoints',
    'sctCount',
    'fingerprints',
    'spkiSha256',
    'kind',
  ]) {
    assert.ok(key in c, `certificates[].${key}`);
  }
  assert.equal(c.source, 'stdin');
  assert.deepEqual(c.authorityInfoAccess.caIssuers, ['http://127.0.0.1:9/inter.der']);
});

test('decode: colour on a TTY, none with NO_COLOR; an expired certificate exits 1', async () => {
  const expired = await createCertificate({
    subject: 'CN=old.test',
    dns: ['old.test'],
    issuer: pki.inter,
    notBefore: new Date(Date.now() - days(100)),
    notAfter: new Date(Date.now() - days(1)),
  });
  const tty = fakeIo({ stdin: Buffer.from(expired.certPem), isTTY: true });
  assert.equal(await run(['decode'], tty), 1);
  assert.match(tty.stdout, new RegExp(`${ESC}\\[31m\\(expired [12] days ago\\)`));
  assert.match(tty.stdout, /CERT_EXPIRED/);
  const noColor = fakeIo({ stdin: Buffer.from(expired.certPem), isTTY: true, env: { NO_COLOR: '1' } });
  assert.equal(await run(['decode'], noColor), 1);
  assert.ok(!noColor.stdout.includes(ESC));
});

function permutations<T>(items: readonly T[]): T[][] {
  if (items.length <= 1) return [[...items]];
  return items.flatMap((x, i) => permutations([...items.slice(0, i), ...items.slice(i + 1)]).map((rest) => [x, ...rest]));
}

async function decodeFindings(pems: string[]): Promise<string[]> {
  const io = fakeIo({ stdin: Buffer.from(pems.join('')) });
  await run(['decode', '--json'], io);
  return JSON.parse(io.stdout).findings.map((f: { code: string }) => f.code);
}

test('decode: a 3-certificate chain in any order but leaf → issuer → root is CHAIN_WRONG_ORDER, and nothing else', async () => {
  const inOrder = [pki.leaf.certPem, pki.inter.certPem, pki.root.certPem];
  for (const perm of permutations(inOrder)) {
    const codes = await decodeFindings(perm);
    const shuffled = perm.some((pem, i) => pem !== inOrder[i]);
    assert.deepEqual(codes, shuffled ? ['CHAIN_WRONG_ORDER'] : [], perm.map((p) => inOrder.indexOf(p)).join(','));
  }
});

test('decode: every shuffled order of a 4-certificate chain is found', async () => {
  const root = await createCertificate({ subject: 'CN=Order Root', ca: true });
  const i1 = await createCertificate({ subject: 'CN=Order Intermediate 1', ca: true, issuer: root });
  const i2 = await createCertificate({ subject: 'CN=Order Intermediate 2', ca: true, issuer: i1 });
  const leaf = await createCertificate({ subject: 'CN=order.test', issuer: i2, dns: ['order.test'] });
  const inOrder = [leaf.certPem, i2.certPem, i1.certPem, root.certPem];
  const all = permutations(inOrder);
  assert.equal(all.length, 24);
  for (const perm of all) {
    const codes = await decodeFindings(perm);
    const shuffled = perm.some((pem, i) => pem !== inOrder[i]);
    assert.deepEqual(codes, shuffled ? ['CHAIN_WRONG_ORDER'] : [], perm.map((p) => inOrder.indexOf(p)).join(','));
  }
});

test('decode with no file on a terminal says it reads standard input, and how to end it', async () => {
  const io = fakeIo({ stdin: Buffer.from(pki.leaf.certPem) });
  io.prompt = async () => ''; // what main.ts gives when standard input is a terminal
  assert.equal(await run(['decode'], io), 0, io.stderr);
  assert.equal(io.stderr, 'reading certificates from standard input (paste PEM, end with Ctrl-D)…\n');
});

test('decode from a pipe prints no notice', async () => {
  const io = fakeIo({ stdin: Buffer.from(pki.leaf.certPem) });
  assert.equal(await run(['decode'], io), 0);
  assert.equal(io.stderr, '');
});

test('a wrong passphrase for an ENCRYPTED PRIVATE KEY block is E_KEY_PASSPHRASE, worded once', async () => {
  const { generateKeyPairSync } = await import('node:crypto');
  const { privateKey } = generateKeyPairSync('ec', {
    namedCurve: 'P-256',
    privateKeyEncoding: { type: 'pkcs8', format: 'pem', cipher: 'aes-256-cbc', passphrase: 'right' },
    publicKeyEncoding: { type: 'spki', format: 'pem' },
  });
  const io = fakeIo({ stdin: Buffer.from(privateKey), env: { CERTGATE_PASSWORD: 'wrong' } });
  assert.equal(await run(['decode', '-'], io), 2);
  assert.match(io.stderr, /^error E_KEY_PASSPHRASE: stdin line 1: the encrypted PKCS#8 private key: the passphrase is wrong/);
  assert.doesNotMatch(io.stderr, /encrypted ENCRYPTED/);
});

test('decode: a key that matches none of the certificates is an error', async () => {
  const io = fakeIo({ stdin: Buffer.from(pki.leaf.certPem + pki.otherRoot.keyPem) });
  assert.equal(await run(['decode', '--json'], io), 1);
  assert.equal(JSON.parse(io.stdout).findings[0].code, 'KEY_MISMATCH');
});

test('usage and input errors: one line with a code and a fix, exit 2, never a stack', async (t) => {
  const dir = tempDir(t);
  writeFileSync(join(dir, 'empty.pem'), '');
  writeFileSync(join(dir, 'junk.bin'), Buffer.from([0, 1, 2, 3, 255]));
  const cases: Array<[string[], RegExp]> = [
    [['frobnicate'], /^error E_USAGE: unknown command "frobnicate"\n {2}fix: /],
    [['decode', '--nope'], /^error E_USAGE: Unknown option '--nope'/],
    [['decode', 'missing.pem'], /^error E_FILE_NOT_FOUND: missing\.pem: no such file\n/],
    [['decode', 'empty.pem'], /^error E_INPUT_EMPTY: empty\.pem is empty\n/],
    [['decode', 'junk.bin'], /^error E_INPUT_FORMAT: /],
    [['decode', dir], /^error E_FILE_READ: .* is a directory/],
    [['inspect'], /^error E_USAGE: no target given/],
    [['inspect', 'host:port'], /^error E_USAGE: "port" in "host:port" is not a port number/],
    [['inspect', 'x:1', '--starttls', 'ftp'], /^error E_USAGE: --starttls ftp is not supported/],
    [['inspect', 'x:1', '--timeout', 'soon'], /^error E_USAGE: --timeout must be a positive whole number/],
    [['inspect', 'x:1', '--seclevel', '9'], /^error E_USAGE: --seclevel must be 0 to 5/],
    [['inspect', 'x:1', '--client-cert', 'a.pem'], /^error E_USAGE: --client-cert and --client-key go together/],
    [['verify', 'https://x/'], /^error E_USAGE: verify needs --ca BUNDLE/],
  ];
  for (const [argv, expected] of cases) {
    const io = fakeIo({ cwd: dir });
    assert.equal(await run(argv, io), 2, argv.join(' '));
    assert.match(io.stderr, expected, argv.join(' '));
    assert.doesNotMatch(io.stderr, /\n\s+at /, 'no stack trace');
    assert.equal(io.stderr.trim().split('\n').length, 2, `${argv.join(' ')}: error line + fix line`);
  }
  // a key where a certificate was expected
  writeFileSync(join(dir, 'key.pem'), pki.leaf.keyPem);
  const io = fakeIo({ cwd: dir });
  assert.equal(await run(['verify', '--ca', 'key.pem', '127.0.0.1:1'], io), 2);
  assert.match(io.stderr, /^error E_NOT_CERTIFICATE: key\.pem holds a private key, not a certificate/);
});

test('inspect and verify: exit 0 when good, 1 when the bundle does not verify', async (t) => {
  const dir = tempDir(t);
  writeFileSync(join(dir, 'root.pem'), pki.root.certPem);
  writeFileSync(join(dir, 'other.pem'), pki.otherRoot.certPem);
  const server = await startTlsServer({ chain: [pki.leaf.certPem, pki.inter.certPem], key: pki.leaf.keyPem });
  t.after(() => server.close());
  const target = `127.0.0.1:${server.port}`;
  const ok = fakeIo({ cwd: dir });
  assert.equal(await run(['verify', '--ca', 'root.pem', `https://${target}/`, '--servername', 'app.test'], ok), 0, ok.stdout + ok.stderr);
  assert.match(ok.stdout, /✓ trusted chain, and the certificate is valid for app\.test/);
  assert.match(ok.stdout, /verify: OK/);
  const bad = fakeIo({ cwd: dir });
  assert.equal(await run(['verify', '--ca', 'other.pem', target, '--servername', 'app.test'], bad), 1);
  assert.match(bad.stdout, /✗ UNTRUSTED_ROOT/);
  assert.match(bad.stdout, /verify: FAILED/);
  const json = fakeIo({ cwd: dir });
  assert.equal(await run(['inspect', target, '--servername', 'app.test', '--ca', 'root.pem', '--no-system-roots', '--json'], json), 0);
  const r = JSON.parse(json.stdout);
  assert.deepEqual(Object.keys(r), ['target', 'status', 'findings', 'tls', 'verification', 'chain', 'fetched']);
  assert.equal(r.status, 'ok');
  assert.equal(r.verification.trusted, true);
  assert.equal(r.chain.length, 2);
});

test('verify --ca BUNDLE: a missing root goes into BUNDLE, named with the CA, not into ca-certs', async (t) => {
  const dir = tempDir(t);
  writeFileSync(join(dir, 'bundle.pem'), pki.otherRoot.certPem);
  const server = await startTlsServer({ chain: [pki.leaf.certPem, pki.inter.certPem], key: pki.leaf.keyPem });
  t.after(() => server.close());
  const io = fakeIo({ cwd: dir });
  assert.equal(await run(['verify', '--ca', 'bundle.pem', `127.0.0.1:${server.port}`, '--servername', 'app.test', '--json'], io), 1);
  const f = JSON.parse(io.stdout).findings.find((x: { code: string }) => x.code === 'UNTRUSTED_ROOT');
  assert.match(f.fix, /add the root "Certgate Test Root" .* to bundle\.pem/);
  assert.doesNotMatch(f.fix, /ca-certs|trust add/);
});

test('verify --ca BUNDLE: a root the server sends is appended to BUNDLE by a command that reaches it', async (t) => {
  const dir = tempDir(t);
  writeFileSync(join(dir, 'bundle.pem'), pki.otherRoot.certPem);
  const server = await startTlsServer({ chain: [pki.leaf.certPem, pki.inter.certPem, pki.root.certPem], key: pki.leaf.keyPem });
  t.after(() => server.close());
  const target = `127.0.0.1:${server.port}`;
  const io = fakeIo({ cwd: dir });
  assert.equal(await run(['verify', '--ca', 'bundle.pem', target, '--servername', 'app.test', '--json'], io), 1);
  const f = JSON.parse(io.stdout).findings.find((x: { code: string }) => x.code === 'UNTRUSTED_ROOT');
  assert.match(f.fix, /"Certgate Test Root" .*add this one \(#2.* to bundle\.pem/);
  assert.ok(f.fix.includes(`certgate inspect ${target} --servername app.test --json | jq -r '.chain[2].pem' >> bundle.pem`), f.fix);
  assert.doesNotMatch(f.fix, /ca-certs|trust add/);
});

test('the built CLI runs as a process with the same exit codes', async (t) => {
  const dir = tempDir(t);
  writeFileSync(join(dir, 'leaf.pem'), pki.leaf.certPem);
  const exec = promisify(execFile);
  const bin = join(import.meta.dirname, '..', '..', 'bin', 'certgate.js');
  const ok = await exec(process.execPath, [bin, 'decode', join(dir, 'leaf.pem')]);
  assert.match(ok.stdout, /CERTIFICATE #0/);
  await assert.rejects(
    exec(process.execPath, [bin, 'decode', join(dir, 'nope.pem')]),
    (e: { code: number; stderr: string }) => e.code === 2 && /E_FILE_NOT_FOUND/.test(e.stderr),
  );
});

test('the built CLI names an error from a command loaded outside its bundle by code and fix, exit 2', async () => {
  const exec = promisify(execFile);
  const bin = join(import.meta.dirname, '..', '..', 'bin', 'certgate.js');
  await assert.rejects(exec(process.execPath, [bin, 'inspect']), (e: { code: number; stderr: string }) => {
    assert.equal(e.code, 2);
    assert.match(e.stderr, /^error E_USAGE: no target given\n {2}fix: usage: certgate inspect/);
    return true;
  });
});

test('a checkout that was never built: the bin says E_NOT_BUILT with the fix, exit 2, no stack trace', async (t) => {
  const dir = tempDir(t);
  mkdirSync(join(dir, 'bin'));
  for (const f of ['certgate.js', 'package.json']) copyFileSync(join(import.meta.dirname, '..', '..', 'bin', f), join(dir, 'bin', f));
  writeFileSync(join(dir, 'package.json'), '{"type":"module"}\n');
  const exec = promisify(execFile);
  await assert.rejects(exec(process.execPath, [join(dir, 'bin', 'certgate.js'), '--version']), (e: { code: number; stderr: string }) => {
    assert.equal(e.code, 2);
    assert.equal(
      e.stderr,
      'error E_NOT_BUILT: certgate is not built (no dist/cli/main.js)\n  fix: run `npm run build` in its directory (npm install runs it)\n',
    );
    return true;
  });
});

test('signals: a command other than serve ends on the first SIGTERM (Node default); serve drains, and a second signal stops it at once', {
  timeout: 30_000,
}, async (t) => {
  const dir = tempDir(t);
  const bin = join(import.meta.dirname, '..', '..', 'bin', 'certgate.js');
  const env = cleanEnv({ CERTGATE_DATA: join(dir, 'data') });
  const exitOf = (child: ReturnType<typeof spawn>) =>
    new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((r) => child.once('exit', (code, signal) => r({ code, signal })));
  const started = (child: ReturnType<typeof spawn>, text: string) =>
    new Promise<string>((r) => {
      let out = '';
      child.stderr?.on('data', (d) => {
        out += d;
        if (out.includes(text)) r(out);
      });
    });
  // logs --follow would follow for ever.
  const logs = spawn(process.execPath, [bin, 'logs', '--follow', '--json'], { env, stdio: ['ignore', 'pipe', 'pipe'] });
  await new Promise((r) => setTimeout(r, 700));
  logs.kill('SIGTERM');
  assert.deepEqual(await exitOf(logs), { code: null, signal: 'SIGTERM' });
  // serve with a request that never finishes its headers would drain for 10 s: the second signal ends it.
  const serve = spawn(process.execPath, [bin, 'serve', '--https-port', '0', '--http-port', '0', '--host', '127.0.0.1'], {
    env,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const banner = await started(serve, 'trust it:');
  const httpPort = Number(/http on port (\d+)/.exec(banner)?.[1]);
  const slow = netConnect({ port: httpPort, host: '127.0.0.1' }, () => slow.write('GET / HTTP/1.1\r\nHost: localhost\r\n'));
  slow.on('error', () => {});
  await new Promise((r) => slow.once('connect', r));
  const exited = exitOf(serve);
  serve.kill('SIGTERM');
  await new Promise((r) => setTimeout(r, 300));
  serve.kill('SIGTERM');
  assert.deepEqual(await exited, { code: 143, signal: null }, 'the second signal ends the drain (it would take 10 s)');
  slow.destroy();
});

test('inspect --timeout past what a timer can wait is a usage error, not a false E_TIMEOUT', async () => {
  const io = fakeIo();
  assert.equal(await run(['inspect', '127.0.0.1:1', '--timeout', '99999999999'], io), 2);
  assert.match(io.stderr, /^error E_USAGE: --timeout 99999999999 is over the limit of 600000/);
});
