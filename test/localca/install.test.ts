/**
 * `certgate local-ca install` / `uninstall` for real, without touching this machine's stores:
 * the CLI runs in a private mount namespace (`unshare --mount`) where copies of
 * /usr/local/share/ca-certificates and /etc/ssl/certs (Java's cacerts lives there too) are bind
 * mounted over the real ones and the update-ca-certificates hooks directory is empty (its Java
 * hook would run dpkg triggers); the NSS store is a temporary HOME's. Then curl, with no
 * --cacert and no SSL_CERT_FILE, and Chromium, with that HOME, both trust a local-CA server.
 */
import assert from 'node:assert/strict';
import { execFile, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { cpSync, existsSync, lstatSync, mkdirSync, readdirSync, readFileSync, readlinkSync, symlinkSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { promisify } from 'node:util';
import { LocalCa } from '../../src/localca/local-ca.ts';
import { cleanEnv } from '../helpers/env.ts';
import { startHttpsServer } from '../helpers/servers.ts';
import { tempDir } from '../helpers/tmp.ts';

const run = promisify(execFile);
const ROOT = join(import.meta.dirname, '..', '..');
const REAL = ['/usr/local/share/ca-certificates', '/etc/ssl/certs', '/etc/ca-certificates/update.d'] as const;
const CHROMIUM = '/usr/bin/chromium';

function canUnshare(): string | false {
  if (process.getuid?.() !== 0) return 'needs root for unshare --mount';
  if (!existsSync('/usr/sbin/update-ca-certificates') || !existsSync('/usr/bin/certutil')) return 'needs ca-certificates and libnss3-tools';
  const probe = spawnSync('unshare', ['--mount', '--propagation', 'private', 'sh', '-c', 'mount -t tmpfs tmpfs /mnt && echo ok']);
  return probe.stdout?.toString().trim() === 'ok' ? false : `unshare --mount does not work here: ${probe.stderr?.toString().trim()}`;
}
const skip = canUnshare();

/** Every name, link target and file hash under the real store directories, and Java's cacerts. */
function snapshot(): string {
  const lines: string[] = [];
  for (const dir of [...REAL, '/var/lib/ca-certificates-java']) {
    if (!existsSync(dir)) continue;
    for (const name of readdirSync(dir, { recursive: true }) as string[]) {
      const p = join(dir, name);
      const st = lstatSync(p);
      lines.push(`${p} ${st.isSymbolicLink() ? `-> ${readlinkSync(p)}` : st.isFile() ? createHash('sha256').update(readFileSync(p)).digest('hex') : 'dir'}`);
    }
  }
  return lines.sort().join('\n');
}

interface Sandbox {
  home: string;
  data: string;
  /** Runs a command in the private mount namespace with the copies bound over the real stores. */
  inside(argv: string[]): Promise<{ code: number; stdout: string; stderr: string }>;
  certgate(argv: string[]): Promise<{ code: number; stdout: string; stderr: string }>;
}

function sandbox(dir: string): Sandbox {
  const copies = REAL.map((real, i) => {
    const copy = join(dir, 'sys', String(i));
    mkdirSync(copy, { recursive: true });
    if (i < 2) cpSync(real, copy, { recursive: true, verbatimSymlinks: true });
    return copy;
  });
  const home = join(dir, 'home');
  const data = join(dir, 'data');
  mkdirSync(home);
  const mounts = REAL.map((real, i) => `mount --bind '${copies[i]}' '${real}'`).join(' && ');
  // No bundle from this machine's environment: the tools must find the system store themselves.
  const env: Record<string, string> = cleanEnv({ HOME: home, CERTGATE_DATA: data, NO_COLOR: '1' });
  const inside = async (argv: string[]) => {
    try {
      const r = await run('unshare', ['--mount', '--propagation', 'private', 'sh', '-c', `${mounts} && exec "$@"`, 'sh', ...argv], {
        env,
        cwd: ROOT,
        timeout: 120_000,
      });
      return { code: 0, stdout: r.stdout, stderr: r.stderr };
    } catch (err) {
      const e = err as { code: number; stdout: string; stderr: string };
      return { code: e.code, stdout: e.stdout, stderr: e.stderr };
    }
  };
  return {
    home,
    data,
    inside,
    certgate: (argv) => inside([process.execPath, '--import', 'tsx', join(ROOT, 'src', 'cli', 'main.ts'), ...argv]),
  };
}

async function chromiumVisit(home: string, url: string): Promise<string> {
  const { chromium } = await import('playwright-core');
  const browser = await chromium.launch({
    executablePath: CHROMIUM,
    env: cleanEnv({ HOME: home }),
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update'],
  });
  try {
    const page = await browser.newPage();
    const res = await page.goto(url, { timeout: 15_000 }).catch((err: Error) => err);
    return res instanceof Error ? (res.message.split('\n')[0] as string) : `ok ${await page.textContent('body')}`;
  } finally {
    await browser.close();
  }
}

test('local-ca install: system store, NSS and Java; curl (no --cacert) and Chromium trust a local-CA server; uninstall undoes it; the real stores are untouched', {
  skip,
  timeout: 240_000,
}, async (t) => {
  const before = snapshot();
  const dir = tempDir(t);
  const box = sandbox(dir);
  const ca = new LocalCa({ dir: join(box.data, 'local-ca') });
  const leaf = await ca.issue(['localhost']);
  const server = await startHttpsServer({ chain: [leaf.certPem], key: leaf.keyPem });
  t.after(() => server.close());
  const url = `https://localhost:${server.port}/hello`;
  const curl = () => box.inside(['curl', '-sS', '--max-time', '10', url]);

  const refused = await curl();
  assert.notEqual(refused.code, 0, 'curl does not trust the local CA before install');

  const first = await box.certgate(['local-ca', 'install', '--json']);
  assert.equal(first.code, 0, first.stderr);
  const installed = JSON.parse(first.stdout);
  const actions = Object.fromEntries(installed.stores.map((s: { store: string; action: string }) => [s.store, s.action]));
  assert.deepEqual(actions, { system: 'added', nss: 'added', firefox: 'skipped', java: existsSync('/usr/bin/keytool') ? 'added' : 'skipped' });
  assert.equal(installed.certificate.path, ca.certPath);
  assert.ok(existsSync(join(box.home, '.pki', 'nssdb', 'cert9.db')), 'the NSS database was created');

  const again = await box.certgate(['local-ca', 'install']);
  assert.equal(again.code, 0, again.stderr);
  assert.match(again.stdout, /= system +already/);
  assert.match(again.stdout, /= nss +already/);

  const trusted = await curl();
  assert.equal(trusted.code, 0, trusted.stderr);
  assert.equal(trusted.stdout, 'ok /hello');
  if (existsSync(CHROMIUM)) assert.equal(await chromiumVisit(box.home, url), 'ok ok /hello');

  const removed = await box.certgate(['local-ca', 'uninstall', '--json']);
  assert.equal(removed.code, 0, removed.stderr);
  assert.deepEqual(
    JSON.parse(removed.stdout)
      .stores.filter((s: { action: string }) => s.action !== 'skipped')
      .map((s: { action: string }) => s.action),
    existsSync('/usr/bin/keytool') ? ['removed', 'removed', 'removed'] : ['removed', 'removed'],
  );
  const twice = await box.certgate(['local-ca', 'uninstall']);
  assert.equal(twice.code, 0, twice.stderr);
  assert.match(twice.stdout, /= system +absent/);
  assert.notEqual((await curl()).code, 0, 'curl refuses again after uninstall');
  if (existsSync(CHROMIUM)) assert.match(await chromiumVisit(box.home, url), /ERR_CERT_AUTHORITY_INVALID/);
  assert.deepEqual(readdirSync(join(dir, 'sys', '0')).sort(), readdirSync(REAL[0]).sort(), 'the copy is back to what the real one holds');

  assert.equal(snapshot(), before, 'the real stores were not changed');
});

test('local-ca install: certutil missing is E_TOOL_MISSING with the package to install, and nothing changed', { skip }, async (t) => {
  const before = snapshot();
  const dir = tempDir(t);
  const box = sandbox(dir);
  // A PATH with update-ca-certificates but without certutil.
  const bin = join(dir, 'bin');
  mkdirSync(bin);
  symlinkSync('/usr/sbin/update-ca-certificates', join(bin, 'update-ca-certificates'));
  const r = await box.inside(['env', `PATH=${bin}`, process.execPath, '--import', 'tsx', join(ROOT, 'src', 'cli', 'main.ts'), 'local-ca', 'install']);
  assert.equal(r.code, 2, r.stdout);
  assert.match(r.stderr, /^error E_TOOL_MISSING: certutil is not installed.*\n {2}fix: apt-get install libnss3-tools/);
  assert.deepEqual(readdirSync(join(dir, 'sys', '0')).sort(), readdirSync(REAL[0]).sort(), 'the system store was not changed first');
  assert.equal(existsSync(join(box.home, '.pki')), false);
  assert.equal(snapshot(), before);
});
