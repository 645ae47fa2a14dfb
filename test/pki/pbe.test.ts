import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { CertgateError } from '../../src/errors.ts';
import { parseInput } from '../../src/pki/parse.ts';
import { MAX_PBE_ITERATIONS } from '../../src/pki/pbe.ts';
import { makePki } from '../helpers/pki.ts';
import { tempDir } from '../helpers/tmp.ts';

const pki = await makePki();
const OVER = String(MAX_PBE_ITERATIONS + 1);

function files(t: import('node:test').TestContext) {
  const dir = tempDir(t);
  writeFileSync(join(dir, 'c.pem'), pki.leaf.certPem);
  writeFileSync(join(dir, 'k.pem'), pki.leaf.keyPem);
  return dir;
}

function refused(bytes: Buffer, password: string): void {
  assert.throws(
    () => parseInput(bytes, { password }),
    (e: unknown) => e instanceof CertgateError && e.code === 'E_PBE_ITERATIONS' && Boolean(e.fix) && e.message.includes('1,000,001'),
  );
}

function p12(dir: string, extra: string[]): Buffer {
  const out = join(dir, 'x.p12');
  execFileSync('openssl', ['pkcs12', '-export', '-in', join(dir, 'c.pem'), '-inkey', join(dir, 'k.pem'), '-passout', 'pass:pw', '-out', out, ...extra]);
  return readFileSync(out);
}

test('PKCS#12: MAC iterations above the cap are refused before any key is derived', (t) => {
  refused(p12(files(t), ['-iter', OVER, '-noiter']), 'pw');
});

test('PKCS#12: bag (PBES2/PBKDF2) iterations above the cap are refused', (t) => {
  refused(p12(files(t), ['-iter', OVER, '-nomaciter']), 'pw');
});

test('PKCS#12 with OpenSSL 3 defaults (2048 iterations) still opens', (t) => {
  const parsed = parseInput(p12(files(t), []), { password: 'pw' });
  assert.equal(parsed.keys.length, 1);
  assert.equal(parsed.certificates.length, 1);
});

test('encrypted PKCS#8 (PEM and DER) with PBKDF2 iterations above the cap is refused', (t) => {
  const dir = files(t);
  for (const form of ['PEM', 'DER']) {
    const out = execFileSync('openssl', [
      'pkcs8',
      '-topk8',
      '-in',
      join(dir, 'k.pem'),
      '-v2',
      'aes-256-cbc',
      '-iter',
      OVER,
      '-passout',
      'pass:pw',
      '-outform',
      form,
    ]);
    refused(out, 'pw');
  }
});
