/**
 * bench/edge profile: certgate serve (the bench's set-up: 1,001 stored names) under the
 * close-connection load with `node --cpu-prof`, then its functions by self time. Work, not
 * time: a busy shared machine changes the totals, hardly the shares.
 *
 *   node --import tsx bench/edge/profile.ts [--seconds 10] [--top 25] [--bare]
 *
 * --bare profiles bench/edge/bare.js instead (one certificate, no SNI callback).
 * --proxied profiles the keep-alive proxied load instead (50 connections, Host bench.example.com
 * routed to bench/edge/upstream.js); figures are then per request.
 * --out FILE keeps the .cpuprofile (for Chrome DevTools or a closer look).
 * --perf samples with Linux `perf record` instead (Debian linux-perf; every thread of the server,
 * OpenSSL and the kernel included, JIT frames named by --perf-basic-prof) and prints µs per
 * handshake by shared object and by symbol: what the JS profile cannot see.
 */
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { copyFileSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { createCertificate } from '../../src/pki/generate.ts';
import { freePort } from '../../test/helpers/daemons.ts';
import { certgateConfig, certgateData } from './setup.ts';

const run = promisify(execFile);
const arg = (k: string, d: number) => (process.argv.includes(k) ? Number(process.argv[process.argv.indexOf(k) + 1]) : d);
const SECONDS = arg('--seconds', 10);
const TOP = arg('--top', 25);
const BARE = process.argv.includes('--bare');
const PERF = process.argv.includes('--perf');
const PROXIED = process.argv.includes('--proxied');
const OUT = process.argv.includes('--out') ? process.argv[process.argv.indexOf('--out') + 1] : undefined;
/** The server's cores: 0 by default; --no-pin lets it (and V8's sampling thread) use both. */
const PIN = process.argv.includes('--no-pin') ? '0-1' : '0';
/** Sampling interval in µs (V8's default is 1000). */
const INTERVAL = arg('--interval', 100);
const root = join(import.meta.dirname, '..', '..');
const work = mkdtempSync(join(tmpdir(), 'certgate-bench-profile-'));
let child: ChildProcess | null = null;
let upstream: ChildProcess | null = null;

interface Node {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  hitCount?: number;
}

try {
  const ca = await createCertificate({ subject: 'CN=Bench CA', ca: true });
  const leaf = await createCertificate({ subject: 'CN=bench.example.com', issuer: ca, dns: ['bench.example.com'], ip: ['127.0.0.1'] });
  const [port, http] = [await freePort(), await freePort()];
  const profDir = join(work, 'prof');
  const profFlags = PERF ? ['--perf-basic-prof-only-functions'] : ['--cpu-prof', '--cpu-prof-interval', String(INTERVAL), '--cpu-prof-dir', profDir];
  if (BARE) {
    writeFileSync(join(work, 'cert.pem'), leaf.certPem + ca.certPem);
    writeFileSync(join(work, 'key.pem'), leaf.keyPem);
    child = spawn(
      'taskset',
      ['-c', PIN, process.execPath, ...profFlags, join(root, 'bench', 'edge', 'bare.js'), join(work, 'cert.pem'), join(work, 'key.pem'), String(port)],
      { stdio: 'ignore' },
    );
  } else {
    const { data, defaultSni } = await certgateData(work, ca, leaf);
    let upPort = 9;
    if (PROXIED) {
      upstream = spawn(process.execPath, [join(root, 'bench', 'edge', 'upstream.js')], { stdio: ['pipe', 'pipe', 'inherit'] });
      upPort = Number(String(await new Promise((r) => upstream?.stdout?.once('data', r))).trim());
    }
    certgateConfig(join(work, 'certgate.yaml'), { upPort, https: port, http, defaultSni, workers: false });
    child = spawn('taskset', ['-c', PIN, process.execPath, ...profFlags, join(root, 'bin', 'certgate.js'), 'serve', '--config', join(work, 'certgate.yaml')], {
      stdio: 'ignore',
      env: { ...process.env, CERTGATE_DATA: data },
    });
  }
  const deadline = Date.now() + 30_000;
  for (;;) {
    try {
      await run('curl', ['-sk', '-o', '/dev/null', '--fail', `https://127.0.0.1:${port}/`], { timeout: 2000 });
      break;
    } catch {
      if (Date.now() > deadline) throw new Error('the server did not answer');
      await new Promise((r) => setTimeout(r, 200));
    }
  }
  const perfData = join(work, 'perf.data');
  // Bounded like the load: perf stops itself after SECONDS.
  const perf = PERF
    ? run('perf', ['record', '-q', '-e', 'cpu-clock', '-F', '4000', '-p', String(child.pid), '-o', perfData, '--', 'sleep', String(SECONDS)], {
        timeout: (SECONDS + 30) * 1000,
      })
    : null;
  const load = PROXIED ? ['-c50', '-H', 'Host: bench.example.com'] : ['-c20', '-H', 'Connection: close'];
  const { stdout } = await run('taskset', ['-c', '1', 'wrk', '-t1', ...load, `-d${SECONDS}s`, `https://127.0.0.1:${port}/`], {
    timeout: (SECONDS + 30) * 1000,
  });
  const handshakes = Number(/(\d+) requests in/.exec(stdout)?.[1] ?? 0);
  console.log(
    `wrk: ${/Requests\/sec:\s+([\d.]+)/.exec(stdout)?.[1]} ${PROXIED ? 'proxied requests/s (keep-alive)' : 'handshakes/s (Connection: close)'}, ${handshakes} in all`,
  );
  if (perf) {
    await perf;
    child.kill('SIGKILL');
    const report = async (sort: string) =>
      (await run('perf', ['report', '-i', perfData, '--stdio', '-q', '--sort', sort, '--percent-limit', '0.5'], { maxBuffer: 64 << 20 })).stdout;
    const byDso = (await run('perf', ['report', '-i', perfData, '--stdio', '-q', '-n', '--sort', 'dso'])).stdout;
    const samples = byDso.split('\n').reduce((sum, l) => sum + Number(/^\s*[\d.]+%\s+(\d+)/.exec(l)?.[1] ?? 0), 0);
    const perHandshake = (pct: number) => ((pct / 100) * samples * 250) / Math.max(1, handshakes);
    const print = (text: string, limit: number) => {
      for (const line of text
        .split('\n')
        .filter((l) => l.trim())
        .slice(0, limit)) {
        const pct = Number(/([\d.]+)%/.exec(line)?.[1] ?? 0);
        console.log(`${perHandshake(pct).toFixed(1).padStart(7)} µs  ${line.trim().replace(/\s+/g, ' ')}`);
      }
    };
    console.log(`perf: ${samples} samples of 250 µs over ${SECONDS} s, ${((samples * 250) / Math.max(1, handshakes)).toFixed(0)} µs per handshake in all`);
    console.log('by shared object:');
    print(await report('dso'), 12);
    console.log('by symbol:');
    print(await report('dso,sym'), TOP);
    upstream?.kill('SIGKILL');
    rmSync(work, { recursive: true, force: true });
    process.exit(0);
  }
  const exited = new Promise((r) => child?.once('exit', r));
  // taskset execs node: the pid is node's.
  child.kill('SIGINT');
  await exited;
  const file = readdirSync(profDir).find((f) => f.endsWith('.cpuprofile'));
  if (!file) throw new Error('no profile written');
  if (OUT) copyFileSync(join(profDir, file), OUT);
  const prof = JSON.parse(readFileSync(join(profDir, file), 'utf8')) as {
    nodes: Node[];
    samples: number[];
    timeDeltas: number[];
    endTime: number;
    startTime: number;
  };
  // Only the samples of the load (its last SECONDS before the stop), not the start-up's.
  const hitsOf = new Map<number, number>();
  let t = prof.startTime;
  const from = prof.endTime - SECONDS * 1e6;
  prof.samples.forEach((id, i) => {
    t += prof.timeDeltas[i] ?? 0;
    if (t >= from) hitsOf.set(id, (hitsOf.get(id) ?? 0) + 1);
  });
  const self = new Map<string, number>();
  let total = 0;
  for (const n of prof.nodes) {
    const hits = hitsOf.get(n.id) ?? 0;
    total += hits;
    const f = n.callFrame;
    const where = f.url ? `${f.url.replace(/^.*\/(node_modules|dist|src|bench)\//, '$1/').replace(/^node:/, '')}:${f.lineNumber + 1}` : '';
    const key = `${f.functionName || '(anonymous)'} ${where}`.trim();
    self.set(key, (self.get(key) ?? 0) + hits);
  }
  const idle = [...self].filter(([k]) => k.startsWith('(idle)')).reduce((a, [, v]) => a + v, 0);
  console.log(
    `${total} samples of ${INTERVAL} µs, ${((100 * idle) / total).toFixed(1)}% idle; busy ${(((total - idle) * INTERVAL) / Math.max(1, handshakes)).toFixed(0)} µs sampled per handshake; self time of the busy rest:`,
  );
  for (const [k, v] of [...self]
    .filter(([k]) => !k.startsWith('(idle)'))
    .sort((a, b) => b[1] - a[1])
    .slice(0, TOP))
    console.log(`${((100 * v) / (total - idle)).toFixed(1).padStart(5)}%  ${k}`);
} finally {
  if (child && child.exitCode === null) child.kill('SIGKILL');
  upstream?.kill('SIGKILL');
  rmSync(work, { recursive: true, force: true });
}
