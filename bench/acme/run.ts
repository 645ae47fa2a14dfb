/**
 * bench/acme: time to hold valid certificates from Pebble, certgate next to Caddy in the same
 * run, for 1 name and for 50 names. Then a maintenance scan over 100,000 stored certificates.
 *
 *   node --import tsx bench/acme/run.ts [--names 50] [--scan 100000] [--concurrency 10]
 *
 * Both clients meet the same Pebble (PEBBLE_VA_NOSLEEP=1), answer HTTP-01 on the same port,
 * one after the other. Bounded: every wait has a deadline.
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ChallengeAnswers, startStandaloneResponder } from '../../src/acme/challenges.ts';
import { AcmeIssuer } from '../../src/acme/issuer.ts';
import { CertManager } from '../../src/manager/manager.ts';
import { FsLocker, FsStore } from '../../src/store/fs.ts';
import { startPebble } from '../../test/helpers/pebble.ts';

const arg = (n: string, d: number) => {
  const i = process.argv.indexOf(n);
  return i > 0 ? Number(process.argv[i + 1]) : d;
};
const NAMES = arg('--names', 50);
const SCAN = arg('--scan', 100_000);
const CONCURRENCY = arg('--concurrency', 10);

const work = mkdtempSync(join(tmpdir(), 'certgate-bench-acme-'));
const pebble = await startPebble();
let run = 0;
const names = (n: number) => {
  run++;
  return Array.from({ length: n }, (_, i) => `b${run}-${i}.example.com`);
};

async function certgate(list: string[]): Promise<number> {
  const root = join(work, `certgate-${run}`);
  const store = new FsStore({ root });
  const answers = new ChallengeAnswers();
  const issuer = new AcmeIssuer({
    directory: pebble.directoryUrl,
    caRootPem: pebble.tlsCaPem,
    agreeToTerms: true,
    email: 'bench@certgate.dev',
    store,
    answers,
    challenges: ['http-01'],
  });
  const manager = new CertManager({ store, locker: new FsLocker({ root }), issuers: [issuer] });
  const responder = await startStandaloneResponder(answers, { httpPort: pebble.httpPort, host: '127.0.0.1' });
  const t0 = performance.now();
  let next = 0;
  // Bounded concurrency: at most CONCURRENCY orders in flight.
  await Promise.all(
    Array.from({ length: Math.min(CONCURRENCY, list.length) }, async () => {
      while (next < list.length) await manager.obtain(list[next++] as string);
    }),
  );
  const ms = performance.now() - t0;
  await responder.close();
  const stored = (await store.scan()).length;
  if (stored !== list.length) throw new Error(`certgate stored ${stored} of ${list.length}`);
  return ms;
}

async function caddy(list: string[]): Promise<number | null> {
  if (!existsSync('/usr/bin/caddy')) return null;
  const dir = join(work, `caddy-${run}`);
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 'pebble-ca.pem'), pebble.tlsCaPem);
  const caddyfile = [
    '{',
    '  admin off',
    `  acme_ca ${pebble.directoryUrl}`,
    `  acme_ca_root ${join(dir, 'pebble-ca.pem')}`,
    '  email bench@certgate.dev',
    `  http_port ${pebble.httpPort}`,
    `  https_port ${pebble.tlsPort}`,
    `  storage file_system ${join(dir, 'storage')}`,
    '  cert_issuer acme {',
    '    disable_tlsalpn_challenge',
    '  }',
    '}',
    `${list.join(', ')} {`,
    '  respond "ok"',
    '}',
  ].join('\n');
  writeFileSync(join(dir, 'Caddyfile'), caddyfile);
  const t0 = performance.now();
  const child = spawn('/usr/bin/caddy', ['run', '--config', join(dir, 'Caddyfile'), '--adapter', 'caddyfile'], {
    stdio: ['ignore', 'ignore', 'pipe'],
    env: { ...process.env, HOME: dir, XDG_DATA_HOME: dir, XDG_CONFIG_HOME: dir },
  });
  let log = '';
  child.stderr?.on('data', (d) => {
    log = (log + d).slice(-3000);
  });
  const deadline = Date.now() + 180_000;
  const certsDir = join(dir, 'storage', 'certificates');
  let done = false;
  while (Date.now() < deadline && child.exitCode === null) {
    const count = existsSync(certsDir)
      ? readdirSync(certsDir).reduce(
          (n, issuerDir) => n + readdirSync(join(certsDir, issuerDir)).filter((d) => existsSync(join(certsDir, issuerDir, d, `${d}.crt`))).length,
          0,
        )
      : 0;
    if (count >= list.length) {
      done = true;
      break;
    }
    await new Promise((r) => setTimeout(r, 20));
  }
  const ms = performance.now() - t0;
  child.kill('SIGTERM');
  await new Promise((r) => child.once('exit', r));
  if (!done) throw new Error(`caddy did not obtain ${list.length} certificates: ${log}`);
  return ms;
}

try {
  console.log(`bench/acme: Pebble on loopback (PEBBLE_VA_NOSLEEP=1), HTTP-01; certgate concurrency ${CONCURRENCY}\n`);
  for (const n of [1, NAMES]) {
    const cg = await certgate(names(n));
    const cd = await caddy(names(n));
    console.log(
      `${String(n).padStart(3)} name(s): certgate ${(cg / 1000).toFixed(2)} s   caddy ${cd === null ? 'n/a' : `${(cd / 1000).toFixed(2)} s`}   ${cd ? `ratio certgate/caddy ${(cg / cd).toFixed(2)}` : ''}`,
    );
  }
  // The maintenance scan runs in its own process so that its memory is its own.
  const scan = spawn(process.execPath, ['--expose-gc', '--import', 'tsx', join(import.meta.dirname, 'scan.ts'), String(SCAN)], {
    stdio: ['ignore', 'inherit', 'inherit'],
  });
  await new Promise((r) => scan.once('exit', r));
} finally {
  await pebble.close();
  rmSync(work, { recursive: true, force: true });
}
