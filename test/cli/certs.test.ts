/**
 * `certs list` and `certs show` tell the whole story of a name: one that keeps failing without
 * ever getting a certificate is listed as failing, a damaged stored pair is listed as damaged
 * with the file at fault, and the suggested command is the one that works past the limit.
 */
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { run } from '../../src/cli/run.ts';
import { createCertificate } from '../../src/pki/generate.ts';
import { FsStore } from '../../src/store/fs.ts';
import { certMeta } from '../../src/store/meta.ts';
import { fakeIo } from '../helpers/io.ts';
import { tempDir } from '../helpers/tmp.ts';

const failure = { code: 'E_ACME_PROBLEM', message: 'the CA could not reach port 80', at: new Date().toISOString() };

async function stored(data: string, name: string): Promise<FsStore> {
  const store = new FsStore({ root: data });
  const c = await createCertificate({ subject: `CN=${name}`, dns: [name] });
  await store.putBundle(name, {
    certPem: c.certPem,
    keyPem: c.keyPem,
    meta: certMeta(c.certPem, { name, names: [name], directory: 'test', keyType: 'ec-p256' }),
  });
  return store;
}

test('certs list shows a failing name that never got a certificate', async (t) => {
  const data = join(tempDir(t), 'data');
  await new FsStore({ root: data }).putState('new.example.com', { attempts: 2, lastError: failure, nextAttemptAt: null, flagged: false });
  const io = fakeIo({ env: { CERTGATE_DATA: data } });
  assert.equal(await run(['certs', 'list', '--json'], io), 1);
  const [row] = JSON.parse(io.stdout).certificates;
  assert.equal(row.name, 'new.example.com');
  assert.equal(row.status, 'failing');
  assert.equal(row.attempts, 2);
});

test('certs show of a flagged name without a certificate suggests issue --force, the command that works', async (t) => {
  const data = join(tempDir(t), 'data');
  await new FsStore({ root: data }).putState('new.example.com', { attempts: 5, lastError: failure, nextAttemptAt: null, flagged: true });
  const io = fakeIo({ env: { CERTGATE_DATA: data } });
  assert.equal(await run(['certs', 'show', 'new.example.com'], io), 1);
  assert.match(io.stdout, /certgate issue new\.example\.com --force/);
});

test('certs list marks a stored pair whose certificate file is garbage as damaged, naming the file', async (t) => {
  const data = join(tempDir(t), 'data');
  const store = await stored(data, 'app.example.com');
  writeFileSync(store.filePaths('app.example.com').fullchain, 'garbage\n');
  const io = fakeIo({ env: { CERTGATE_DATA: data } });
  assert.equal(await run(['certs', 'list', '--json'], io), 1);
  const [row] = JSON.parse(io.stdout).certificates;
  assert.equal(row.status, 'damaged');
  assert.match(row.problem, /fullchain\.pem/);
});

test('certs list marks a pair whose key belongs to another certificate as damaged', async (t) => {
  const data = join(tempDir(t), 'data');
  const store = await stored(data, 'app.example.com');
  const other = await createCertificate({ subject: 'CN=other', dns: ['other.example.com'] });
  writeFileSync(store.filePaths('app.example.com').key, other.keyPem);
  const io = fakeIo({ env: { CERTGATE_DATA: data } });
  assert.equal(await run(['certs', 'list', '--json'], io), 1);
  assert.match(JSON.parse(io.stdout).certificates[0].problem, /privkey\.pem is not the key/);
});

test('certs list of a healthy pair says valid, exit 0', async (t) => {
  const data = join(tempDir(t), 'data');
  await stored(data, 'app.example.com');
  const io = fakeIo({ env: { CERTGATE_DATA: data } });
  assert.equal(await run(['certs', 'list', '--json'], io), 0);
  assert.equal(JSON.parse(io.stdout).certificates[0].status, 'valid');
});
