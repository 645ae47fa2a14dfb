import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { runDoctor } from '../../src/doctor/index.ts';
import { createCertificate } from '../../src/pki/generate.ts';
import { FsStore } from '../../src/store/fs.ts';
import { certMeta } from '../../src/store/meta.ts';
import { settings } from '../helpers/settings.ts';
import { tempDir } from '../helpers/tmp.ts';
import { only } from './helpers.ts';

const DAY = 86_400_000;
const run = (s: ReturnType<typeof settings>, id: string, clock?: () => Date) => runDoctor(s, { only: [id], ...(clock ? { clock } : {}) });

test('mode: production with ACME passes', async (t) => {
  const r = await run(settings(tempDir(t), { acmeAgreeTos: true, acmeEmail: 'ops@certgate.dev' }), 'mode');
  assert.equal(only(r, 'mode').status, 'pass');
});

test('mode: development warns and says how to switch', async (t) => {
  const c = only(await run(settings(tempDir(t), { mode: 'development' }), 'mode'), 'mode');
  assert.equal(c.status, 'warn');
  assert.match(c.fix ?? '', /CERTGATE_MODE=production/);
});

test('mode: production without the terms agreed warns that ACME is off', async (t) => {
  const c = only(await run(settings(tempDir(t)), 'mode'), 'mode');
  assert.equal(c.status, 'warn');
  assert.match(c.fix ?? '', /CERTGATE_ACME_AGREE_TOS=true/);
});

test("acme-email: a placeholder domain fails for Let's Encrypt, which refuses it", async (t) => {
  const c = only(await run(settings(tempDir(t), { acmeAgreeTos: true, acmeEmail: 'ops@example.com' }), 'acme-email'), 'acme-email');
  assert.equal(c.status, 'fail');
  assert.match(c.detail, /Let's Encrypt refuses/);
  assert.match(c.fix ?? '', /CERTGATE_ACME_EMAIL/);
});

test('acme-email: a placeholder domain only warns for another CA', async (t) => {
  const s = settings(tempDir(t), { acmeAgreeTos: true, acmeEmail: 'ops@example.org', acmeDirectory: 'https://ca.internal.dev/dir' });
  assert.equal(only(await run(s, 'acme-email'), 'acme-email').status, 'warn');
});

test('acme-email: a real address passes', async (t) => {
  const c = only(await run(settings(tempDir(t), { acmeAgreeTos: true, acmeEmail: 'ops@certgate.dev' }), 'acme-email'), 'acme-email');
  assert.equal(c.status, 'pass');
});

test('acme-email: none with a public CA fails', async (t) => {
  const c = only(await run(settings(tempDir(t), { acmeAgreeTos: true }), 'acme-email'), 'acme-email');
  assert.equal(c.status, 'fail');
  assert.match(c.fix ?? '', /CERTGATE_ACME_EMAIL=/);
});

test('proxy-custom-domain: not behind a proxy passes', async (t) => {
  assert.equal(only(await run(settings(tempDir(t), { domain: 'app.certgate.dev' }), 'proxy-custom-domain'), 'proxy-custom-domain').status, 'pass');
});

test('proxy-custom-domain: a domain behind a TLS-terminating proxy explains the loop and 401 trap', async (t) => {
  const c = only(await run(settings(tempDir(t), { domain: 'app.certgate.dev', behindProxy: ['10.0.0.0/8'] }), 'proxy-custom-domain'), 'proxy-custom-domain');
  assert.equal(c.status, 'warn');
  assert.match(c.detail, /redirect loop/);
  assert.match(c.detail, /401/);
  assert.match(c.fix ?? '', /certificate for app\.certgate\.dev on the load balancer/);
  assert.match(c.fix ?? '', /X-Forwarded-Proto: https/);
});

test('proxy-custom-domain: behind a proxy with no trusted address fails', async (t) => {
  const c = only(await run(settings(tempDir(t), { domain: 'app.certgate.dev', behindProxy: [] }), 'proxy-custom-domain'), 'proxy-custom-domain');
  assert.equal(c.status, 'fail');
  assert.match(c.fix ?? '', /--behind-proxy 10\.0\.0\.0\/8/);
});

test('ca-certs: valid CA files pass', async (t) => {
  const dir = tempDir(t);
  mkdirSync(join(dir, 'ca-certs'));
  writeFileSync(join(dir, 'ca-certs', 'corp.pem'), (await createCertificate({ subject: 'CN=Corp CA', ca: true })).certPem);
  const c = only(await run(settings(dir), 'ca-certs'), 'ca-certs');
  assert.equal(c.status, 'pass');
  assert.match(c.detail, /1 CA certificate in 1 file/);
});

test('ca-certs: a leaf in ca-certs fails with its fix', async (t) => {
  const dir = tempDir(t);
  mkdirSync(join(dir, 'ca-certs'));
  const ca = await createCertificate({ subject: 'CN=Corp CA', ca: true });
  writeFileSync(join(dir, 'ca-certs', 'server.crt'), (await createCertificate({ subject: 'CN=db.internal', issuer: ca, dns: ['db.internal'] })).certPem);
  const c = only(await run(settings(dir), 'ca-certs'), 'ca-certs');
  assert.equal(c.status, 'fail');
  assert.match(c.detail, /E_TRUST_LEAF/);
  assert.match(c.fix ?? '', /pin it on the resource/);
});

async function storeCert(dir: string, name: string, notBefore: Date, notAfter: Date): Promise<FsStore> {
  const ca = await createCertificate({ subject: 'CN=Test CA', ca: true });
  const leaf = await createCertificate({ subject: `CN=${name}`, issuer: ca, dns: [name], notBefore, notAfter });
  const store = new FsStore({ root: dir });
  const meta = certMeta(leaf.certPem, { name, names: [name], directory: 'https://ca.test/dir', accountUrl: null, keyType: 'ec-p256', profile: null });
  await store.putBundle(name, { certPem: leaf.certPem, keyPem: leaf.keyPem, meta });
  return store;
}

test('certificate: one before its renewal point passes', async (t) => {
  const dir = tempDir(t);
  const now = Date.now();
  await storeCert(dir, 'app.certgate.dev', new Date(now - DAY), new Date(now + 89 * DAY));
  const c = only(await run(settings(dir), 'certificate', () => new Date(now)), 'certificate:app.certgate.dev');
  assert.equal(c.status, 'pass');
});

test('certificate: one past its renewal point by more than an interval fails', async (t) => {
  const dir = tempDir(t);
  const now = Date.now();
  // 90-day certificate, renewal from day 60; the clock says day 80.
  await storeCert(dir, 'app.certgate.dev', new Date(now - DAY), new Date(now + 89 * DAY));
  const c = only(await run(settings(dir), 'certificate', () => new Date(now + 79 * DAY)), 'certificate:app.certgate.dev');
  assert.equal(c.status, 'fail');
  assert.match(c.detail, /past its renewal point/);
  assert.match(c.fix ?? '', /certgate renew/);
});

test('certificate: a failing name fails with the recorded error', async (t) => {
  const dir = tempDir(t);
  const store = new FsStore({ root: dir });
  await store.putState('app.certgate.dev', {
    attempts: 2,
    lastError: { code: 'E_ACME_CHALLENGE', message: 'connection refused on port 80', at: new Date().toISOString() },
    nextAttemptAt: null,
    flagged: false,
  });
  const c = only(await run(settings(dir), 'certificate'), 'certificate:app.certgate.dev');
  assert.equal(c.status, 'fail');
  assert.match(c.detail, /E_ACME_CHALLENGE connection refused/);
  assert.match(c.fix ?? '', /certgate logs app\.certgate\.dev/);
});

test('storage: a writable data directory passes', async (t) => {
  assert.equal(only(await run(settings(tempDir(t)), 'storage'), 'storage').status, 'pass');
});

test('storage: a store that cannot be written fails', async (t) => {
  const dir = tempDir(t);
  // The doctor's probe key lives under doctor/: a file there makes every write below it fail (even as root).
  writeFileSync(join(dir, 'doctor'), 'in the way');
  const c = only(await run(settings(dir), 'storage'), 'storage');
  assert.equal(c.status, 'fail');
  assert.match(c.detail, /failed/);
  assert.match(c.fix ?? '', /permissions and free space/);
});
