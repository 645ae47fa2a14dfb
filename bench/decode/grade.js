#!/usr/bin/env node
/**
 * bench/decode/grade.js: `certgate inspect --grade` of a loopback server, next to `testssl --fast`
 * on the same server.
 *
 *   npm run build && npm run bench:grade [-- --runs 3]
 *
 * The server is a Node HTTPS server in its own process (ECDSA P-256 leaf + intermediate, TLS 1.2
 * and 1.3, HSTS). Each tool runs `runs` times, alternating; wall time of the whole process is
 * measured, medians printed with the ratio. testssl gets no DNS (--nodns none) and batch warnings.
 * Bounded: 2 x runs processes, each killed after 300 s.
 */
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const runsArg = process.argv.indexOf('--runs');
const runs = runsArg > 0 ? Number(process.argv[runsArg + 1]) : 3;
const { createCertificate } = await import(join(root, 'dist', 'pki', 'generate.js'));

const dir = mkdtempSync(join(tmpdir(), 'certgate-bench-grade-'));
let server;
try {
  const ca = await createCertificate({ subject: 'CN=Bench Root', ca: true });
  const inter = await createCertificate({ subject: 'CN=Bench Intermediate', ca: true, issuer: ca });
  const leaf = await createCertificate({ subject: 'CN=localhost', issuer: inter, dns: ['localhost'], ip: ['127.0.0.1'] });
  writeFileSync(join(dir, 'root.pem'), ca.certPem);
  writeFileSync(join(dir, 'chain.pem'), leaf.certPem + inter.certPem);
  writeFileSync(join(dir, 'key.pem'), leaf.keyPem);
  const serverJs = `
    const https = require('node:https'), fs = require('node:fs');
    const s = https.createServer({ cert: fs.readFileSync(${JSON.stringify(join(dir, 'chain.pem'))}), key: fs.readFileSync(${JSON.stringify(join(dir, 'key.pem'))}), ALPNProtocols: ['h2', 'http/1.1'] },
      (q, r) => r.writeHead(200, { 'strict-transport-security': 'max-age=31536000' }).end('ok'));
    s.on('tlsClientError', () => {});
    s.listen(0, '127.0.0.1', () => process.stdout.write(String(s.address().port) + '\\n'));`;
  server = spawn(process.execPath, ['-e', serverJs], { stdio: ['ignore', 'pipe', 'inherit'] });
  const port = await new Promise((resolve, reject) => {
    server.stdout.once('data', (d) => resolve(Number(String(d).trim())));
    server.once('exit', (c) => reject(new Error(`server exited ${c}`)));
  });
  const target = `127.0.0.1:${port}`;
  const commands = {
    'certgate inspect --grade': [
      process.execPath,
      [join(root, 'bin', 'certgate.js'), 'inspect', target, '--servername', 'localhost', '--ca', join(dir, 'root.pem'), '--no-system-roots', '--grade'],
    ],
    'testssl --fast': ['testssl', ['--fast', '--warnings', 'batch', '--quiet', '--nodns', 'none', '--color', '0', '--add-ca', join(dir, 'root.pem'), target]],
  };
  const times = Object.fromEntries(Object.keys(commands).map((k) => [k, []]));
  for (let i = 0; i < runs; i++) {
    for (const [name, [cmd, args]] of Object.entries(commands)) {
      const t0 = process.hrtime.bigint();
      const r = spawnSync(cmd, args, { stdio: ['ignore', 'ignore', 'pipe'], timeout: 300_000, env: { PATH: process.env.PATH, HOME: dir }, cwd: dir });
      const ms = Number(process.hrtime.bigint() - t0) / 1e6;
      if (r.error) throw r.error;
      if (r.status !== 0 && r.status !== 1) throw new Error(`${name} failed (${r.status}): ${r.stderr}`);
      times[name].push(ms);
    }
  }
  const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
  console.log(`bench/decode/grade: ${runs} runs each, Node ${process.version}, server ${target}\n`);
  console.log(`${'command'.padEnd(28)}${'median ms'.padStart(11)}   runs ms`);
  for (const [name, xs] of Object.entries(times))
    console.log(`${name.padEnd(28)}${median(xs).toFixed(0).padStart(11)}   ${xs.map((x) => x.toFixed(0)).join(', ')}`);
  const g = median(times['certgate inspect --grade']);
  const t = median(times['testssl --fast']);
  console.log(`\ncertgate --grade / testssl --fast: ${(g / t).toFixed(3)}x   (target: certgate under 1500 ms)`);
} finally {
  server?.kill();
  rmSync(dir, { recursive: true, force: true });
}
