/**
 * --json on every command: standard output is JSON (the result, or an error object with code,
 * message and fix), and the exit code is the one without --json.
 */
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { run } from '../../src/cli/run.ts';
import { fakeIo } from '../helpers/io.ts';
import { makePki } from '../helpers/pki.ts';
import { tempDir } from '../helpers/tmp.ts';

const pki = await makePki();

const COMMANDS: Array<[string, string[], number]> = [
  ['decode', ['decode', 'leaf.pem'], 0],
  ['decode (an error)', ['decode', 'missing.pem'], 2],
  ['inspect (unreachable)', ['inspect', '127.0.0.1:1', '--timeout', '2000'], 2],
  ['trust list', ['trust', 'list'], 0],
  ['certs list', ['certs', 'list'], 0],
  ['domains list', ['domains', 'list'], 0],
  ['domains add', ['domains', 'add', 'shop.example.com'], 0],
  ['resources list', ['resources', 'list'], 0],
  ['config show', ['config', 'show'], 0],
  ['local-ca path', ['local-ca', 'path'], 0],
  ['local-ca export', ['local-ca', 'export'], 0],
  ['local-ca env', ['local-ca', 'env'], 0],
  ['issue (no domain)', ['issue'], 2],
  ['serve (a bad flag value)', ['serve', '--workers', 'two'], 2],
];

for (const [what, argv, code] of COMMANDS)
  test(`--json: ${what} prints JSON on standard output, exit ${code}`, async (t) => {
    const dir = tempDir(t);
    writeFileSync(join(dir, 'leaf.pem'), pki.leaf.certPem);
    const io = fakeIo({ cwd: dir, env: { CERTGATE_DATA: join(dir, 'data'), HOME: dir } });
    assert.equal(await run([...argv, '--json'], io), code, io.stderr);
    const lines = io.stdout.trim();
    assert.ok(lines.length > 0, 'something on standard output');
    const parsed = JSON.parse(lines.startsWith('{') && lines.includes('\n{') ? (lines.split('\n').at(-1) as string) : lines);
    if (code === 2) assert.match(parsed.error.code, /^E_/);
  });
