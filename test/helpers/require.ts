/**
 * What a test needs from the machine, from the one list in scripts/test-deps.mjs (`npm test`
 * installs it first). A missing package fails the test with the command that installs it: no
 * test skips silently because the install step was missed. Developers without root opt out with
 * CERTGATE_TEST_ALLOW_SKIP=1: the tests declared with `skip: requirePackages(...)` then skip,
 * saying which package they need.
 */
import { locate, PACKAGES } from '../../scripts/test-deps.mjs';

const allowSkip = () => process.env.CERTGATE_TEST_ALLOW_SKIP === '1';

function entry(pkg: string) {
  const p = PACKAGES.find((x) => x.pkg === pkg);
  if (!p) throw new Error(`${pkg} is not in scripts/test-deps.mjs: add it there (with the file that proves it is installed) so npm test installs it`);
  return p;
}

/** The missing probe files of `pkg` (empty when it is installed). */
function missingFiles(pkg: string): string[] {
  return entry(pkg).probes.filter((probe) => !locate(probe));
}

function notInstalled(pkgs: string[], skippable: boolean): string {
  const files = pkgs.flatMap(missingFiles);
  return (
    `${pkgs.join(', ')} not installed (${files.join(', ')} missing): run npm test as root (scripts/test-deps.mjs installs the suite's packages) ` +
    `or apt-get install -y ${pkgs.join(' ')}${skippable ? '; CERTGATE_TEST_ALLOW_SKIP=1 skips this test instead' : ''}`
  );
}

/**
 * The `skip` option of a test that needs these Debian packages: false when they are installed;
 * when one is missing, throws (the test file fails with the install command) unless
 * CERTGATE_TEST_ALLOW_SKIP=1, then the reason to skip.
 */
export function requirePackages(...pkgs: string[]): false | string {
  const missing = pkgs.filter((pkg) => missingFiles(pkg).length > 0);
  if (missing.length === 0) return false;
  if (allowSkip()) return notInstalled(missing, false);
  throw new Error(notInstalled(missing, true));
}

/**
 * The installed file of `pkg` matching `probe` (one of its probes in scripts/test-deps.mjs,
 * default the first), for a helper that starts it. Throws with the install command when it is
 * missing, whatever CERTGATE_TEST_ALLOW_SKIP says (a helper cannot skip its caller's test).
 */
export function binaryOf(pkg: string, probe?: string): string {
  const p = entry(pkg);
  const wanted = probe ?? (p.probes[0] as string);
  if (!p.probes.includes(wanted)) throw new Error(`${wanted} is not a probe of ${pkg} in scripts/test-deps.mjs`);
  const file = locate(wanted);
  if (!file) throw new Error(notInstalled([pkg], false));
  return file;
}
