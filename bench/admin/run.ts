/**
 * bench/admin: the admin API and dashboard over a store of 10,000 certificates, and what the
 * admin listener costs the proxy, in one run. Loopback only; every loop is bounded.
 *
 *   npm run build && node --import tsx bench/admin/run.ts [--certs 10000] [--requests 200] [--seconds 4] [--rounds 2]
 *
 * - GET /api/certificates p50/p99: page 1 of 50 by name; filtered by state=failing; filtered by
 *   a name part (q), sequential requests with a token.
 * - The dashboard's first load in Chromium (signed in): bytes transferred (transferSize of the
 *   document and its assets) and the time until the certificate list is shown.
 * - /metrics: scraped only when the server has a metrics object; this branch has none (the
 *   metrics helper's createMetrics is wired in by the lead), so the line says "skipped".
 * - Keep-alive proxied req/s of `certgate serve` (wrk, 50 connections) with the admin listener
 *   off and on, alternating rounds, medians; the server pinned to core 0, wrk to core 1.
 */
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { AdminTokens } from '../../src/admin/tokens.ts';
import { createCertificate } from '../../src/pki/generate.ts';
import { FsStore } from '../../src/store/fs.ts';
import { certMeta } from '../../src/store/meta.ts';
import { freePort } from '../../test/helpers/daemons.ts';

const run = promisify(execFile);
const arg = (name: string, d: number) => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? Number(process.argv[i + 1]) : d;
};
const CERTS = arg('certs', 10_000);
const REQUESTS = arg('requests', 200);
const SECONDS = arg('seconds', 4);
const ROUNDS = arg('rounds', 2);
const root = join(import.meta.dirname, '..', '..');
const work = mkdtempSync(join(tmpdir(), 'certgate-bench-admin-'));
const children: ChildProcess[] = [];

function cleanup() {
  for (const c of children) if (c.exitCode === null) c.kill('SIGKILL');
  rmSync(work, { recursive: true, force: true });
}
process.on('exit', cleanup);

const pct = (xs: number[], p: number) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))] as number;
};
const median = (xs: number[]) => pct(xs, 50);

async function fill(data: string): Promise<void> {
  const store = new FsStore({ root: data });
  const c = await createCertificate({ subject: 'CN=bench.example.com', dns: ['bench.example.com'] });
  const meta = certMeta(c.certPem, { name: 'x', names: ['x'], directory: 'bench', keyType: 'ec-p256' });
  const t0 = performance.now();
  for (let i = 0; i < CERTS; i += 100) {
    await Promise.all(
      Array.from({ length: Math.min(100, CERTS - i) }, (_, j) => {
        const name = `site-${String(i + j).padStart(5, '0')}.example.com`;
        return store.putBundle(name, { certPem: c.certPem, keyPem: c.keyPem, meta: { ...meta, name, names: [name] } });
      }),
    );
  }
  // A state file per name, as issuance leaves one; one in a hundred failing, as a busy deployment has.
  for (let i = 0; i < CERTS; i += 100) {
    await Promise.all(
      Array.from({ length: Math.min(100, CERTS - i) }, (_, j) => {
        const name = `site-${String(i + j).padStart(5, '0')}.example.com`;
        return store.putState(
          name,
          j === 0
            ? {
                attempts: 1,
                lastError: { code: 'E_ACME_CHALLENGE', message: 'the CA could not reach port 80', at: new Date().toISOString() },
                nextAttemptAt: new Date(Date.now() + 3600_000).toISOString(),
                flagged: false,
              }
            : { attempts: 0, lastError: null, nextAttemptAt: null, flagged: false },
        );
      }),
    );
  }
  console.log(
    `store: ${CERTS} certificates and their state files written in ${Math.round(performance.now() - t0)} ms (${Math.ceil(CERTS / 100)} of them failing)`,
  );
}

function serve(data: string, port: number, upstream: string, admin: string): { child: ChildProcess; ready: Promise<void> } {
  const child = spawn(
    'taskset',
    [
      '-c',
      '0',
      process.execPath,
      join(root, 'bin', 'certgate.js'),
      'serve',
      '--data',
      data,
      '--mode',
      'development',
      '--https-port',
      String(port),
      '--http-port',
      'off',
      '--host',
      '127.0.0.1',
      '--upstream',
      upstream,
      '--admin-listen',
      admin,
      '--no-hsts',
    ],
    { stdio: ['ignore', 'ignore', 'pipe'], env: { PATH: process.env.PATH ?? '', HOME: work } },
  );
  children.push(child);
  let log = '';
  const ready = new Promise<void>((resolve, reject) => {
    child.stderr?.on('data', (d) => {
      log += d;
      if (/https:\/\/localhost/.test(log)) resolve();
    });
    child.once('exit', (code) => reject(new Error(`serve exited ${code}: ${log.slice(-800)}`)));
  });
  return { child, ready };
}

async function stop(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null) return;
  const done = new Promise((r) => child.once('exit', r));
  child.kill('SIGTERM');
  const t = setTimeout(() => child.kill('SIGKILL'), 10_000);
  await done;
  clearTimeout(t);
}

async function wrk(port: number, seconds: number): Promise<number> {
  const { stdout } = await run('taskset', ['-c', '1', 'wrk', '-t1', '-c50', `-d${seconds}s`, '-H', 'Host: bench.example.com', `https://127.0.0.1:${port}/`], {
    timeout: (seconds + 30) * 1000,
  });
  return Number(/Requests\/sec:\s+([\d.]+)/.exec(stdout)?.[1] ?? 0);
}

async function timed(url: string, token: string, n: number): Promise<{ p50: number; p99: number; bytes: number }> {
  const ms: number[] = [];
  let bytes = 0;
  for (let i = 0; i < n; i++) {
    const t0 = performance.now();
    const r = await fetch(url, { headers: { authorization: `Bearer ${token}` } });
    const b = await r.arrayBuffer();
    ms.push(performance.now() - t0);
    if (r.status !== 200) throw new Error(`${url}: ${r.status}`);
    bytes = b.byteLength;
  }
  return { p50: pct(ms, 50), p99: pct(ms, 99), bytes };
}

async function dashboard(adminUrl: string, token: string): Promise<{ bytes: number; ms: number } | null> {
  const { chromium } = await import('playwright-core').catch(() => ({ chromium: null }));
  if (!chromium) return null;
  const browser = await chromium.launch({
    executablePath: '/usr/bin/chromium',
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'],
    env: { PATH: process.env.PATH ?? '', HOME: work },
  });
  try {
    const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
    const login = await context.newPage();
    await login.goto(`${adminUrl}/login`);
    await login.fill('#token', token);
    await Promise.all([login.waitForURL(`${adminUrl}/`), login.click('button[type=submit]')]);
    await login.close();
    // A fresh page, an empty cache: the first load a signed-in operator makes.
    const page = await context.newPage();
    const cdp = await context.newCDPSession(page);
    await cdp.send('Network.enable');
    await cdp.send('Network.setCacheDisabled', { cacheDisabled: true });
    let bytes = 0;
    cdp.on('Network.loadingFinished', (e: { encodedDataLength: number }) => {
      bytes += e.encodedDataLength;
    });
    const t0 = performance.now();
    await page.goto(`${adminUrl}/`, { waitUntil: 'commit' });
    await page.locator('#cert-list li').first().waitFor({ timeout: 60_000 });
    const ms = performance.now() - t0;
    await page.waitForLoadState('load');
    return { bytes, ms };
  } finally {
    await browser.close();
  }
}

async function main(): Promise<void> {
  const data = join(work, 'data');
  await fill(data);
  const { token } = await new AdminTokens(new FsStore({ root: data })).create('bench');
  const up = spawn(process.execPath, [join(root, 'bench', 'edge', 'upstream.js')], { stdio: ['pipe', 'pipe', 'inherit'] });
  children.push(up);
  const upstream = `http://127.0.0.1:${Number(String(await new Promise((r) => up.stdout?.once('data', r))).trim())}`;

  const adminPort = await freePort();
  const httpsPort = await freePort();
  const adminUrl = `http://127.0.0.1:${adminPort}`;
  const on = serve(data, httpsPort, upstream, `127.0.0.1:${adminPort}`);
  await on.ready;
  const first = performance.now();
  await timed(`${adminUrl}/api/certificates?perPage=50`, token, 1);
  console.log(`\nfirst certificates list request (reads every state file): ${(performance.now() - first).toFixed(0)} ms`);
  await timed(`${adminUrl}/api/certificates?perPage=50`, token, 5); // warm-up
  console.log(`certificates list API over ${CERTS} certificates, ${REQUESTS} sequential requests each (states cached, kept fresh by the event path):`);
  for (const [what, path] of [
    ['page 1, 50 by name', '/api/certificates?perPage=50&page=1'],
    ['page 100, 50 by name', '/api/certificates?perPage=50&page=100'],
    ['state=failing', '/api/certificates?state=failing&perPage=50'],
    ['q=site-09 (name part)', '/api/certificates?q=site-09&perPage=50'],
  ] as const) {
    const r = await timed(`${adminUrl}${path}`, token, REQUESTS);
    console.log(`  ${what.padEnd(24)} p50 ${r.p50.toFixed(1)} ms  p99 ${r.p99.toFixed(1)} ms  (${r.bytes} bytes)`);
  }
  const dash = await dashboard(adminUrl, token);
  console.log(
    dash
      ? `\ndashboard first load (Chromium, signed in, cache off): ${dash.bytes} bytes transferred, list shown after ${dash.ms.toFixed(0)} ms`
      : '\ndashboard: skipped (playwright-core missing)',
  );
  const metrics = await fetch(`${adminUrl}/metrics`, { headers: { authorization: `Bearer ${token}` } });
  if (metrics.status === 200) {
    const t = await timed(`${adminUrl}/metrics`, token, 50);
    console.log(`/metrics scrape: p50 ${t.p50.toFixed(1)} ms, p99 ${t.p99.toFixed(1)} ms, ${t.bytes} bytes`);
  } else console.log(`/metrics: skipped: this server has no metrics object (${metrics.status}; the metrics helper's createMetrics is wired in at merge)`);
  await stop(on.child);

  console.log(`\nproxied keep-alive req/s (wrk -c50, ${SECONDS} s, server on core 0, wrk on core 1), ${ROUNDS} alternating rounds:`);
  const results: Record<'off' | 'on', number[]> = { off: [], on: [] };
  for (let round = 0; round < ROUNDS; round++) {
    for (const mode of ['off', 'on'] as const) {
      const port = await freePort();
      const s = serve(data, port, upstream, mode === 'on' ? `127.0.0.1:${await freePort()}` : 'off');
      await s.ready;
      await wrk(port, 1);
      results[mode].push(await wrk(port, SECONDS));
      await stop(s.child);
    }
  }
  const off = median(results.off);
  const onRps = median(results.on);
  console.log(`  admin off: ${off.toFixed(0)} req/s (${results.off.map((x) => x.toFixed(0)).join(', ')})`);
  console.log(`  admin on:  ${onRps.toFixed(0)} req/s (${results.on.map((x) => x.toFixed(0)).join(', ')})`);
  console.log(`  on / off: ${((onRps / off) * 100).toFixed(1)}% (target: within 3%)`);
}

main().then(
  () => process.exit(0),
  (err) => {
    console.error(err);
    process.exit(1);
  },
);
