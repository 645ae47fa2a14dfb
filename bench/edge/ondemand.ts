/**
 * bench/edge on demand: the first handshake of a fresh name (certificate obtained from Pebble
 * during the handshake) and the handshake of a refused name, certgate serve next to Caddy with
 * the same Pebble, the same ask endpoint and HTTP-01.
 *
 *   node --import tsx bench/edge/ondemand.ts [--names 8]
 *
 * A refused name is timed twice: the first time (the ask endpoint answers 403) and again
 * (certgate answers from memory). Times are from TCP connect to the handshake's end, seen by
 * a Node client on loopback that verifies the chain against Pebble's root.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect, createSecureContext, type SecureContext } from 'node:tls';
import { freePort } from '../../test/helpers/daemons.ts';
import { pebbleFlags, startPebble } from '../../test/helpers/pebble.ts';

const namesArg = process.argv.indexOf('--names');
const NAMES = namesArg > 0 ? Number(process.argv[namesArg + 1]) : 8;
const root = join(import.meta.dirname, '..', '..');
const work = mkdtempSync(join(tmpdir(), 'certgate-bench-ondemand-'));
const children: ChildProcess[] = [];
const pebble = await startPebble();

// The ask endpoint both servers consult: names starting with "ok-" are allowed.
const ask = createServer((req, res) => {
  const domain = new URL(req.url ?? '/', 'http://x').searchParams.get('domain') ?? '';
  res.writeHead(domain.startsWith('ok-') ? 200 : 403).end();
});
await new Promise<void>((r) => ask.listen(0, '127.0.0.1', r));
const askUrl = `http://127.0.0.1:${(ask.address() as { port: number }).port}/check`;

const contexts = new Map<string, SecureContext>();

function handshake(port: number, servername: string, ca: string): Promise<{ ms: number; ok: boolean; detail: string }> {
  // One client context per CA, built before the clock starts: the client's own set-up is not the server's latency.
  let secureContext = contexts.get(ca);
  if (!secureContext) {
    secureContext = createSecureContext(ca ? { ca } : {});
    contexts.set(ca, secureContext);
  }
  const t0 = performance.now();
  return new Promise((resolve) => {
    const s = connect({ port, host: '127.0.0.1', servername, secureContext }, () => {
      resolve({ ms: performance.now() - t0, ok: s.authorized, detail: String(s.getPeerCertificate().subject?.CN) });
      s.destroy();
    });
    s.setTimeout(60_000, () => s.destroy(new Error('timeout')));
    s.on('error', (err) => resolve({ ms: performance.now() - t0, ok: false, detail: (err as NodeJS.ErrnoException).code ?? err.message }));
  });
}

async function waitTcp(port: number, child: ChildProcess): Promise<void> {
  const deadline = Date.now() + 30_000;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`exited with ${child.exitCode}`);
    const up = await handshake(port, 'localhost', '').then((r) => r.detail !== 'ECONNREFUSED');
    if (up) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`nothing listens on ${port}`);
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] as number;

async function measure(label: string, port: number, issuingRoot: string): Promise<{ first: number; refused: number; again: number; served: number }> {
  const first: number[] = [];
  let known = '';
  for (let i = 0; i < NAMES; i++) {
    const name = `ok-${label}-${i}-${Math.random().toString(36).slice(2, 8)}.example.com`;
    const r = await handshake(port, name, issuingRoot);
    if (!r.ok) throw new Error(`${label}: ${name} was not served a valid certificate (${r.detail})`);
    first.push(r.ms);
    known = name;
  }
  const refusedFirst: number[] = [];
  const refusedAgain: number[] = [];
  for (let i = 0; i < NAMES; i++) {
    const name = `no-${label}-${i}-${Math.random().toString(36).slice(2, 8)}.example.com`;
    const a = await handshake(port, name, issuingRoot);
    const b = await handshake(port, name, issuingRoot);
    if (a.ok || b.ok) throw new Error(`${label}: refused name ${name} was served`);
    refusedFirst.push(a.ms);
    refusedAgain.push(b.ms);
  }
  // The floor of this method: a handshake of a name that is already served.
  const served: number[] = [];
  for (let i = 0; i < NAMES; i++) served.push((await handshake(port, known, issuingRoot)).ms);
  const out = { first: median(first), refused: median(refusedFirst), again: median(refusedAgain), served: median(served) };
  console.log(
    `${label.padEnd(9)} first handshake of a new name: median ${out.first.toFixed(0)} ms (${first.map((x) => x.toFixed(0)).join(', ')}); refused name: ${out.refused.toFixed(2)} ms first, ${out.again.toFixed(2)} ms again; a served name ${out.served.toFixed(2)} ms`,
  );
  return out;
}

try {
  const issuingRoot = await pebble.issuingRoot();
  console.log(`bench/edge on demand: ${NAMES} fresh names each, Pebble with HTTP-01, medians\n`);
  const httpsCg = await freePort();
  const cg = spawn(
    process.execPath,
    [
      join(root, 'bin', 'certgate.js'),
      'serve',
      '--https-port',
      String(httpsCg),
      '--host',
      '127.0.0.1',
      ...pebbleFlags(pebble, join(work, 'pebble-tls-ca.pem'), 'bench@certgate.dev'),
      '--challenges',
      'http-01',
      '--ask',
      askUrl,
      '--domain',
      'main.example.com',
    ],
    { env: { PATH: process.env.PATH ?? '', CERTGATE_DATA: join(work, 'certgate') }, stdio: ['ignore', 'ignore', 'ignore'] },
  );
  children.push(cg);
  await waitTcp(httpsCg, cg);
  const c = await measure('certgate', httpsCg, issuingRoot);
  cg.kill('SIGKILL');
  await new Promise((r) => cg.once('exit', r));

  const httpsCaddy = await freePort();
  writeFileSync(
    join(work, 'Caddyfile'),
    `{\n  admin off\n  skip_install_trust\n  http_port ${pebble.httpPort}\n  https_port ${httpsCaddy}\n  email bench@certgate.dev\n  acme_ca ${pebble.directoryUrl}\n  acme_ca_root ${join(work, 'pebble-tls-ca.pem')}\n  on_demand_tls {\n    ask ${askUrl}\n  }\n}\nhttps:// {\n  bind 127.0.0.1\n  tls {\n    on_demand\n    issuer acme {\n      disable_tlsalpn_challenge\n    }\n  }\n  respond "ok" 200\n}\n`,
  );
  const caddy = spawn('/usr/bin/caddy', ['run', '--config', join(work, 'Caddyfile'), '--adapter', 'caddyfile'], {
    env: { PATH: process.env.PATH ?? '', HOME: work, XDG_DATA_HOME: work, XDG_CONFIG_HOME: work },
    stdio: ['ignore', 'ignore', 'ignore'],
  });
  children.push(caddy);
  await waitTcp(httpsCaddy, caddy);
  const k = await measure('caddy', httpsCaddy, issuingRoot);
  console.log('');
  console.log(`first handshake, certgate / caddy: ${(c.first / k.first).toFixed(2)} (target <= 1)`);
  console.log(
    `refused name, certgate: ${c.again.toFixed(2)} ms from memory, ${c.refused.toFixed(2)} ms the first time (asking) (target < 2 ms); caddy ${k.again.toFixed(2)} / ${k.refused.toFixed(2)} ms`,
  );
} finally {
  for (const ch of children) ch.kill('SIGKILL');
  ask.close();
  await pebble.close();
  rmSync(work, { recursive: true, force: true });
}
