/**
 * A real browser (Debian's Chromium, driven by playwright-core): with the local CA imported
 * into the browser's own certificate store (NSS, as `certutil` does for a user), the edge's
 * page loads with no warning over HTTP/2; without it, the browser refuses the certificate.
 * Nothing is bypassed: no --ignore-certificate-errors.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { promisify } from 'node:util';
import { tempDir } from '../helpers/tmp.ts';
import { startEdge } from './helpers.ts';

const run = promisify(execFile);
const CHROMIUM = '/usr/bin/chromium';
const skip = existsSync(CHROMIUM) && existsSync('/usr/bin/certutil') ? false : 'chromium and certutil are not installed (.ci/run installs them)';

/** A browser profile whose NSS store trusts `caFile` (or trusts nothing extra). */
async function browserHome(dir: string, caFile: string | null): Promise<string> {
  const home = join(dir, caFile ? 'home-trusting' : 'home-plain');
  const db = join(home, '.pki', 'nssdb');
  mkdirSync(db, { recursive: true });
  await run('certutil', ['-d', `sql:${db}`, '-N', '--empty-password']);
  if (caFile) await run('certutil', ['-d', `sql:${db}`, '-A', '-t', 'C,,', '-n', 'certgate local CA', '-i', caFile]);
  return home;
}

async function visit(home: string, url: string): Promise<{ ok: true; title: string; text: string; protocol: string } | { ok: false; error: string }> {
  const { chromium } = await import('playwright-core');
  const browser = await chromium.launch({
    executablePath: CHROMIUM,
    env: { HOME: home, PATH: process.env.PATH ?? '' },
    args: [
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
  });
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
  const trusted = await visit(await browserHome(dir, caFile), url);
  assert.equal(trusted.ok, true, trusted.ok ? '' : trusted.error);
  if (trusted.ok) {
    assert.equal(trusted.title, 'certgate');
    assert.match(trusted.text, /certgate is serving HTTPS for localhost/);
    assert.equal(trusted.protocol, 'h2');
  }
  const plain = await visit(await browserHome(dir, null), url);
  assert.equal(plain.ok, false);
  if (!plain.ok) assert.match(plain.error, /ERR_CERT_AUTHORITY_INVALID/);
});
