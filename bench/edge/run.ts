/**
 * bench/edge: certgate serve next to Caddy, nginx and a bare Node https server, same ECDSA
 * P-256 certificate, server pinned to core 0 and wrk to core 1.
 *
 *   node --import tsx bench/edge/run.ts [--seconds 5]
 *
 * Full handshakes: wrk with "Connection: close" (a new TLS connection per request), per second
 * and per server CPU-second (from /proc). Keep-alive proxied requests: wrk --latency, 50
 * connections, p50/p99. Every load is bounded by --seconds.
 */
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { decodeCertificate } from '../../src/pki/certificate.ts';
import { createCertificate } from '../../src/pki/generate.ts';
import { FsStore } from '../../src/store/fs.ts';
import { freePort } from '../../test/helpers/daemons.ts';

const run = promisify(execFile);
const secondsArg = process.argv.indexOf('--seconds');
const SECONDS = secondsArg > 0 ? Number(process.argv[secondsArg + 1]) : 5;
const root = join(import.meta.dirname, '..', '..');
const work = mkdtempSync(join(tmpdir(), 'certgate-bench-edge-'));
const children: ChildProcess[] = [];

function cpuSeconds(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]?.split(' ') ?? [];
  return (Number(stat[11]) + Number(stat[12])) / 100;
}

async function wrk(port: number, close: boolean): Promise<{ rps: number; p50: string; p99: string }> {
  const args = [
    '1',
    'wrk',
    '-t1',
    `-c${close ? 20 : 50}`,
    `-d${SECONDS}s`,
    '--latency',
    '-H',
    'Host: bench.example.com',
    ...(close ? ['-H', 'Connection: close'] : []),
    `https://127.0.0.1:${port}/`,
  ];
  const { stdout } = await run('taskset', ['-c', ...args], { timeout: (SECONDS + 30) * 1000 });
  const rps = Number(/Requests\/sec:\s+([\d.]+)/.exec(stdout)?.[1] ?? 0);
  const p50 = /^\s+50%\s+(\S+)\s*$/m.exec(stdout)?.[1] ?? '?';
  const p99 = /^\s+99%\s+(\S+)\s*$/m.exec(stdout)?.[1] ?? '?';
  return { rps, p50, p99 };
}

function start(cmd: string, args: string[], env: Record<string, string> = {}): ChildProcess {
  const child = spawn('taskset', ['-c', '0', cmd, ...args], { stdio: ['pipe', 'pipe', 'pipe'], env: { ...process.env, ...env } });
  children.push(child);
  return child;
}

async function waitPort(port: number): Promise<void> {
  const deadline = Date.now() + 15_000;
  while (Date.now() < deadline) {
    try {
      await run('curl', ['-sk', '-o', '/dev/null', '--resolve', `bench.example.com:${port}:127.0.0.1`, `https://bench.example.com:${port}/`], {
        timeout: 2000,
      });
      return;
    } catch {
      await new Promise((r) => setTimeout(r, 100));
    }
  }
  throw new Error(`nothing answered on ${port}`);
}

async function measure(name: string, child: ChildProcess, port: number) {
  try {
    await waitPort(port);
  } catch {
    console.log(`${name.padEnd(16)} did not answer on ${port}: skipped`);
    return null;
  }
  const pid = Number(readFileSync(`/proc/${child.pid}/task/${child.pid}/children`, 'utf8').trim().split(' ')[0] || child.pid);
  const c0 = cpuSeconds(pid);
  const full = await wrk(port, true);
  const cpu = cpuSeconds(pid) - c0;
  const ka = await wrk(port, false);
  const perCpu = cpu > 0 ? (full.rps * SECONDS) / cpu : 0;
  console.log(
    `${name.padEnd(16)} full handshakes ${full.rps.toFixed(0).padStart(6)}/s  ${perCpu.toFixed(0).padStart(6)}/CPU-s   keep-alive ${ka.rps.toFixed(0).padStart(6)} req/s  p50 ${ka.p50.padStart(8)}  p99 ${ka.p99.padStart(8)}`,
  );
  return { full: full.rps, perCpu, ka: ka.rps, p99: ka.p99 };
}

try {
  const ca = await createCertificate({ subject: 'CN=Bench CA', ca: true });
  const leaf = await createCertificate({ subject: 'CN=bench.example.com', issuer: ca, dns: ['bench.example.com'] });
  const certFile = join(work, 'cert.pem');
  const keyFile = join(work, 'key.pem');
  writeFileSync(certFile, leaf.certPem + ca.certPem);
  writeFileSync(keyFile, leaf.keyPem);
  const up = spawn(process.execPath, [join(root, 'bench', 'edge', 'upstream.js')], { stdio: ['pipe', 'pipe', 'inherit'] });
  children.push(up);
  const upPort = Number(String(await new Promise((r) => up.stdout?.once('data', r))).trim());
  console.log(`bench/edge: ${SECONDS} s per load, ECDSA P-256, server on core 0, wrk on core 1\n`);
  const results: Record<string, { full: number; perCpu: number; ka: number; p99: string } | null> = {};
  {
    const port = await freePort();
    const bare = start(process.execPath, [join(root, 'bench', 'edge', 'bare.js'), certFile, keyFile, String(port)]);
    results.node = await measure('bare node https', bare, port);
    bare.kill();
  }
  {
    const data = join(work, 'certgate');
    const info = decodeCertificate(leaf.der).info;
    await new FsStore({ root: data }).putBundle('bench.example.com', {
      certPem: leaf.certPem + ca.certPem,
      keyPem: leaf.keyPem,
      meta: {
        name: 'bench.example.com',
        names: ['bench.example.com'],
        issuer: info.issuer,
        serialNumber: info.serialNumber,
        notBefore: info.notBefore,
        notAfter: info.notAfter,
        issuedAt: info.notBefore,
        directory: 'bench',
        accountUrl: null,
        keyType: 'ec-p256',
        profile: null,
        ari: null,
      },
    });
    const [port, http] = [await freePort(), await freePort()];
    const cg = start(
      process.execPath,
      [
        join(root, 'bin', 'certgate.js'),
        'serve',
        '--upstream',
        `http://127.0.0.1:${upPort}`,
        '--https-port',
        String(port),
        '--http-port',
        String(http),
        '--host',
        '127.0.0.1',
        '--no-hsts',
      ],
      { CERTGATE_DATA: data },
    );
    results.certgate = await measure('certgate serve', cg, port);
    cg.kill('SIGTERM');
  }
  if (existsSync('/usr/bin/caddy')) {
    const port = await freePort();
    writeFileSync(
      join(work, 'Caddyfile'),
      `{\n  admin off\n  auto_https off\n  default_sni bench.example.com\n  log {\n    output discard\n  }\n}\nhttps://bench.example.com:${port} {\n  bind 127.0.0.1\n  tls ${certFile} ${keyFile}\n  reverse_proxy 127.0.0.1:${upPort}\n}\n`,
    );
    const caddy = start('/usr/bin/caddy', ['run', '--config', join(work, 'Caddyfile'), '--adapter', 'caddyfile'], {
      HOME: work,
      XDG_DATA_HOME: work,
      XDG_CONFIG_HOME: work,
      GOMAXPROCS: '1',
    });
    results.caddy = await measure('caddy', caddy, port);
    caddy.kill('SIGTERM');
  }
  if (existsSync('/usr/sbin/nginx')) {
    const port = await freePort();
    writeFileSync(
      join(work, 'nginx.conf'),
      `worker_processes 1;\nerror_log ${work}/nginx-error.log;\npid ${work}/nginx.pid;\nevents { worker_connections 1024; }\nhttp {\n  access_log off;\n  upstream app { server 127.0.0.1:${upPort}; keepalive 64; }\n  server {\n    listen 127.0.0.1:${port} ssl http2;\n    server_name bench.example.com;\n    ssl_certificate ${certFile};\n    ssl_certificate_key ${keyFile};\n    ssl_session_cache off;\n    ssl_session_tickets off;\n    location / { proxy_pass http://app; proxy_http_version 1.1; proxy_set_header Connection ""; }\n  }\n}\n`,
    );
    const nginx = start('/usr/sbin/nginx', ['-c', join(work, 'nginx.conf'), '-g', 'daemon off;', '-p', work]);
    results.nginx = await measure('nginx', nginx, port);
    nginx.kill('SIGTERM');
  }
  const r = results;
  console.log('');
  if (r.certgate && r.node)
    console.log(`full handshakes per CPU-second, certgate / bare node: ${(r.certgate.perCpu / r.node.perCpu).toFixed(2)} (target >= 0.95)`);
  if (r.certgate && r.caddy?.ka)
    console.log(
      `keep-alive req/s, certgate / caddy: ${(r.certgate.ka / r.caddy.ka).toFixed(2)} (target >= 1); p99 certgate ${r.certgate.p99} vs caddy ${r.caddy.p99}`,
    );
  if (r.certgate && r.nginx?.ka) console.log(`keep-alive req/s, certgate / nginx: ${(r.certgate.ka / r.nginx.ka).toFixed(2)}`);
} finally {
  for (const c of children) c.kill('SIGKILL');
  rmSync(work, { recursive: true, force: true });
}
