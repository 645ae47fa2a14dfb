#!/usr/bin/env node
/**
 * bench/trust: the trust store under load.
 *
 *   npm run build && node bench/trust/run.js [--cas 1000] [--requests 20000]
 *
 * 1. Load a ca-certs directory of N CA certificates (generated now), then rebuild on change:
 *    time and memory.
 * 2. Outbound HTTPS requests per second through the store's undici dispatcher with a custom
 *    CA, next to a plain undici Agent given the same CA (target: within 5%). Keep-alive, 16
 *    in flight, the server in its own process; rounds alternate to even out noise.
 * Bounded: a fixed number of requests per round and a 60 s cap per round.
 */
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Agent, request } from 'undici';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const arg = (name, dflt) => {
  const i = process.argv.indexOf(name);
  return i > 0 ? Number(process.argv[i + 1]) : dflt;
};
const CAS = arg('--cas', 1000);
const REQUESTS = arg('--requests', 20000);
const { createCertificate } = await import(join(root, 'dist', 'pki', 'generate.js'));
const { createTrustStore } = await import(join(root, 'dist', 'trust', 'store.js'));

const dir = mkdtempSync(join(tmpdir(), 'certgate-bench-trust-'));
const mb = (n) => `${(n / 1024 / 1024).toFixed(1)} MB`;
try {
  // ---- 1. load and rebuild
  const caDir = join(dir, 'ca-certs');
  const { mkdirSync } = await import('node:fs');
  mkdirSync(caDir);
  const t0 = performance.now();
  const caRoot = await createCertificate({ subject: 'CN=Bench Root', ca: true });
  writeFileSync(join(caDir, 'bench-root.pem'), caRoot.certPem);
  for (let i = 1; i < CAS; i++) {
    const c = await createCertificate({ subject: `CN=Bench CA ${i}, O=certgate bench`, ca: true });
    writeFileSync(join(caDir, `ca-${i}.pem`), c.certPem);
  }
  console.log(`bench/trust: generated ${CAS} CA certificates in ${((performance.now() - t0) / 1000).toFixed(1)} s\n`);
  global.gc?.();
  const heapBefore = process.memoryUsage();
  const store = createTrustStore({ dir: caDir, systemRoots: true, pollMs: 1000 });
  let t = performance.now();
  const set = await store.start();
  const loadMs = performance.now() - t;
  t = performance.now();
  store.secureContext();
  const ctxMs = performance.now() - t;
  const heapAfter = process.memoryUsage();
  console.log(
    `load ${set.entries.length} CAs (+${set.ca.length - set.entries.length} system roots): ${loadMs.toFixed(0)} ms; secure context: ${ctxMs.toFixed(0)} ms`,
  );
  console.log(`memory: rss +${mb(heapAfter.rss - heapBefore.rss)}, heap +${mb(heapAfter.heapUsed - heapBefore.heapUsed)}`);
  t = performance.now();
  await store.reload();
  console.log(`rebuild, nothing changed (cached parses): ${(performance.now() - t).toFixed(0)} ms`);
  t = performance.now();
  const cold = createTrustStore({ dir: caDir, systemRoots: true, watch: false });
  await cold.start();
  await cold.close();
  console.log(`cold load again (no cache): ${(performance.now() - t).toFixed(0)} ms`);
  const changed = new Promise((resolve) => store.on('change', resolve));
  t = performance.now();
  const now = new Date();
  utimesSync(join(caDir, 'ca-1.pem'), now, now);
  writeFileSync(join(caDir, 'ca-new.pem'), (await createCertificate({ subject: 'CN=Bench New CA', ca: true })).certPem);
  await changed;
  console.log(`file added → new set visible (watch + debounce): ${(performance.now() - t).toFixed(0)} ms (requirement: < 2000 ms)\n`);

  // ---- 2. requests per second
  const inter = await createCertificate({ subject: 'CN=Bench Intermediate', ca: true, issuer: caRoot });
  const leaf = await createCertificate({ subject: 'CN=127.0.0.1', issuer: inter, ip: ['127.0.0.1'], dns: ['localhost'] });
  writeFileSync(join(dir, 'cert.pem'), leaf.certPem + inter.certPem);
  writeFileSync(join(dir, 'key.pem'), leaf.keyPem);
  const server = spawn(process.execPath, [join(root, 'bench', 'trust', 'server.js'), join(dir, 'cert.pem'), join(dir, 'key.pem')], {
    stdio: ['pipe', 'pipe', 'inherit'],
  });
  const [portLine] = await once(server.stdout, 'data');
  const url = `https://127.0.0.1:${String(portLine).trim()}/`;
  const plainAgent = () => new Agent({ connect: { ca: [...set.ca, caRoot.certPem] }, connections: 16 });
  const storeAgent = () => store.dispatcher({ connections: 16 });

  async function round(dispatcher) {
    let sent = 0;
    let ok = 0;
    const deadline = Date.now() + 60_000;
    const started = performance.now();
    async function worker() {
      while (sent < REQUESTS && Date.now() < deadline) {
        sent++;
        const res = await request(url, { dispatcher });
        await res.body.dump();
        if (res.statusCode === 200) ok++;
      }
    }
    await Promise.all(Array.from({ length: 16 }, worker));
    const secs = (performance.now() - started) / 1000;
    await dispatcher.close();
    if (ok !== sent) throw new Error(`${sent - ok} requests failed`);
    return ok / secs;
  }
  await round(plainAgent()); // warm-up
  const results = { plain: [], store: [] };
  for (let i = 0; i < 5; i++) {
    results.store.push(await round(storeAgent()));
    results.plain.push(await round(plainAgent()));
  }
  server.stdin.end();
  const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
  const p = median(results.plain);
  const s = median(results.store);
  console.log(`HTTPS keep-alive, 16 in flight, ${REQUESTS} requests per round, 5 rounds each, alternating (median):`);
  console.log(`  plain undici Agent (same CA)      ${p.toFixed(0)} req/s   rounds ${results.plain.map((x) => x.toFixed(0)).join(', ')}`);
  console.log(`  certgate trust store dispatcher   ${s.toFixed(0)} req/s   rounds ${results.store.map((x) => x.toFixed(0)).join(', ')}`);
  console.log(`  ratio store / plain: ${(s / p).toFixed(3)} (target >= 0.95)`);
  await store.close();
} finally {
  rmSync(dir, { recursive: true, force: true });
}
