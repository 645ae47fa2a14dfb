import assert from 'node:assert/strict';
import { execFile, execFileSync } from 'node:child_process';
import { createPrivateKey } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { CertgateError } from '../../src/errors.ts';
import { createCertificate } from '../../src/pki/generate.ts';
import { MAX_INPUT_BYTES, parseCertificates, parseInput } from '../../src/pki/parse.ts';
import { makePki } from '../helpers/pki.ts';
import { tempDir } from '../helpers/tmp.ts';

const pki = await makePki();

function code(fn: () => unknown): string {
  try {
    fn();
  } catch (err) {
    assert.ok(err instanceof CertgateError, `expected CertgateError, got ${(err as Error)?.stack}`);
    assert.ok(err.fix, 'every error carries a fix');
    assert.ok(!err.message.includes('\n'), 'one line');
    return err.code;
  }
  assert.fail('expected an error');
}

test('PEM: several blocks, CRLF, and text around them', () => {
  const text = `Bag Attributes\r\n  friendlyName: x\r\n${pki.leaf.certPem.replace(/\n/g, '\r\n')}garbage in between\n${pki.inter.certPem}trailer`;
  const parsed = parseInput(Buffer.from(text));
  assert.equal(parsed.format, 'pem');
  assert.deepEqual(
    parsed.certificates.map((c) => c.info.subjectCommonName),
    ['app.test', 'Certgate Test Intermediate'],
  );
});

test('openssl s_client -showcerts output pasted whole', async (t) => {
  const { startTlsServer } = await import('../helpers/servers.ts');
  const server = await startTlsServer({ chain: [pki.leaf.certPem, pki.inter.certPem], key: pki.leaf.keyPem });
  t.after(() => server.close());
  // async: the server runs in this process and must keep answering while openssl talks to it
  const out = await new Promise<Buffer>((resolve, reject) => {
    const child = execFile(
      'openssl',
      ['s_client', '-connect', `127.0.0.1:${server.port}`, '-servername', 'app.test', '-showcerts'],
      { encoding: 'buffer', timeout: 10_000 },
      (err, stdout) => (err && !stdout.length ? reject(err) : resolve(stdout)),
    );
    child.stdin?.end();
  });
  const parsed = parseInput(out);
  assert.equal(parsed.certificates.length, 2);
  assert.equal(parsed.certificates[1]?.info.subjectCommonName, 'Certgate Test Intermediate');
});

test('the bytes decide the format, not the extension: DER, PKCS#7 and PKCS#12', (t) => {
  const dir = tempDir(t);
  writeFileSync(join(dir, 'leaf.pem'), pki.leaf.certPem);
  writeFileSync(join(dir, 'inter.pem'), pki.inter.certPem);
  writeFileSync(join(dir, 'key.pem'), pki.leaf.keyPem);
  const der = parseInput(pki.leaf.der);
  assert.equal(der.format, 'der');
  assert.equal(der.certificates[0]?.info.subjectCommonName, 'app.test');

  const p7 = execFileSync('openssl', ['crl2pkcs7', '-nocrl', '-certfile', join(dir, 'leaf.pem'), '-certfile', join(dir, 'inter.pem'), '-outform', 'DER']);
  const parsed7 = parseInput(p7, { source: 'chain.txt' });
  assert.equal(parsed7.format, 'pkcs7');
  assert.equal(parsed7.certificates.length, 2);
  const p7pem = execFileSync('openssl', ['crl2pkcs7', '-nocrl', '-certfile', join(dir, 'leaf.pem')]);
  assert.equal(parseInput(p7pem).certificates.length, 1);

  for (const legacy of [false, true]) {
    const args = [
      'pkcs12',
      '-export',
      '-in',
      join(dir, 'leaf.pem'),
      '-inkey',
      join(dir, 'key.pem'),
      '-certfile',
      join(dir, 'inter.pem'),
      '-passout',
      'pass:s3cret',
    ];
    if (legacy) args.push('-legacy');
    let p12: Buffer;
    try {
      p12 = execFileSync('openssl', args, { stdio: ['ignore', 'pipe', 'pipe'] });
    } catch (err) {
      if (legacy) continue; // OpenSSL without the legacy provider cannot write RC2/3DES files
      throw err;
    }
    const parsed12 = parseInput(p12, { password: 's3cret', source: 'bundle.crt' });
    assert.equal(parsed12.format, 'pkcs12');
    assert.equal(parsed12.certificates.length, 2);
    assert.equal(parsed12.keys.length, 1);
    assert.equal(parsed12.keys[0]?.info.spkiSha256, parsed12.certificates.find((c) => c.info.subjectCommonName === 'app.test')?.info.spkiSha256);
    assert.equal(
      code(() => parseInput(p12, { password: 'wrong' })),
      'E_PKCS12_PASSWORD',
    );
    assert.equal(
      code(() => parseInput(p12)),
      'E_PKCS12_PASSWORD',
    );
  }
});

test('private keys: PKCS#8, PKCS#1, SEC1, encrypted PKCS#8 and legacy encrypted PEM', async () => {
  const rsa = await createCertificate({ subject: 'CN=rsa.test', key: 'rsa-2048' });
  const rsaKey = createPrivateKey(rsa.keyPem);
  const ecKey = createPrivateKey(pki.leaf.keyPem);
  const pkcs1 = rsaKey.export({ type: 'pkcs1', format: 'pem' }) as string;
  const sec1 = ecKey.export({ type: 'sec1', format: 'pem' }) as string;
  const enc8 = ecKey.export({ type: 'pkcs8', format: 'pem', cipher: 'aes-256-cbc', passphrase: 'pw' }) as string;
  const legacy = rsaKey.export({ type: 'pkcs1', format: 'pem', cipher: 'aes-128-cbc', passphrase: 'pw' }) as string;
  assert.equal(parseInput(Buffer.from(pkcs1)).keys[0]?.info.container, 'pkcs1');
  assert.equal(parseInput(Buffer.from(sec1)).keys[0]?.info.container, 'sec1');
  assert.deepEqual(parseInput(Buffer.from(pki.leaf.keyPem)).keys[0]?.info.curve, 'P-256');
  assert.equal(parseInput(Buffer.from(enc8), { password: 'pw' }).keys[0]?.info.container, 'pkcs8-encrypted');
  assert.equal(parseInput(Buffer.from(legacy), { password: 'pw' }).keys[0]?.info.bits, 2048);
  assert.equal(
    code(() => parseInput(Buffer.from(enc8))),
    'E_KEY_ENCRYPTED',
  );
  assert.equal(
    code(() => parseInput(Buffer.from(legacy))),
    'E_KEY_ENCRYPTED',
  );
  assert.equal(
    code(() => parseInput(Buffer.from(enc8), { password: 'nope' })),
    'E_KEY_PASSPHRASE',
  );
  // DER keys
  const derKey = ecKey.export({ type: 'pkcs8', format: 'der' });
  assert.equal(parseInput(derKey).format, 'key');
  const derEnc = ecKey.export({ type: 'pkcs8', format: 'der', cipher: 'aes-256-cbc', passphrase: 'pw' });
  assert.equal(parseInput(derEnc, { password: 'pw' }).keys[0]?.info.algorithm, 'ECDSA');
  assert.equal(
    code(() => parseInput(derEnc)),
    'E_KEY_ENCRYPTED',
  );
  // the key never leaks into the public facts
  assert.doesNotMatch(JSON.stringify(parseInput(Buffer.from(pki.leaf.keyPem)).keys[0]?.info), /PRIVATE|BEGIN/);
});

test('bad input: each a code, a one-line message and a fix', () => {
  assert.equal(
    code(() => parseInput(Buffer.alloc(0))),
    'E_INPUT_EMPTY',
  );
  assert.equal(
    code(() => parseInput(Buffer.alloc(MAX_INPUT_BYTES + 1, 0x41))),
    'E_INPUT_TOO_LARGE',
  );
  assert.equal(
    code(() => parseInput(Buffer.from('hello, this is not a certificate\n'))),
    'E_INPUT_FORMAT',
  );
  assert.equal(
    code(() => parseInput(Buffer.from([0x00, 0xff, 0x13, 0x37, 0x42]))),
    'E_INPUT_FORMAT',
  );
  assert.equal(
    code(() => parseInput(pki.leaf.der.subarray(0, pki.leaf.der.length - 10))),
    'E_DER_MALFORMED',
  );
  const pem = pki.leaf.certPem;
  assert.equal(
    code(() => parseInput(Buffer.from(pem.slice(0, pem.length - 30)))),
    'E_PEM_MALFORMED',
  );
  assert.equal(
    code(() => parseInput(Buffer.from(pem.replace(/^(.{40})..../m, '$1!!!!')))),
    'E_PEM_MALFORMED',
  );
  // a PEM whose base64 is intact but whose DER is cut short
  const short = `-----BEGIN CERTIFICATE-----\n${pki.leaf.der.subarray(0, 200).toString('base64')}\n-----END CERTIFICATE-----\n`;
  assert.match(
    code(() => parseInput(Buffer.from(short))),
    /^E_(DER|CERT)_MALFORMED$/,
  );
  assert.equal(
    code(() => parseCertificates(Buffer.from(pki.leaf.keyPem), { source: 'key.pem' })),
    'E_NOT_CERTIFICATE',
  );
});

test('a bare base64 blob (DER pasted without armour) is read', () => {
  const parsed = parseInput(Buffer.from(pki.leaf.der.toString('base64')));
  assert.equal(parsed.certificates[0]?.info.subjectCommonName, 'app.test');
});
