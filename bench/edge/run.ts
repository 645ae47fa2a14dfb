/**
 * bench/edge: certgate serve next to Caddy, nginx and a bare Node https server in one run, same
 * ECDSA P-256 certificate (SANs bench.example.com and IP 127.0.0.1), server pinned to core 0,
 * load and the proxied app (bench/edge/upstream.js) on core 1.
 *
 *   node --import tsx bench/edge/run.ts [--seconds 4]
 *
 * - Full handshakes: wrk, "Connection: close" (a new TLS connection per request, no resumption,
 *   SNI 127.0.0.1 as wrk sends the URL's host), a fixed answer from every server (3 bytes from
 *   Caddy `respond`, nginx `return` and bare Node; certgate's own ~450-byte page for a host
 *   without an upstream); per second and per server CPU-second (/proc).
 * - Two floors beside the peers: "bare node, SNI" holds the same 1,001 names as certgate behind
 *   Node's SNI callback (what the switch alone costs), "bare node proxy" is Node's https server
 *   with undici and nothing else (the best a Node proxy can do: the proxied figures' ceiling).
 * - Resumed handshakes: `openssl s_time -reuse -tls1_2` (one client, sequential), per second.
 * - Keep-alive proxied requests: wrk --latency, 50 connections, Host bench.example.com routed to
 *   the same local upstream by all three proxies (bare Node answers itself), p50/p99.
 * - Fixed rate (tail latency at equal load): h2load --h1 --rps, 50 keep-alive connections, the
 *   same offered rate for every server (--rate-share of Caddy's saturated keep-alive rate in
 *   this run, default 0.7), SNI and Host bench.example.com; p50/p99/p99.9 of h2load's
 *   per-request log, after a 1 s run of its own as warm-up. (h2load sends a client's next request when its previous answer is in, so
 *   a stalled server is offered less meanwhile: a p99.9 is a floor, not coordinated-omission free.)
 * certgate holds 1,001 stored names while measured and serves bench.example.com through its SNI
 * callback with a context switch, as any name of a multi-name production config (setup.ts).
 * The negotiated protocol, group and signature are printed per server: the comparison holds only
 * when they are the same.
 * Every server gets one second of load first (JIT, lazy modules, first certificates). Every
 * load is bounded by --seconds.
 */
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { createCertificate } from '../../src/pki/generate.ts';
import { freePort } from '../../test/helpers/daemons.ts';
import { certgateConfig, certgateData, OTHER_NAMES } from './setup.ts';

const run = promisify(execFile);
const secondsArg = process.argv.indexOf('--seconds');
const SECONDS = secondsArg > 0 ? Number(process.argv[secondsArg + 1]) : 3;
const roundsArg = process.argv.indexOf('--rounds');
const ROUNDS = roundsArg > 0 ? Number(process.argv[roundsArg + 1]) : 3;
/** --all-cores: nothing pinned; every server uses every core (certgate --workers auto, Caddy's default GOMAXPROCS, nginx worker_processes auto), wrk runs 2 threads beside them. */
const ALL_CORES = process.argv.includes('--all-cores');
const shareArg = process.argv.indexOf('--rate-share');
const RATE_SHARE = shareArg > 0 ? Number(process.argv[shareArg + 1]) : 0.7;
const root = join(import.meta.dirname, '..', '..');
const work = mkdtempSync(join(tmpdir(), 'certgate-bench-edge-'));
const children: ChildProcess[] = [];

/** CPU seconds of a process and all its descendants (nginx's work is in its worker). */
function cpuSeconds(pid: number): number {
  const procs = new Map<number, { ppid: number; cpu: number }>();
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8').split(') ')[1]?.split(' ') ?? [];
      procs.set(Number(entry), { ppid: Number(stat[1]), cpu: (Number(stat[11]) + Number(stat[12])) / 100 });
    } catch {
      // gone meanwhile
    }
  }
  let total = 0;
  const walk = (p: number) => {
    total += procs.get(p)?.cpu ?? 0;
    for (const [child, v] of procs) if (v.ppid === p) walk(child);
  };
  walk(pid);
  return total;
}

async function wrk(port: number, mode: 'close' | 'keepalive', seconds = SECONDS): Promise<{ rps: number; p50: string; p99: string; errors: number }> {
  const args = [
    ALL_CORES ? '0-1' : '1',
    'wrk',
    ALL_CORES ? '-t2' : '-t1',
    `-c${mode === 'close' ? 20 : 50}`,
    `-d${seconds}s`,
    '--latency',
    ...(mode === 'close' ? ['-H', 'Connection: close'] : ['-H', 'Host: bench.example.com']),
    `https://127.0.0.1:${port}/`,
  ];
  const { stdout } = await run('taskset', ['-c', ...args], { timeout: (seconds + 30) * 1000 });
  const rps = Number(/Requests\/sec:\s+([\d.]+)/.exec(stdout)?.[1] ?? 0);
  if (!rps) console.log(`(wrk: ${stdout.trim().split('\n').slice(-4).join(' | ')})`);
  const p50 = /^\s+50%\s+(\S+)\s*$/m.exec(stdout)?.[1] ?? '?';
  const p99 = /^\s+99%\s+(\S+)\s*$/m.exec(stdout)?.[1] ?? '?';
  const err = /Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/.exec(stdout);
  const non2xx = Number(/Non-2xx or 3xx responses: (\d+)/.exec(stdout)?.[1] ?? 0);
  const errors = (err ? err.slice(1).reduce((a, b) => a + Number(b), 0) : 0) + non2xx;
  return { rps, p50, p99, errors };
}

/** Resumed handshakes per second: openssl s_time reusing one session, sequentially. */
async function resumed(port: number): Promise<number> {
  const { stdout } = await run(
    'taskset',
    // TLS 1.2: s_time takes its session right after the handshake, before a TLS 1.3 ticket
    // (sent after the handshake) has been read, so with 1.3 it measures Node's servers as full
    // handshakes. Session resumption itself works the same way on every server here.
    ['-c', '1', 'openssl', 's_time', '-connect', `127.0.0.1:${port}`, '-reuse', '-tls1_2', '-time', String(SECONDS), '-CAfile', join(work, 'ca.pem')],
    { timeout: (SECONDS + 30) * 1000 },
  ).catch((e: { stdout?: string }) => ({ stdout: e.stdout ?? '' }));
  const m = /(\d+) connections in ([\d.]+)s/.exec(stdout.split('reuse session-id')[1] ?? stdout);
  return m ? Number(m[1]) / Number(m[2]) : 0;
}

/** What a handshake negotiates with this server (as wrk's and h2load's OpenSSL would): protocol, group, signature. */
async function negotiated(port: number): Promise<string> {
  const { stdout, stderr } = await run(
    'openssl',
    ['s_client', '-connect', `127.0.0.1:${port}`, '-servername', 'bench.example.com', '-brief', '-CAfile', join(work, 'ca.pem')],
    { timeout: 10_000 },
  ).catch((e: { stdout?: string; stderr?: string }) => ({ stdout: e.stdout ?? '', stderr: e.stderr ?? '' }));
  const text = stdout + stderr;
  const pick = (re: RegExp) => re.exec(text)?.[1]?.trim() ?? '?';
  return `${pick(/Protocol version: (.+)/)}, ${pick(/Ciphersuite: (.+)/)}, group ${pick(/(?:Server|Peer) Temp Key: ([^,\n]+)/)}, ${pick(/Signature type: (.+)/)}/${pick(/Hash used: (.+)/)}`;
}

/** A fixed offered rate (requests/s in all) over 50 keep-alive HTTP/1.1 connections; latency percentiles from h2load's per-request log. */
async function fixedRate(port: number, rate: number): Promise<{ rate: number; done: number; p50: number; p99: number; p999: number; errors: number }> {
  const log = join(work, `h2load-${port}.log`);
  const clients = 50;
  const h2load = (seconds: number, extra: string[]) =>
    run(
      'taskset',
      [
        '-c',
        ALL_CORES ? '0-1' : '1',
        'h2load',
        '--h1',
        '-t',
        ALL_CORES ? '2' : '1',
        '-c',
        String(clients),
        `--rps=${(rate / clients).toFixed(2)}`,
        '-D',
        String(seconds),
        `--connect-to=127.0.0.1:${port}`,
        ...extra,
        `https://bench.example.com:${port}/`,
      ],
      { timeout: (seconds + 30) * 1000, maxBuffer: 1 << 24 },
    ).catch((e: { stdout?: string }) => ({ stdout: e.stdout ?? '' }));
  // Warm-up as a run of its own, not h2load's --warm-up-time: with that, the requests a slow
  // first second leaves unsent are all sent when the measured period starts, and that server is
  // offered more than the rate (seen: 7,335 requests in the first second at 5,000/s offered).
  await h2load(1, []);
  const { stdout } = await h2load(SECONDS * 2, [`--log-file=${log}`]);
  const times: number[] = [];
  let errors = 0;
  for (const line of (existsSync(log) ? readFileSync(log, 'utf8') : '').split('\n')) {
    const [, status, us] = line.split('\t');
    if (!us) continue;
    if (status !== '200') errors++;
    times.push(Number(us) / 1000);
  }
  rmSync(log, { force: true });
  times.sort((a, b) => a - b);
  const q = (p: number) => times[Math.min(times.length - 1, Math.floor(p * times.length))] ?? Number.NaN;
  const failed = Number(/(\d+) failed/.exec(stdout)?.[1] ?? 0);
  return { rate, done: times.length / (SECONDS * 2), p50: q(0.5), p99: q(0.99), p999: q(0.999), errors: errors + failed };
}

function start(cmd: string, args: string[], env: Record<string, string> = {}): ChildProcess {
  // Output discarded, not piped: a pipe nobody reads fills up and blocks a chatty server.
  const child = spawn('taskset', ['-c', ALL_CORES ? '0-1' : '0', cmd, ...args], { stdio: ['pipe', 'ignore', 'ignore'], env: { ...process.env, ...env } });
  children.push(child);
  return child;
}

async function waitPort(port: number): Promise<void> {
  const deadline = Date.now() + 15_000;
  while (Date.now() < deadline) {
    try {
      await run('curl', ['-sk', '-o', '/dev/null', '--fail', `https://127.0.0.1:${port}/`], { timeout: 2000 });
      return;
    } catch {
      await new Promise((r) => setTimeout(r, 100));
    }
  }
  throw new Error(`nothing answered on ${port}`);
}

interface Server {
  name: string;
  child: ChildProcess;
  port: number;
}

interface Result {
  full: number;
  perCpu: number;
  fullErrors: number;
  resumed: number;
  ka: number;
  p50: string;
  p99: string;
  kaErrors: number;
}

interface Runs {
  full: number[];
  perCpu: number[];
  fullErrors: number;
  ka: { rps: number; p50: string; p99: string }[];
  kaErrors: number;
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] as number;

/**
 * Every server runs at once (only the one under load uses its core); loads alternate between
 * them for ROUNDS rounds and each figure is the median, so that a slow moment of this shared
 * machine does not land on one server only.
 */
async function measureAll(servers: Server[]): Promise<Record<string, Result>> {
  const live: Server[] = [];
  for (const s of servers) {
    try {
      await waitPort(s.port);
      await wrk(s.port, 'close', 1);
      await wrk(s.port, 'keepalive', 1);
      live.push(s);
    } catch {
      console.log(`${s.name.padEnd(16)} did not answer on ${s.port}: skipped`);
    }
  }
  const runs = new Map<string, Runs>(live.map((s) => [s.name, { full: [], perCpu: [], fullErrors: 0, ka: [], kaErrors: 0 }]));
  for (let round = 0; round < ROUNDS; round++) {
    for (const s of live) {
      const r = runs.get(s.name) as Runs;
      const c0 = cpuSeconds(s.child.pid as number);
      const full = await wrk(s.port, 'close');
      const cpu = cpuSeconds(s.child.pid as number) - c0;
      r.full.push(full.rps);
      r.perCpu.push(cpu > 0 ? (full.rps * SECONDS) / cpu : 0);
      r.fullErrors += full.errors;
      const ka = await wrk(s.port, 'keepalive');
      r.ka.push(ka);
      r.kaErrors += ka.errors;
    }
  }
  const out: Record<string, Result> = {};
  for (const s of live) {
    const r = runs.get(s.name) as Runs;
    // Each figure its own median across rounds (the p99 of the median-throughput round alone is noisy).
    const kaMid = {
      rps: median(r.ka.map((k) => k.rps)),
      p50: `${median(r.ka.map((k) => ms(k.p50))).toFixed(2)}ms`,
      p99: `${median(r.ka.map((k) => ms(k.p99))).toFixed(2)}ms`,
    };
    const res: Result = {
      full: median(r.full),
      perCpu: median(r.perCpu),
      fullErrors: r.fullErrors,
      resumed: await resumed(s.port),
      ka: kaMid.rps,
      p50: kaMid.p50,
      p99: kaMid.p99,
      kaErrors: r.kaErrors,
    };
    out[s.name] = res;
    console.log(
      `${s.name.padEnd(16)} ${res.full.toFixed(0).padStart(6)}/s ${res.perCpu.toFixed(0).padStart(7)}/CPU-s ${String(res.fullErrors).padStart(5)} err   ${res.resumed.toFixed(0).padStart(6)}/s   ${res.ka.toFixed(0).padStart(7)} req/s  p50 ${res.p50.padStart(8)}  p99 ${res.p99.padStart(8)} ${String(res.kaErrors).padStart(5)} err   (by round: per CPU-s ${r.perCpu.map((x) => x.toFixed(0)).join(', ')}; p99 ${r.ka.map((k) => k.p99).join(', ')})`,
    );
  }
  return out;
}

function ms(text: string): number {
  const m = /([\d.]+)(us|ms|s)/.exec(text);
  if (!m) return Number.NaN;
  return Number(m[1]) * { us: 0.001, ms: 1, s: 1000 }[m[2] as 'us' | 'ms' | 's'];
}

try {
  const ca = await createCertificate({ subject: 'CN=Bench CA', ca: true });
  const leaf = await createCertificate({ subject: 'CN=bench.example.com', issuer: ca, dns: ['bench.example.com'], ip: ['127.0.0.1'] });
  const certFile = join(work, 'cert.pem');
  const keyFile = join(work, 'key.pem');
  writeFileSync(certFile, leaf.certPem + ca.certPem);
  writeFileSync(keyFile, leaf.keyPem);
  writeFileSync(join(work, 'ca.pem'), ca.certPem);
  // The app shares the load's core (one-core mode): left to the scheduler, it moved between the
  // server's core and the load's, and its own latency with it (0.97 vs 1.9 ms at 5,000 req/s).
  const up = spawn('taskset', ['-c', ALL_CORES ? '0-1' : '1', process.execPath, join(root, 'bench', 'edge', 'upstream.js')], {
    stdio: ['pipe', 'pipe', 'inherit'],
  });
  children.push(up);
  const upPort = Number(String(await new Promise((r) => up.stdout?.once('data', r))).trim());
  console.log(
    `bench/edge: ${ROUNDS} alternating rounds of ${SECONDS} s per load after 1 s of warm-up, medians; ECDSA P-256, ${ALL_CORES ? 'every server on both cores, certgate with --workers auto, load beside them' : 'servers on core 0, load and app on core 1'}\n`,
  );
  console.log(
    `${''.padEnd(16)} ${'full handshakes (Connection: close)'.padEnd(36)} ${'resumed'.padEnd(10)} keep-alive, proxied to the app (bare node: answers itself)`,
  );
  const servers: Server[] = [];
  {
    const port = await freePort();
    servers.push({ name: 'bare node https', child: start(process.execPath, [join(root, 'bench', 'edge', 'bare.js'), certFile, keyFile, String(port)]), port });
  }
  // bench.example.com and 1,000 other stored names; the no-SNI default is another one, so every
  // measured handshake switches to bench.example.com's context.
  const { data, defaultSni, pems } = await certgateData(work, ca, leaf);
  {
    // The floor of any Node server holding those names: Node's SNI callback and context switch,
    // prebuilt contexts in a Map, nothing else.
    const port = await freePort();
    writeFileSync(join(work, 'names.json'), JSON.stringify(pems));
    servers.push({
      name: 'bare node, SNI',
      child: start(process.execPath, [join(root, 'bench', 'edge', 'bare-sni.js'), join(work, 'names.json'), String(port)]),
      port,
    });
  }
  {
    // The floor of any Node reverse proxy (Node's https server and undici, certgate's pair): what
    // the proxied figures can reach at best on this platform. Its handshake figures include a
    // proxied request each.
    const port = await freePort();
    const workers = ALL_CORES ? String(availableParallelism()) : '1';
    servers.push({
      name: 'bare node proxy',
      child: start(process.execPath, [join(root, 'bench', 'edge', 'bare-proxy.js'), certFile, keyFile, String(port), String(upPort), workers]),
      port,
    });
  }
  {
    // The app behind bench.example.com only: other hosts get certgate's own page.
    const [port, http] = [await freePort(), await freePort()];
    certgateConfig(join(work, 'certgate.yaml'), { upPort, https: port, http, defaultSni, workers: ALL_CORES });
    const cg = start(process.execPath, [join(root, 'bin', 'certgate.js'), 'serve', '--config', join(work, 'certgate.yaml')], { CERTGATE_DATA: data });
    servers.push({ name: 'certgate serve', child: cg, port });
  }
  if (existsSync('/usr/bin/caddy')) {
    // skip_install_trust: without it Caddy provisions its local CA for the IP site and, running
    // as root, installs that root into the machine's trust store.
    const port = await freePort();
    writeFileSync(
      join(work, 'Caddyfile'),
      `{\n  admin off\n  auto_https off\n  default_sni bench.example.com\n  skip_install_trust\n}\nhttps://127.0.0.1:${port}, https://bench.example.com:${port} {\n  bind 127.0.0.1\n  tls ${certFile} ${keyFile}\n  log {\n    output discard\n  }\n  @app host bench.example.com\n  handle @app {\n    reverse_proxy 127.0.0.1:${upPort}\n  }\n  handle {\n    respond "ok" 200\n  }\n}\n`,
    );
    const caddy = start('/usr/bin/caddy', ['run', '--config', join(work, 'Caddyfile'), '--adapter', 'caddyfile'], {
      HOME: work,
      XDG_DATA_HOME: work,
      XDG_CONFIG_HOME: work,
      ...(ALL_CORES ? {} : { GOMAXPROCS: '1' }),
    });
    servers.push({ name: 'caddy', child: caddy, port });
  }
  if (existsSync('/usr/sbin/nginx')) {
    const port = await freePort();
    const temp = ['client_body', 'proxy', 'fastcgi', 'uwsgi', 'scgi'].map((k) => `  ${k}_temp_path ${work}/${k};`).join('\n');
    writeFileSync(
      join(work, 'nginx.conf'),
      `worker_processes ${ALL_CORES ? 'auto' : '1'};\nerror_log ${work}/nginx-error.log;\npid ${work}/nginx.pid;\nevents { worker_connections 1024; }\nhttp {\n  access_log off;\n${temp}\n  ssl_protocols TLSv1.2 TLSv1.3;\n  ssl_certificate ${certFile};\n  ssl_certificate_key ${keyFile};\n  upstream app { server 127.0.0.1:${upPort}; keepalive 64; }\n  server {\n    listen 127.0.0.1:${port} ssl http2 default_server;\n    return 200 "ok\\n";\n  }\n  server {\n    listen 127.0.0.1:${port} ssl http2;\n    server_name bench.example.com;\n    location / { proxy_pass http://app; proxy_http_version 1.1; proxy_set_header Connection ""; }\n  }\n}\n`,
    );
    const nginx = start('/usr/sbin/nginx', ['-c', join(work, 'nginx.conf'), '-g', 'daemon off;', '-p', work]);
    servers.push({ name: 'nginx', child: nginx, port });
  }
  console.log(`(certgate holds ${OTHER_NAMES + 1} stored names; its default certificate is another name's: every handshake below takes the SNI switch)`);
  const all = await measureAll(servers);
  console.log('');
  for (const srv of servers) if (all[srv.name]) console.log(`${srv.name.padEnd(16)} negotiates ${await negotiated(srv.port)}`);
  const fixed: Record<string, Awaited<ReturnType<typeof fixedRate>>> = {};
  const caddyKa = all.caddy?.ka;
  if (caddyKa) {
    const rate = Math.round(caddyKa * RATE_SHARE);
    console.log(
      `\nfixed rate: ${rate} req/s offered to every server (${RATE_SHARE} x caddy's saturated keep-alive rate), ${SECONDS * 2} s, h2load --h1, 50 connections`,
    );
    for (const srv of servers) {
      if (!all[srv.name]) continue;
      const f = await fixedRate(srv.port, rate);
      fixed[srv.name] = f;
      console.log(
        `${srv.name.padEnd(16)} ${f.done.toFixed(0).padStart(6)} req/s done  p50 ${f.p50.toFixed(2).padStart(7)} ms  p99 ${f.p99.toFixed(2).padStart(7)} ms  p99.9 ${f.p999.toFixed(2).padStart(7)} ms  ${String(f.errors).padStart(4)} err`,
      );
    }
  }
  const r = {
    node: all['bare node https'],
    nodeSni: all['bare node, SNI'],
    nodeProxy: all['bare node proxy'],
    certgate: all['certgate serve'],
    caddy: all.caddy,
    nginx: all.nginx,
  };
  const ratio = (a: number | undefined, b: number | undefined) => (a && b ? (a / b).toFixed(2) : 'n/a');
  console.log('');
  console.log(`full handshakes per CPU-second, certgate / bare node: ${ratio(r.certgate?.perCpu, r.node?.perCpu)} (target >= 1.0)`);
  console.log(`full handshakes per CPU-second, bare SNI / bare node: ${ratio(r.nodeSni?.perCpu, r.node?.perCpu)} (what Node's SNI switch alone costs)`);
  console.log(`full handshakes per CPU-second, certgate / bare SNI:  ${ratio(r.certgate?.perCpu, r.nodeSni?.perCpu)}`);
  console.log(`full handshakes per CPU-second, certgate / caddy:     ${ratio(r.certgate?.perCpu, r.caddy?.perCpu)}`);
  console.log(`resumed handshakes per second, certgate / caddy:      ${ratio(r.certgate?.resumed, r.caddy?.resumed)} (target >= 1)`);
  console.log(
    `keep-alive proxied req/s, certgate / caddy:          ${ratio(r.certgate?.ka, r.caddy?.ka)} (target >= 1); p99 certgate ${r.certgate?.p99} vs caddy ${r.caddy?.p99} (${r.certgate && r.caddy && ms(r.certgate.p99) <= ms(r.caddy.p99) ? 'no worse' : 'worse'})`,
  );
  console.log(`keep-alive proxied req/s, certgate / nginx:          ${ratio(r.certgate?.ka, r.nginx?.ka)}${ALL_CORES ? ' (target >= 0.75)' : ''}`);
  console.log(`keep-alive proxied req/s, bare node proxy / nginx:   ${ratio(r.nodeProxy?.ka, r.nginx?.ka)} (the floor of a Node proxy)`);
  console.log(`keep-alive proxied req/s, certgate / bare node proxy: ${ratio(r.certgate?.ka, r.nodeProxy?.ka)}`);
  const fc = fixed['certgate serve'];
  const fk = fixed.caddy;
  if (fc && fk)
    console.log(
      `fixed-rate p99, certgate / caddy:                    ${(fc.p99 / fk.p99).toFixed(2)} (target <= 1; p99 ${fc.p99.toFixed(2)} vs ${fk.p99.toFixed(2)} ms; p99.9 ${fc.p999.toFixed(2)} vs ${fk.p999.toFixed(2)} ms)`,
    );
} finally {
  // SIGTERM first: nginx's master stops its workers on it, while a SIGKILLed master leaves them running.
  for (const c of children) c.kill('SIGTERM');
  await new Promise((r) => setTimeout(r, 500));
  for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
  rmSync(work, { recursive: true, force: true });
}
