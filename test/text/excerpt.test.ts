import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { run } from '../../src/cli/run.ts';
import { CertgateError } from '../../src/errors.ts';
import { validateResource } from '../../src/profiles/schema.ts';
import { excerpt } from '../../src/text/excerpt.ts';
import { fakeIo } from '../helpers/io.ts';
import { tempDir } from '../helpers/tmp.ts';

const ESC = String.fromCharCode(27);

test('excerpt: at most 80 characters, control characters escaped as \\xNN', () => {
  assert.equal(excerpt('a'.repeat(200)).length, 81);
  assert.equal(excerpt(`${ESC}[31mred\u0000\u0007\ufffd`), '\\x1b[31mred\\x00\\x07\\u{fffd}');
});

test('excerpt: key blocks and long base64 runs never come through', () => {
  const key = '-----BEGIN EC PRIVATE KEY-----\nMHcCAQEEIBkg4LVWM9nQ8cHgyUOJ9oOv9qAqk9N8dfGMOmVZ3Pw9oAoGCCqGSM49\n-----END EC PRIVATE KEY-----';
  assert.equal(excerpt(`x ${key} y`), 'x [private key omitted] y');
  assert.match(excerpt('MHcCAQEEIBkg4LVWM9nQ8cHgyUOJ9oOv9qAqk9N8dfGMOmVZ3Pw9oAoGCCqGSM49'), /^\[64 base64 characters\]$/);
  assert.equal(excerpt('AB:CD:EF:0123456789ABCDEF0123456789ABCDEF0123456789ABCDEF'), 'AB:CD:EF:0123456789ABCDEF0123456789ABCDEF0123456789ABCDEF');
});

test('resources import of a binary garbage file: no raw bytes on the terminal', async (t) => {
  const dir = tempDir(t);
  const garbage = Buffer.from([0x1b, 0x5b, 0x32, 0x4a, 0x07, 0x41, 0x42, 0x00, 0x9b, 0xff, 0xfe, 0x7f, ...Buffer.from('kind'), 0x1b, 0x5d, 0x30, 0x3b]);
  writeFileSync(join(dir, 'garbage.yaml'), garbage);
  const io = fakeIo({ cwd: dir, env: { CERTGATE_DATA: join(dir, 'data') } });
  assert.equal(await run(['resources', 'import', 'garbage.yaml'], io), 2);
  assert.match(io.stderr, /^error E_RESOURCE_INVALID: garbage\.yaml/);
  assert.ok(!io.stderr.includes(ESC) && !io.stderr.includes('\u0007') && !io.stderr.includes('\u0000'), JSON.stringify(io.stderr));
});

test('a field that holds a private key is not echoed in the error', () => {
  const key = `-----BEGIN PRIVATE KEY-----\n${'MIIEvQIBADANBgkqhkiG9w0BAQEFAASCBKcwggSjAgEAAoIBAQC7'.repeat(2)}\n-----END PRIVATE KEY-----\n`;
  try {
    validateResource({ kind: key, host: 'db' }, 'resources/db.yaml', 'db');
    assert.fail('expected an error');
  } catch (e) {
    assert.ok(e instanceof CertgateError);
    assert.doesNotMatch(e.message, /PRIVATE KEY|MIIEvQIBADANBgkqhkiG9w0BAQEFAASCBKcw/);
  }
});

test('a password inside a resource URL is refused like an inline password, with the fix', async (t) => {
  const io = fakeIo({ env: { CERTGATE_DATA: tempDir(t) } });
  assert.equal(await run(['resources', 'add', 'db', '--kind', 'https', '--url', 'https://user:s3cret@api.internal/health'], io), 2);
  assert.match(io.stderr, /^error E_RESOURCE_INVALID: .*url: holds a password/);
  assert.match(io.stderr, /fix: .*--password-env VAR or --password-file PATH/);
  assert.doesNotMatch(io.stderr, /s3cret/);
  assert.throws(
    () => validateResource({ kind: 'postgres', host: 'postgres://user:secret@db.internal/db' }, 'resources/db.yaml', 'db'),
    (e: unknown) => e instanceof CertgateError && /host: holds a password/.test(e.message) && !e.message.includes('secret@'),
  );
});
