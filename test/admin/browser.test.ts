/**
 * The dashboard end to end in Debian's Chromium (playwright-core), against a real runtime with
 * Pebble: sign in with a token, watch an issuance event arrive live and see the Pebble
 * certificate (a 6-day one: its bar is measured against its own lifetime), upload a bad and a
 * good CA, test a resource and pin its self-signed certificate, retry a failing name.
 * Screenshots at 1280 px and 390 px go to test-artifacts/admin/.
 */
import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { AdminTokens } from '../../src/admin/tokens.ts';
import { createCertificate } from '../../src/pki/generate.ts';
import { buildRuntime } from '../../src/runtime/server.ts';
import { name } from '../acme/helpers.ts';
import { cleanEnv } from '../helpers/env.ts';
import { startPebble } from '../helpers/pebble.ts';
import { binaryOf, requirePackages } from '../helpers/require.ts';
import { startTlsServer } from '../helpers/servers.ts';
import { settings } from '../helpers/settings.ts';
import { tempDir } from '../helpers/tmp.ts';

const skip = requirePackages('chromium', 'pebble');
const CHROMIUM = skip ? '' : binaryOf('chromium');
const ARTIFACTS = join(import.meta.dirname, '..', '..', 'test-artifacts', 'admin');

test('dashboard in Chromium: sign in, a live issuance, a Pebble certificate, trust uploads, a resource test and pin, a retry', {
  skip,
  timeout: 180_000,
}, async (t) => {
  const pebble = await startPebble({ validitySeconds: 6 * 86_400 });
  t.after(() => pebble.close());
  const data = tempDir(t, 'certgate-dash-');
  const caFile = join(data, 'pebble-tls.pem');
  writeFileSync(caFile, pebble.tlsCaPem);
  const main = name('dash');
  const failing = name('retry');
  const rt = await buildRuntime(
    settings(data, {
      acmeDirectory: pebble.directoryUrl,
      acmeCaRoot: caFile,
      acmeEmail: 'ops@certgate.dev',
      acmeAgreeTos: true,
      httpPort: pebble.httpPort,
      challenges: ['http-01'],
      domain: main,
      adminListen: '127.0.0.1:0',
    }),
    { hookEnv: {} },
  );
  await rt.start();
  t.after(() => rt.close());
  const url = rt.adminUrl as string;
  const store = rt.engines.store;
  const { token } = await new AdminTokens(store).create('browser test');
  // A name that failed as the CA says it (the manager records exactly this), 2 attempts in.
  await rt.engines.registry.add(failing);
  const problem = {
    type: 'urn:ietf:params:acme:error:connection',
    detail: `127.0.0.1: Fetching http://${failing}/.well-known/acme-challenge/x: Connection refused`,
    status: 400,
  };
  await store.appendEvent({
    at: new Date().toISOString(),
    name: failing,
    type: 'cert_failed',
    message: `${failing}: the CA could not reach port 80 of ${failing}`,
    data: { code: 'E_ACME_CHALLENGE', fix: 'open port 80 to the internet (HTTP-01), or use tls-alpn-01 (port 443 only) or dns-01', problem, counted: true },
  });
  await store.putState(failing, {
    attempts: 2,
    lastError: { code: 'E_ACME_CHALLENGE', message: `${failing}: the CA could not reach port 80 of ${failing}`, at: new Date().toISOString() },
    nextAttemptAt: new Date(Date.now() + 7200_000).toISOString(),
    flagged: false,
  });
  // A resource whose server presents a self-signed certificate.
  const self = await createCertificate({ subject: 'CN=orders-db.internal', dns: ['orders-db.internal'], ip: ['127.0.0.1'] });
  const db = await startTlsServer({ chain: [self.certPem], key: self.keyPem });
  t.after(() => db.close());
  const put = await fetch(`${url}/api/resources/orders-db`, {
    method: 'PUT',
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
    body: JSON.stringify({ kind: 'https', host: '127.0.0.1', port: db.port, tls: { servername: 'orders-db.internal' } }),
  });
  assert.equal(put.status, 200);
  const ca = await createCertificate({ subject: 'CN=Dashboard Test Root CA, O=Certgate Tests', ca: true });
  const leaf = await createCertificate({ subject: 'CN=api.internal', dns: ['api.internal'], issuer: ca });
  writeFileSync(join(data, 'leaf.pem'), leaf.certPem);
  writeFileSync(join(data, 'root-ca.pem'), ca.certPem);

  const { chromium } = await import('playwright-core');
  const browser = await chromium.launch({
    executablePath: CHROMIUM,
    env: cleanEnv({ HOME: data }),
    args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'],
  });
  t.after(() => browser.close());
  const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
  mkdirSync(ARTIFACTS, { recursive: true });

  // Sign in.
  await page.goto(url);
  assert.equal(new URL(page.url()).pathname, '/login');
  // By keyboard: the skip link first, then the token field, Enter submits.
  await page.keyboard.press('Tab');
  assert.equal(await page.evaluate(() => document.activeElement?.textContent), 'Skip to content');
  await page.getByLabel('Admin token').focus();
  await page.keyboard.type(token);
  await page.keyboard.press('Enter');
  await page.waitForURL(`${url}/`).catch(async (err) => {
    throw new Error(`${(err as Error).message}\nat ${page.url()}: ${((await page.textContent('body').catch(() => '')) ?? '').slice(0, 500)}`);
  });
  await page.getByText('Live: new events appear at the top.').waitFor({ timeout: 10_000 });

  // An issuance, watched live in the event log.
  const issued = fetch(`${url}/api/certificates/${main}/renew`, { method: 'POST', headers: { authorization: `Bearer ${token}` } });
  await page.locator('#live-events li.new', { hasText: 'cert_obtained' }).filter({ hasText: main }).waitFor({ timeout: 60_000 });
  assert.equal((await issued).status, 200);
  await page.reload();
  const row = page.locator(`.cert[data-name="${main}"]`);
  await row.waitFor();
  assert.match((await row.textContent()) ?? '', /Valid/);
  assert.match((await row.locator('meter').getAttribute('aria-label')) ?? '', /of its 6-day lifetime left/);
  await page.screenshot({ path: join(ARTIFACTS, 'certificates-1280.png'), fullPage: true });

  // The failing name: the CA's reason in words, the fix, and Retry.
  const bad = page.locator(`.cert[data-name="${failing}"]`);
  assert.match((await bad.textContent()) ?? '', /could not reach port 80/);
  assert.match((await bad.textContent()) ?? '', /Fix: open port 80/);
  await page.setViewportSize({ width: 390, height: 844 });
  await page.screenshot({ path: join(ARTIFACTS, 'certificates-390.png'), fullPage: true });
  await page.setViewportSize({ width: 1280, height: 900 });
  await bad.getByRole('button', { name: 'Retry' }).click();
  await bad.locator('output').filter({ hasText: 'Obtained' }).waitFor({ timeout: 60_000 });
  await page.waitForLoadState('load');
  await page.locator(`.cert[data-name="${failing}"] .badge.valid`).waitFor({ timeout: 10_000 });

  // Certificate detail.
  await page.goto(`${url}/certificates/${main}`);
  assert.match((await page.locator('main').textContent()) ?? '', /Pebble/);
  await page.screenshot({ path: join(ARTIFACTS, 'certificate-detail-1280.png'), fullPage: true });

  // Trust store: a leaf is refused with the words; a root CA is added.
  await page.goto(`${url}/trust`);
  await page.setInputFiles('#trust-file', join(data, 'leaf.pem'));
  await page.locator('#verdicts .v.refused').waitFor();
  assert.match((await page.locator('#verdicts').textContent()) ?? '', /this is a leaf: pin it on the resource instead/);
  await page.screenshot({ path: join(ARTIFACTS, 'trust-leaf-1280.png'), fullPage: true });
  // The good CA dropped onto the zone, as a file dragged from the desktop.
  await page.evaluate((pem) => {
    const dt = new DataTransfer();
    dt.items.add(new File([pem], 'root-ca.pem', { type: 'application/x-pem-file' }));
    const zone = document.getElementById('dropzone') as HTMLElement;
    for (const type of ['dragenter', 'dragover', 'drop']) zone.dispatchEvent(new DragEvent(type, { dataTransfer: dt, bubbles: true, cancelable: true }));
  }, ca.certPem);
  await page.locator('#verdicts .v.added').waitFor();
  await page.goto(`${url}/trust`);
  assert.match((await page.locator('table').textContent()) ?? '', /Dashboard Test Root CA[\s\S]*trusted/);

  await page.setViewportSize({ width: 390, height: 844 });
  await page.screenshot({ path: join(ARTIFACTS, 'trust-390.png'), fullPage: true });
  await page.goto(`${url}/domains`);
  await page.screenshot({ path: join(ARTIFACTS, 'domains-390.png'), fullPage: true });
  await page.setViewportSize({ width: 1280, height: 900 });
  await page.screenshot({ path: join(ARTIFACTS, 'domains-1280.png'), fullPage: true });
  await page.goto(`${url}/settings`);
  await page.screenshot({ path: join(ARTIFACTS, 'settings-1280.png'), fullPage: true });

  // A resource: the layered test, then one click to pin the self-signed certificate.
  await page.goto(`${url}/resources`);
  const res = page.locator('.resource[data-name="orders-db"]');
  await res.getByRole('button', { name: 'Test connection' }).click();
  await res.locator('.layer.fail').first().waitFor({ timeout: 20_000 });
  assert.match((await res.textContent()) ?? '', /tls/);
  assert.match((await res.textContent()) ?? '', /Fix:/);
  await page.screenshot({ path: join(ARTIFACTS, 'resource-test-1280.png'), fullPage: true });
  await page.setViewportSize({ width: 390, height: 844 });
  await page.screenshot({ path: join(ARTIFACTS, 'resource-test-390.png'), fullPage: true });
  await page.setViewportSize({ width: 1280, height: 900 });
  await res.getByRole('button', { name: 'Pin this certificate' }).click();
  await res.locator('output').filter({ hasText: 'Pinned' }).waitFor({ timeout: 20_000 });
  await res.getByRole('button', { name: 'Test connection' }).click();
  await res.locator('.layer.ok', { hasText: 'tls' }).waitFor({ timeout: 20_000 });
});

test('dashboard with JavaScript off: sign in, add a domain, upload a leaf (refused, in words), test a resource: all by plain forms', {
  skip,
  timeout: 120_000,
}, async (t) => {
  const data = tempDir(t, 'certgate-dash-nojs-');
  const rt = await buildRuntime(settings(data, { mode: 'development', adminListen: '127.0.0.1:0' }), { hookEnv: {} });
  await rt.start();
  t.after(() => rt.close());
  const url = rt.adminUrl as string;
  const { token } = await new AdminTokens(rt.engines.store).create('no-js');
  const self = await createCertificate({ subject: 'CN=cache.internal', dns: ['cache.internal'], ip: ['127.0.0.1'] });
  const server = await startTlsServer({ chain: [self.certPem], key: self.keyPem });
  t.after(() => server.close());
  await fetch(`${url}/api/resources/cache`, {
    method: 'PUT',
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
    body: JSON.stringify({ kind: 'https', host: '127.0.0.1', port: server.port }),
  });
  const ca = await createCertificate({ subject: 'CN=No JS Root', ca: true });
  const leaf = await createCertificate({ subject: 'CN=api.internal', dns: ['api.internal'], issuer: ca });
  writeFileSync(join(data, 'leaf.pem'), leaf.certPem);
  const { chromium } = await import('playwright-core');
  const browser = await chromium.launch({
    executablePath: CHROMIUM,
    env: cleanEnv({ HOME: data }),
    args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'],
  });
  t.after(() => browser.close());
  const page = await (await browser.newContext({ javaScriptEnabled: false, viewport: { width: 390, height: 844 } })).newPage();
  await page.goto(`${url}/login`);
  await page.getByLabel('Admin token').fill(token);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.waitForURL(`${url}/`);
  await page.goto(`${url}/domains`);
  await page.getByLabel('Add a custom domain').fill('shop.example.com');
  await page.getByRole('button', { name: 'Add' }).click();
  await page.locator('.flash.ok', { hasText: 'shop.example.com added' }).waitFor();
  await page.goto(`${url}/trust`);
  await page.setInputFiles('#trust-file', join(data, 'leaf.pem'));
  await page.getByRole('button', { name: 'Upload' }).click();
  await page.locator('.flash.error', { hasText: 'this is a leaf: pin it on the resource instead' }).waitFor();
  await page.goto(`${url}/resources`);
  await page.getByRole('button', { name: 'Test connection' }).click();
  await page.locator('.layer.fail', { hasText: 'tls' }).waitFor();
  await page.screenshot({ path: join(ARTIFACTS, 'no-js-resource-test-390.png'), fullPage: true });
  await page.getByRole('button', { name: 'Pin this certificate' }).click();
  await page.locator('.flash.ok', { hasText: 'now trusts exactly' }).waitFor();
});
