import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { run } from '../../src/cli/run.ts';
import { fakeIo } from '../helpers/io.ts';
import { leafSpec, makePki } from '../helpers/pki.ts';
import { startTlsServer } from '../helpers/servers.ts';
import { tempDir } from '../helpers/tmp.ts';
import { opensslChain, startSServer } from './grade-servers.ts';

const pki = await makePki();

async function setup(t: import('node:test').TestContext, options: Partial<Parameters<typeof startTlsServer>[0]> = {}) {
  const dir = tempDir(t);
  const ca = join(dir, 'root.pem');
  writeFileSync(ca, pki.root.certPem);
  const server = await startTlsServer({ chain: [pki.leaf.certPem, pki.inter.certPem], key: pki.leaf.keyPem, ...options });
  t.after(server.close);
  return { ca, port: server.port };
}

test('inspect --grade prints a grade section with the findings and their fixes', async (t) => {
  const { ca, port } = await setup(t, { maxVersion: 'TLSv1.2' });
  const io = fakeIo();
  const code = await run(['inspect', `127.0.0.1:${port}`, '--servername', 'app.test', '--ca', ca, '--no-system-roots', '--grade'], io);
  assert.equal(code, 0, io.stdout + io.stderr);
  assert.match(io.stdout, /\nGrade {6}\d+ handshakes in \d+ ms\n/);
  assert.match(io.stdout, /Protocols {3}TLS 1\.0 no, TLS 1\.1 no, TLS 1\.2 yes, TLS 1\.3 no/);
  assert.match(io.stdout, /i GRADE_NO_TLS1_3 .*\n {2}fix: enable TLS 1\.3/);
});

test('inspect --grade --json puts the report under .grade', async (t) => {
  const { ca, port } = await setup(t);
  const io = fakeIo();
  await run(['inspect', `127.0.0.1:${port}`, '--servername', 'app.test', '--ca', ca, '--no-system-roots', '--grade', '--json'], io);
  const out = JSON.parse(io.stdout);
  assert.equal(out.status, 'ok');
  assert.deepEqual(
    out.grade.protocols.map((p: { version: string; offered: boolean }) => [p.version, p.offered]),
    [
      ['TLSv1', false],
      ['TLSv1.1', false],
      ['TLSv1.2', true],
      ['TLSv1.3', true],
    ],
  );
  assert.ok(Array.isArray(out.grade.findings));
});

test('inspect --json without --grade has no grade key', async (t) => {
  const { ca, port } = await setup(t);
  const io = fakeIo();
  await run(['inspect', `127.0.0.1:${port}`, '--servername', 'app.test', '--ca', ca, '--no-system-roots', '--json'], io);
  assert.equal('grade' in JSON.parse(io.stdout), false);
});

test('a grade error makes inspect exit 1 even when the chain verifies', async (t) => {
  // RSA key exchange needs an RSA key.
  const rsa = await leafSpec(pki, { key: 'rsa-2048' });
  const { ca, port } = await setup(t, { chain: [rsa.certPem, pki.inter.certPem], key: rsa.keyPem, maxVersion: 'TLSv1.2', ciphers: 'AES128-GCM-SHA256' });
  const io = fakeIo();
  const code = await run(['inspect', `127.0.0.1:${port}`, '--servername', 'app.test', '--ca', ca, '--no-system-roots', '--grade', '--json'], io);
  const out = JSON.parse(io.stdout);
  assert.equal(out.status, 'ok');
  assert.ok(out.grade.findings.some((f: { code: string }) => f.code === 'GRADE_NO_FORWARD_SECRECY'));
  assert.equal(code, 1);
});

test('--grade with --starttls is a usage error', async () => {
  const io = fakeIo();
  const code = await run(['inspect', '127.0.0.1:5432', '--starttls', 'postgres', '--grade'], io);
  assert.equal(code, 2);
  assert.match(io.stderr, /error E_USAGE: --grade works on direct TLS ports/);
});

test('a server that speaks only TLS 1.0 is graded though Node cannot inspect it', async (t) => {
  const dir = tempDir(t);
  const files = await opensslChain(dir);
  const s = await startSServer(files, ['-tls1', '-cipher', 'DEFAULT@SECLEVEL=0']);
  t.after(s.close);
  const io = fakeIo();
  const code = await run(['inspect', `127.0.0.1:${s.port}`, '--servername', 'localhost', '--ca', files.ca, '--grade', '--json'], io);
  const out = JSON.parse(io.stdout);
  assert.equal(out.tls, null);
  const f = out.grade.findings.find((x: { code: string }) => x.code === 'GRADE_ONLY_LEGACY_TLS');
  assert.match(f?.fix ?? '', /enable TLS 1\.2 and 1\.3/);
  assert.equal(code, 1);
});
