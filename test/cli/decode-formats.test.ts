/**
 * decode on the inputs beyond PEM certificates: PKCS#10 requests (openssl req), Java keystores
 * (JKS, JCEKS) made by keytool, and PKCS#12 with a password. Everything generated at test time.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { type TestContext, test } from 'node:test';
import { run } from '../../src/cli/run.ts';
import { cleanEnv } from '../helpers/env.ts';
import { fakeIo } from '../helpers/io.ts';
import { makePki } from '../helpers/pki.ts';
import { tempDir } from '../helpers/tmp.ts';

const pki = await makePki();

function sh(cmd: string, args: string[], cwd: string): void {
  execFileSync(cmd, args, { cwd, env: cleanEnv(), stdio: ['ignore', 'ignore', 'pipe'] });
}

async function decode(args: string[], env: Record<string, string> = {}) {
  const io = fakeIo({ env });
  const code = await run(['decode', ...args], io);
  return { code, io, json: args.includes('--json') && code !== 2 ? JSON.parse(io.stdout) : null };
}

function csr(t: TestContext, extra: string[] = []): { dir: string; csr: string; key: string } {
  const dir = tempDir(t);
  sh(
    'openssl',
    [
      'req',
      '-new',
      '-newkey',
      'ec',
      '-pkeyopt',
      'ec_paramgen_curve:P-256',
      '-nodes',
      '-keyout',
      'k.pem',
      '-subj',
      '/CN=app.test/O=Certgate Tests',
      '-out',
      'req.csr',
      ...extra,
    ],
    dir,
  );
  return { dir, csr: join(dir, 'req.csr'), key: join(dir, 'k.pem') };
}

test('decode req.csr: subject, SANs, key, valid signature and the requested extensions', async (t) => {
  const f = csr(t, ['-addext', 'subjectAltName=DNS:app.test,DNS:www.app.test,IP:10.0.0.1', '-addext', 'extendedKeyUsage=serverAuth']);
  const { code, json } = await decode([f.csr, '--json']);
  assert.equal(code, 0);
  const r = json.requests[0];
  assert.equal(r.subject, 'O=Certgate Tests, CN=app.test'); // RFC 4514: the last RDN of -subj first
  assert.deepEqual(r.subjectAltNames.dns, ['app.test', 'www.app.test']);
  assert.deepEqual(r.subjectAltNames.ip, ['10.0.0.1']);
  assert.deepEqual(r.publicKey, { algorithm: 'ECDSA', bits: 256, curve: 'P-256' });
  assert.equal(r.signatureValid, true);
  assert.deepEqual(r.extendedKeyUsage, ['serverAuth']);
  assert.deepEqual(
    r.extensions.map((e: { name: string }) => e.name),
    ['subjectAltName', 'extendedKeyUsage'],
  );
  assert.deepEqual(json.findings, []);
});

test('decode req.csr as text prints the request (it used to print nothing)', async (t) => {
  const f = csr(t, ['-addext', 'subjectAltName=DNS:app.test']);
  const { code, io } = await decode([f.csr]);
  assert.equal(code, 0);
  assert.match(io.stdout, /CERTIFICATE REQUEST #0/);
  assert.match(io.stdout, /SANs\s+DNS:app\.test/);
  assert.match(io.stdout, /Signed\s+valid/);
});

test('decode a DER CSR with its key: the key matches the request', async (t) => {
  const f = csr(t, ['-addext', 'subjectAltName=DNS:app.test']);
  sh('openssl', ['req', '-in', 'req.csr', '-outform', 'DER', '-out', 'req.der'], f.dir);
  const { code, json } = await decode([join(f.dir, 'req.der'), f.key, '--json']);
  assert.equal(code, 0);
  assert.equal(json.requests.length, 1);
  assert.equal(json.keys[0].matchesRequest, 0);
});

test('a CSR without SANs is a NO_SAN warning with the openssl command that adds them', async (t) => {
  const f = csr(t);
  const { json } = await decode([f.csr, '--json']);
  const finding = json.findings.find((x: { code: string }) => x.code === 'NO_SAN');
  assert.equal(finding.severity, 'warning');
  assert.match(finding.fix, /-addext "subjectAltName=DNS:app\.test"/);
});

test('a CSR whose signature does not verify is CSR_SIGNATURE_INVALID, exit 1', async (t) => {
  const f = csr(t, ['-addext', 'subjectAltName=DNS:app.test']);
  sh('openssl', ['req', '-in', 'req.csr', '-outform', 'DER', '-out', 'req.der'], f.dir);
  const der = readFileSync(join(f.dir, 'req.der'));
  // Change one letter of the subject ("app.test" → "apq.test"): the signature no longer covers it.
  const at = der.indexOf(Buffer.from('app.test'));
  der[at + 2] = 'q'.charCodeAt(0);
  writeFileSync(join(f.dir, 'bad.der'), der);
  const { code, json } = await decode([join(f.dir, 'bad.der'), '--json']);
  assert.equal(code, 1);
  assert.equal(json.requests[0].signatureValid, false);
  const finding = json.findings.find((x: { code: string }) => x.code === 'CSR_SIGNATURE_INVALID');
  assert.equal(finding.severity, 'error');
  assert.match(finding.fix, /openssl req -new -key/);
});

function keytool(dir: string, args: string[]): void {
  sh('keytool', [...args, '-noprompt'], dir);
}

function jksWithKey(t: TestContext, storetype: 'JKS' | 'JCEKS'): { dir: string; file: string; pw: string } {
  const dir = tempDir(t);
  const file = join(dir, `server.${storetype.toLowerCase()}`);
  keytool(dir, [
    '-genkeypair',
    '-storetype',
    storetype,
    '-keystore',
    file,
    '-storepass',
    'changeit',
    '-keypass',
    'changeit',
    '-alias',
    'tomcat',
    '-keyalg',
    'EC',
    '-groupname',
    'secp256r1',
    '-dname',
    'CN=app.test',
    '-ext',
    'SAN=dns:app.test',
    '-validity',
    '30',
  ]);
  writeFileSync(join(dir, 'root.pem'), pki.root.certPem);
  keytool(dir, ['-importcert', '-storetype', storetype, '-keystore', file, '-storepass', 'changeit', '-alias', 'corp-root', '-file', 'root.pem']);
  const pw = join(dir, 'pw');
  writeFileSync(pw, 'changeit\n');
  return { dir, file, pw };
}

for (const storetype of ['JKS', 'JCEKS'] as const) {
  test(`decode a ${storetype} keystore with its password: the key entry's chain, the trusted entry, the key that matches`, async (t) => {
    const ks = jksWithKey(t, storetype);
    const { code, json } = await decode([ks.file, '--password-file', ks.pw, '--json']);
    assert.equal(code, 0, JSON.stringify(json?.findings));
    const byAlias = Object.fromEntries(json.certificates.map((c: { alias: string; subjectCommonName: string }) => [c.alias, c.subjectCommonName]));
    assert.deepEqual(byAlias, { tomcat: 'app.test', 'corp-root': 'Certgate Test Root' });
    assert.equal(json.keys.length, 1);
    assert.equal(json.keys[0].algorithm, 'ECDSA');
    const tomcat = json.certificates.findIndex((c: { alias: string }) => c.alias === 'tomcat');
    assert.equal(json.keys[0].matchesCertificate, tomcat);
  });

  test(`a wrong ${storetype} password: one line E_JKS_PASSWORD with the fix, exit 2, nothing on stdout`, async (t) => {
    const ks = jksWithKey(t, storetype);
    const { code, io } = await decode([ks.file], { CERTGATE_PASSWORD: 'wrong' });
    assert.equal(code, 2);
    assert.equal(io.stdout, '');
    assert.match(
      io.stderr,
      /^error E_JKS_PASSWORD: the keystore password of .* is wrong\n\s+fix: pass the keystore password with --password-file FILE or CERTGATE_PASSWORD/,
    );
  });
}

test('a JKS truststore (trusted certificates only) decodes without a password, as keytool -list does', async (t) => {
  const dir = tempDir(t);
  writeFileSync(join(dir, 'root.pem'), pki.root.certPem);
  keytool(dir, ['-importcert', '-storetype', 'JKS', '-keystore', 'trust.jks', '-storepass', 'changeit', '-alias', 'corp-root', '-file', 'root.pem']);
  const { code, json } = await decode([join(dir, 'trust.jks'), '--json']);
  assert.equal(code, 0);
  assert.deepEqual(
    json.certificates.map((c: { alias: string; kind: string }) => [c.alias, c.kind]),
    [['corp-root', 'root']],
  );
});

test('a JKS with a private key and no password: E_JKS_PASSWORD saying the key needs it, exit 2', async (t) => {
  const ks = jksWithKey(t, 'JKS');
  const { code, io } = await decode([ks.file]);
  assert.equal(code, 2);
  assert.match(io.stderr, /E_JKS_PASSWORD: .* is a Java keystore whose private keys need its password/);
});

test('a PKCS#12 keystore made by keytool reads with its password; a wrong one is E_PKCS12_PASSWORD, exit 2', async (t) => {
  const ks = jksWithKey(t, 'JKS');
  const p12 = join(ks.dir, 'server.p12');
  keytool(ks.dir, [
    '-importkeystore',
    '-srckeystore',
    ks.file,
    '-srcstorepass',
    'changeit',
    '-destkeystore',
    p12,
    '-deststoretype',
    'PKCS12',
    '-deststorepass',
    'changeit',
  ]);
  const good = await decode([p12, '--password-file', ks.pw, '--json']);
  assert.equal(good.code, 0);
  assert.equal(good.json.keys.length, 1);
  assert.ok(good.json.certificates.some((c: { subjectCommonName: string }) => c.subjectCommonName === 'Certgate Test Root'));
  const bad = await decode([p12], { CERTGATE_PASSWORD: 'wrong' });
  assert.equal(bad.code, 2);
  assert.match(bad.io.stderr, /^error E_PKCS12_PASSWORD: the PKCS#12 password is wrong\n\s+fix: pass the password with --password-file/);
});

test('a truncated JKS is E_JKS_MALFORMED, exit 2', async (t) => {
  const ks = jksWithKey(t, 'JKS');
  const bytes = readFileSync(ks.file);
  writeFileSync(join(ks.dir, 'cut.jks'), bytes.subarray(0, bytes.length - 100));
  const { code, io } = await decode([join(ks.dir, 'cut.jks')], { CERTGATE_PASSWORD: 'changeit' });
  assert.equal(code, 2);
  assert.match(io.stderr, /E_JKS_MALFORMED/);
});

test('chain order found and the right order are both named, for a chain that starts with the root', async () => {
  const io = fakeIo({ stdin: Buffer.from([pki.root.certPem, pki.leaf.certPem, pki.inter.certPem].join('')) });
  await run(['decode', '--json'], io);
  const finding = JSON.parse(io.stdout).findings.find((f: { code: string }) => f.code === 'CHAIN_WRONG_ORDER');
  assert.match(
    finding.message,
    /found #0 "Certgate Test Root", #1 "app\.test", #2 "Certgate Test Intermediate"; the issuing order is #1 "app\.test" → #2 .* → #0/,
  );
  assert.match(finding.fix, /in this order in the chain file: #1, #2, #0/);
});
