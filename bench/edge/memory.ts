/**
 * bench/edge memory: what an idle certificate costs the serving process, certgate next to Caddy.
 *
 *   node --import tsx bench/edge/memory.ts [--caddy-max 10000]
 *
 * certgate: 1,000 / 10,000 / 100,000 certificates in the edge's cache, each in a fresh process
 * (memory-child.ts), RSS and heap growth per certificate after a full GC. Caddy: the same
 * counts (up to --caddy-max; its certificate cache holds 10,000 by default) of distinct
 * ECDSA certificates loaded from a folder (`tls { load DIR }`), RSS growth over Caddy with one
 * certificate, read from /proc once it serves.
 */
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { createCertificate } from '../../src/pki/generate.ts';
import { freePort } from '../../test/helpers/daemons.ts';

const run = promisify(execFile);
const maxArg = process.argv.indexOf('--caddy-max');
const CADDY_MAX = maxArg > 0 ? Number(process.argv[maxArg + 1]) : 10_000;
const COUNTS = [1000, 10_000, 100_000];
const here = import.meta.dirname;
const work = mkdtempSync(join(tmpdir(), 'certgate-bench-memory-'));
const children: ChildProcess[] = [];

function rssKb(pid: number): number {
  return Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? 0);
}

/** Caddy serving `count` certificates loaded from a folder; its RSS in kB once it answers, settled. */
async function caddyRss(count: number, certs: string[]): Promise<number> {
  const dir = join(work, `caddy-${count}`);
  mkdirSync(join(dir, 'certs'), { recursive: true });
  for (let i = 0; i < count; i++) writeFileSync(join(dir, 'certs', `c${i}.pem`), certs[i] as string);
  const port = await freePort();
  writeFileSync(
    join(dir, 'Caddyfile'),
    `{\n  admin off\n  auto_https off\n  skip_install_trust\n  default_sni site0.example.com\n}\nhttps://:${port} {\n  bind 127.0.0.1\n  tls {\n    load ${join(dir, 'certs')}\n  }\n  log {\n    output discard\n  }\n  respond "ok" 200\n}\n`,
  );
  const caddy = spawn('/usr/bin/caddy', ['run', '--config', join(dir, 'Caddyfile'), '--adapter', 'caddyfile'], {
    stdio: ['ignore', 'ignore', 'ignore'],
    env: { ...process.env, HOME: dir, XDG_DATA_HOME: dir, XDG_CONFIG_HOME: dir, GOMAXPROCS: '1' },
  });
  children.push(caddy);
  const deadline = Date.now() + 120_000;
  for (;;) {
    try {
      await run('curl', ['-sk', '-o', '/dev/null', '--fail', `https://127.0.0.1:${port}/`], { timeout: 2000 });
      break;
    } catch {
      if (Date.now() > deadline || caddy.exitCode !== null) throw new Error(`caddy with ${count} certificates did not answer`);
      await new Promise((r) => setTimeout(r, 200));
    }
  }
  await new Promise((r) => setTimeout(r, 3000));
  const kb = rssKb(caddy.pid as number);
  caddy.kill('SIGKILL');
  return kb;
}

try {
  console.log('bench/edge memory: RSS per idle certificate (Caddy ~7.7 kB in the issue)\n');
  for (const n of COUNTS) {
    const { stdout } = await run(process.execPath, ['--expose-gc', '--import', 'tsx', join(here, 'memory-child.ts'), String(n)], {
      maxBuffer: 1 << 20,
      timeout: 300_000,
    });
    const r = JSON.parse(stdout.trim().split('\n').at(-1) as string) as { rssPerCert: number; heapPerCert: number; rssMb: number; hundredContextsKb: number };
    console.log(
      `certgate ${String(n).padStart(7)} certificates: ${(r.rssPerCert / 1024).toFixed(2)} kB RSS and ${(r.heapPerCert / 1024).toFixed(2)} kB heap per certificate; process ${r.rssMb.toFixed(0)} MB; 100 built secure contexts +${r.hundredContextsKb} kB`,
    );
  }
  if (existsSync('/usr/bin/caddy')) {
    const counts = COUNTS.filter((n) => n <= CADDY_MAX);
    const need = Math.max(...counts);
    const ca = await createCertificate({ subject: 'CN=Memory Bench CA', ca: true });
    const certs: string[] = [];
    for (let i = 0; i < need; i++) {
      const leaf = await createCertificate({ subject: `CN=site${i}.example.com`, issuer: ca, dns: [`site${i}.example.com`, `www.site${i}.example.com`] });
      certs.push(leaf.certPem + ca.certPem + leaf.keyPem);
    }
    const base = await caddyRss(1, certs);
    for (const n of counts) {
      const kb = await caddyRss(n, certs);
      console.log(
        `caddy    ${String(n).padStart(7)} certificates: ${((kb - base) / n).toFixed(2)} kB RSS per certificate; process ${(kb / 1024).toFixed(0)} MB`,
      );
    }
  }
} finally {
  for (const c of children) c.kill('SIGKILL');
  rmSync(work, { recursive: true, force: true });
}
