#!/usr/bin/env node
/**
 * bench/decode: cold-start decode times, certgate next to openssl and a bare `node -e 0`.
 *
 *   npm run build && npm run bench:decode [-- --runs 30]
 *
 * Inputs are made now: Node's bundled root bundle (~150 certificates) and a 3-certificate chain
 * generated with certgate's own generator. Each command runs `runs` times after two warm-ups,
 * the commands interleaved round by round; medians and p90 are printed with ratios. Bounded: at
 * most (runs + 2) x commands processes. `bin/certgate.js` runs the one-file bundle that
 * `npm run build` makes (scripts/bundle-cli.mjs, CommonJS); after a bare `tsc` it runs dist/cli/main.js.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { rootCertificates } from 'node:tls';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const runsArg = process.argv.indexOf('--runs');
const runs = runsArg > 0 ? Number(process.argv[runsArg + 1]) : 20;
const { createCertificate } = await import(join(root, 'dist', 'pki', 'generate.js'));

const dir = mkdtempSync(join(tmpdir(), 'certgate-bench-'));
try {
  const ca = await createCertificate({ subject: 'CN=Bench Root', ca: true });
  const inter = await createCertificate({ subject: 'CN=Bench Intermediate', ca: true, issuer: ca });
  const leaf = await createCertificate({ subject: 'CN=bench.test', issuer: inter, dns: ['bench.test'] });
  const chain = join(dir, 'chain.pem');
  const bundle = join(dir, 'roots.pem');
  writeFileSync(chain, leaf.certPem + inter.certPem + ca.certPem);
  writeFileSync(bundle, rootCertificates.join('\n'));
  const bin = join(root, 'bin', 'certgate.js');
  const node = process.execPath;
  const sh = (script) => ['sh', ['-c', script]];
  // CPU time (user + system, all threads) of the Node processes, written by a preloaded hook at
  // exit: on a shared machine it moves far less than wall time. The hook costs every Node
  // command the same, the floor included.
  const cpuFile = join(dir, 'cpu.txt');
  const hook = join(dir, 'cpu-hook.cjs');
  writeFileSync(
    hook,
    `process.on('exit', () => { const u = process.cpuUsage(); require('node:fs').appendFileSync(${JSON.stringify(cpuFile)}, process.env.BENCH_NAME + '\\t' + (u.user + u.system) / 1000 + '\\n'); });`,
  );
  const commands = {
    'node -e 0 (floor)': [node, ['-e', '0']],
    'certgate decode chain (3)': [node, [bin, 'decode', chain]],
    'openssl crl2pkcs7|pkcs7 chain (3)': sh(`openssl crl2pkcs7 -nocrl -certfile ${chain} | openssl pkcs7 -print_certs -text -noout >/dev/null`),
    'openssl x509 -text leaf (1)': ['openssl', ['x509', '-noout', '-text', '-in', chain]],
    'certgate decode roots (~150)': [node, [bin, 'decode', bundle]],
    'certgate decode --json roots (~150)': [node, [bin, 'decode', '--json', bundle]],
    'openssl crl2pkcs7|pkcs7 roots (~150)': sh(`openssl crl2pkcs7 -nocrl -certfile ${bundle} | openssl pkcs7 -print_certs -text -noout >/dev/null`),
  };
  // Rounds interleave the commands (each round runs every command once, in turn), so a busy
  // spell on a shared machine lands on all of them instead of on whichever ran then.
  const times = Object.fromEntries(Object.keys(commands).map((name) => [name, []]));
  for (let i = 0; i < runs + 2; i++) {
    for (const [name, [cmd, args]] of Object.entries(commands)) {
      const t0 = process.hrtime.bigint();
      const isNode = cmd === node;
      const r = spawnSync(cmd, isNode ? ['--require', hook, ...args] : args, {
        stdio: ['ignore', 'ignore', 'pipe'],
        timeout: 30_000,
        env: { ...process.env, BENCH_NAME: i >= 2 ? name : 'warm-up' },
      });
      const ms = Number(process.hrtime.bigint() - t0) / 1e6;
      if (r.status !== 0 && r.status !== 1) throw new Error(`${name} failed: ${r.stderr}`);
      if (i >= 2) times[name].push(ms);
    }
  }
  const results = {};
  for (const [name, xs] of Object.entries(times)) {
    xs.sort((a, b) => a - b);
    results[name] = { median: xs[Math.floor(xs.length / 2)], p90: xs[Math.floor(xs.length * 0.9)] };
  }
  const cpu = {};
  for (const line of readFileSync(cpuFile, 'utf8').trim().split('\n')) {
    const [name, ms] = line.split('\t');
    if (name === 'warm-up') continue;
    cpu[name] = cpu[name] ?? [];
    cpu[name].push(Number(ms));
  }
  for (const [name, xs] of Object.entries(cpu)) results[name].cpu = xs.sort((a, b) => a - b)[Math.floor(xs.length / 2)];
  const floor = results['node -e 0 (floor)'].median;
  const cpuFloor = results['node -e 0 (floor)'].cpu;
  console.log(`bench/decode: ${runs} runs each, Node ${process.version}, ${rootCertificates.length} roots\n`);
  console.log(`${'command'.padEnd(40)}${'median ms'.padStart(11)}${'p90 ms'.padStart(9)}${'x node'.padStart(9)}${'cpu ms'.padStart(9)}${'x node'.padStart(9)}`);
  for (const [name, r] of Object.entries(results)) {
    const c = r.cpu === undefined ? ''.padStart(18) : `${r.cpu.toFixed(1).padStart(9)}${(r.cpu / cpuFloor).toFixed(2).padStart(9)}`;
    console.log(`${name.padEnd(40)}${r.median.toFixed(1).padStart(11)}${r.p90.toFixed(1).padStart(9)}${(r.median / floor).toFixed(2).padStart(9)}${c}`);
  }
  const ratio = (a, b) => (results[a].median / results[b].median).toFixed(2);
  console.log('');
  console.log(
    `certgate chain / node floor:        ${ratio('certgate decode chain (3)', 'node -e 0 (floor)')}x wall, ${(results['certgate decode chain (3)'].cpu / cpuFloor).toFixed(2)}x cpu (target <= 1.35x)`,
  );
  console.log(`certgate chain / openssl pipeline:  ${ratio('certgate decode chain (3)', 'openssl crl2pkcs7|pkcs7 chain (3)')}x`);
  console.log(`certgate roots / openssl pipeline:  ${ratio('certgate decode roots (~150)', 'openssl crl2pkcs7|pkcs7 roots (~150)')}x`);
} finally {
  rmSync(dir, { recursive: true, force: true });
}
