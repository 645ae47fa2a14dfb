#!/usr/bin/env node
/**
 * The Debian packages the test suite needs: the one list (`npm test` runs this first through
 * `pretest`, `.ci/run` through `npm test`, test/helpers/require.ts reads it to name the package
 * of a missing binary).
 *
 * Each package has the files that show it is installed, as absolute paths (never PATH lookups:
 * PostgreSQL's binaries live in /usr/lib/postgresql/<version>/bin, not on PATH). A `*` matches
 * one directory level.
 *
 *   node scripts/test-deps.mjs            check; as root with apt-get, install what is missing
 *   node scripts/test-deps.mjs --check    check only (exit 1 naming what is missing)
 *   node scripts/test-deps.mjs --list     print the package names, one a line
 *
 * Nothing missing: no network, no apt, a few milliseconds. Missing and not root (or no apt-get):
 * one line naming the packages and the command, exit 1, before any test runs.
 * CERTGATE_TEST_ALLOW_SKIP=1 turns that stop into a warning (the tests that need a missing
 * package then skip, see the README's Development section).
 * CERTGATE_TEST_DEPS_ROOT=DIR looks for the probe files under DIR instead of / (to try the
 * missing-package paths without uninstalling anything).
 */
import { spawnSync } from 'node:child_process';
import { accessSync, constants, existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** @type {ReadonlyArray<{ pkg: string; probes: readonly string[]; why: string }>} */
export const PACKAGES = [
  { pkg: 'openssl', probes: ['/usr/bin/openssl'], why: 'PKCS#7/PKCS#12 fixtures, s_client checks' },
  { pkg: 'curl', probes: ['/usr/bin/curl'], why: 'the README curl --cacert line against the edge' },
  { pkg: 'postgresql', probes: ['/usr/lib/postgresql/*/bin/initdb', '/usr/lib/postgresql/*/bin/pg_ctl'], why: 'real PostgreSQL with ssl=on' },
  { pkg: 'redis-server', probes: ['/usr/bin/redis-server'], why: 'real Redis with TLS' },
  { pkg: 'mariadb-server', probes: ['/usr/sbin/mariadbd', '/usr/bin/mariadb-install-db'], why: 'real MariaDB with TLS' },
  { pkg: 'pebble', probes: ['/usr/bin/pebble', '/usr/bin/pebble-challtestsrv'], why: 'the ACME CA and its DNS' },
  { pkg: 'nginx', probes: ['/usr/sbin/nginx'], why: 'the TLS-terminating load balancer' },
  { pkg: 'chromium', probes: ['/usr/bin/chromium'], why: 'a real browser (playwright-core)' },
  { pkg: 'libnss3-tools', probes: ['/usr/bin/certutil'], why: "the browser's certificate store" },
  { pkg: 'faketime', probes: ['/usr/bin/faketime'], why: 'npm run test:future, clock tests' },
  { pkg: 'pgbouncer', probes: ['/usr/sbin/pgbouncer'], why: 'the PostgreSQL store behind a transaction-mode pooler' },
  { pkg: 'testssl.sh', probes: ['/usr/bin/testssl'], why: 'TLS grading tests' },
];

const root = process.env.CERTGATE_TEST_DEPS_ROOT || '/';

/** The file matching `probe` (one `*` a segment), or null. */
export function locate(probe) {
  const parts = probe.split('/').filter(Boolean);
  /** @param {string} dir @param {number} i @returns {string | null} */
  const walk = (dir, i) => {
    if (i === parts.length) return existsSync(dir) ? dir : null;
    const part = parts[i];
    if (part !== '*') return walk(join(dir, part), i + 1);
    let entries = [];
    try {
      entries = readdirSync(dir).sort((a, b) => b.localeCompare(a, 'en', { numeric: true })); // the highest version first
    } catch {
      return null;
    }
    for (const e of entries) {
      const found = walk(join(dir, e), i + 1);
      if (found) return found;
    }
    return null;
  };
  return walk(root, 0);
}

function executable(file) {
  try {
    accessSync(file, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

/** The packages of PACKAGES whose probe files are missing (or not executable). */
export function missingPackages() {
  return PACKAGES.filter((p) =>
    p.probes.some((probe) => {
      const file = locate(probe);
      return !file || !executable(file);
    }),
  ).map((p) => p.pkg);
}

function aptGet() {
  for (const dir of (process.env.PATH ?? '').split(':')) {
    if (dir && executable(join(dir, 'apt-get'))) return join(dir, 'apt-get');
  }
  return null;
}

function main(argv) {
  if (argv.includes('--list')) {
    for (const p of PACKAGES) console.log(p.pkg);
    return 0;
  }
  const missing = missingPackages();
  if (missing.length === 0) return 0;
  const allowSkip = process.env.CERTGATE_TEST_ALLOW_SKIP === '1';
  const apt = aptGet();
  const isRoot = process.getuid?.() === 0;
  const sudo = isRoot ? '' : 'sudo ';
  const command = `${sudo}apt-get update && ${sudo}apt-get install -y ${missing.join(' ')}`;
  if (argv.includes('--check') || !isRoot || !apt) {
    const why = argv.includes('--check') ? '' : !apt ? ' (no apt-get here)' : ' (not root)';
    if (allowSkip) {
      console.error(`test-deps: missing ${missing.join(' ')}${why}; CERTGATE_TEST_ALLOW_SKIP=1, so the tests that need them skip. Install: ${command}`);
      return 0;
    }
    console.error(`test-deps: missing Debian packages ${missing.join(' ')}${why}; install them with: ${command}`);
    return 1;
  }
  console.error(`test-deps: installing ${missing.join(' ')} (apt-get, once; later runs skip this)`);
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  const step = (args) => {
    const r = spawnSync(apt, args, { env, stdio: ['ignore', 'inherit', 'inherit'] });
    if (r.status !== 0) {
      console.error(`test-deps: ${apt} ${args.join(' ')} failed (exit ${r.status ?? r.signal}); run it by hand to see why, then npm test again`);
      return false;
    }
    return true;
  };
  if (!step(['update', '-qq'])) return 1;
  if (!step(['install', '-y', '-qq', '-o', 'Dpkg::Use-Pty=0', ...missing])) return 1;
  const still = missingPackages();
  if (still.length > 0) {
    const files = PACKAGES.filter((p) => still.includes(p.pkg)).flatMap((p) => p.probes.filter((f) => !locate(f)));
    console.error(`test-deps: installed, but still missing ${files.join(' ')} (from ${still.join(' ')}); check dpkg -L ${still.join(' ')}`);
    return 1;
  }
  return 0;
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) process.exitCode = main(process.argv.slice(2));
