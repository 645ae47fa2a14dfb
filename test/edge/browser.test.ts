/**
 * A real browser (Debian's Chromium, driven by playwright-core): with the local CA imported
 * into the browser's own certificate store (NSS, as `certutil` does for a user), the edge's
 * page loads with no warning over HTTP/2; without it, the browser refuses the certificate.
 * Nothing is bypassed: no --ignore-certificate-errors.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { promisify } from 'node:util';
import { DomainRegistry } from '../../src/manager/registry.ts';
import { name, rig } from '../acme/helpers.ts';
import { cleanEnv } from '../helpers/env.ts';
import { startPebble } from '../helpers/pebble.ts';
import { binaryOf, requirePackages } from '../helpers/require.ts';
import { tempDir } from '../helpers/tmp.ts';
import { startEdge, waitFor } from './helpers.ts';

const run = promisify(execFile);
const skip = requirePackages('chromium', 'libnss3-tools');
const CHROMIUM = skip ? '' : binaryOf('chromium');
const CERTUTIL = skip ? '' : binaryOf('libnss3-tools');

/** A browser profile whose NSS store trusts these CA files (or nothing extra). */
async function browserHome(dir: string, caFiles: string[]): Promise<string> {
  const home = join(dir, `home-${caFiles.length}`);
  const db = join(home, '.pki', 'nssdb');
  mkdirSync(db, { recursive: true });
  await run(CERTUTIL, ['-d', `sql:${db}`, '-N', '--empty-password']);
  for (const [i, file] of caFiles.entries()) await run(CERTUTIL, ['-d', `sql:${db}`, '-A', '-t', 'C,,', '-n', `test CA ${i}`, '-i', file]);
  return home;
}

const CHROMIUM_ARGS = [
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

/** Chromium with that profile home, as the probe of this machine starts it (no background network). */
async function launch(home: string, extra: string[] = []) {
  const { chromium } = await import('playwright-core');
  return chromium.launch({ executablePath: CHROMIUM, env: cleanEnv({ HOME: home }), args: [...CHROMIUM_ARGS, ...extra] });
}

async function visit(home: string, url: string): Promise<{ ok: true; title: string; text: string; protocol: string } | { ok: false; error: string }> {
  const browser = await launch(home);
  try {
    const page = await browser.newPage();
    const response = await page.goto(url, { timeout: 15_000 }).catch((err: Error) => err);
    if (response instanceof Error) return { ok: false, error: response.message.split('\n')[0] as string };
    const protocol = await page.evaluate(() => (performance.getEntriesByType('navigation')[0] as PerformanceNavigationTiming).nextHopProtocol);
    return { ok: true, title: await page.title(), text: (await page.textContent('body')) ?? '', protocol };
  } finally {
    await browser.close();
  }
}

test('Chromium with the local CA in its certificate store loads the page over HTTP/2 with no warning; without it, it refuses', {
  skip,
  timeout: 90_000,
}, async (t) => {
  const dir = tempDir(t);
  const e = await startEdge(dir);
  t.after(() => e.edge.close());
  const caFile = join(dir, 'local-ca', 'root.pem');
  const url = `https://localhost:${e.https}/`;
  const trusted = await visit(await browserHome(dir, [caFile]), url);
  assert.equal(trusted.ok, true, trusted.ok ? '' : trusted.error);
  if (trusted.ok) {
    assert.equal(trusted.title, 'certgate');
    assert.match(trusted.text, /certgate is serving HTTPS for localhost/);
    assert.equal(trusted.protocol, 'h2');
  }
  const plain = await visit(await browserHome(dir, []), url);
  assert.equal(plain.ok, false);
  if (!plain.ok) assert.match(plain.error, /ERR_CERT_AUTHORITY_INVALID/);
});

test('Chromium on a name whose certificate is still on its way: the "on its way" page, then by itself the real page; a new visitor gets the CA-issued certificate', {
  skip,
  timeout: 90_000,
}, async (t) => {
  const pebble = await startPebble();
  t.after(() => pebble.close());
  const r = await rig(pebble, { responder: false });
  t.after(() => r.close());
  const registry = new DomainRegistry({ store: r.store });
  const site = name('browser');
  await registry.add(site);
  // The first handshake does not wait: the visitor sees the stand-in page at once.
  const e = await startEdge(r.root, { httpPort: pebble.httpPort, registry, manager: r.manager, answers: r.answers, onDemandTimeoutMs: 1 });
  t.after(() => e.edge.close());
  writeFileSync(join(r.root, 'pebble-root.pem'), await pebble.issuingRoot());
  const home = await browserHome(r.root, [join(r.root, 'local-ca', 'root.pem'), join(r.root, 'pebble-root.pem')]);
  const browser = await launch(home, ['--host-resolver-rules=MAP * 127.0.0.1']);
  t.after(() => browser.close());
  const page = await browser.newPage();
  const url = `https://${site}:${e.https}/`;
  const seen: Array<{ status: number; issuer: string }> = [];
  page.on('response', async (res) => {
    if (res.url() !== url) return;
    seen.push({ status: res.status(), issuer: (await res.securityDetails())?.issuer ?? '' });
  });
  await page.goto(url);
  assert.match(await page.title(), /Certificate on its way/);
  // The page reloads itself (every 5 s) until the real certificate is there.
  await page.waitForFunction(() => document.title === 'certgate', undefined, { timeout: 45_000 });
  assert.match((await page.textContent('body')) ?? '', new RegExp(`certgate is serving HTTPS for ${site.replace(/\./g, '\\.')}`));
  await waitFor(() => seen.length >= 2 && seen.at(-1)?.status === 200, 'the last response recorded');
  assert.equal(seen[0]?.status, 503);
  assert.match(seen[0]?.issuer ?? '', /certgate local CA/);
  // A new visitor (a fresh browser context: no TLS session to resume) gets the CA-issued certificate.
  // (The first visitor may resume the stand-in's TLS session for its lifetime, 5 minutes: the page
  // is the real one, the certificate shown the stand-in; see the README.)
  const fresh = await (await browser.newContext()).newPage();
  const response = await fresh.goto(url);
  assert.equal(response?.status(), 200);
  assert.match((await response?.securityDetails())?.issuer ?? '', /Pebble/);
});
