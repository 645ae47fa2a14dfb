/**
 * A real small or read-only disk for write-failure tests: a tmpfs mounted for one test (needs
 * root), unmounted when it ends.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TestContext } from 'node:test';

export const mountSkip: string | false = (() => {
  if (process.getuid?.() !== 0) return 'needs root to mount a tmpfs';
  try {
    execFileSync('mount', ['--version'], { stdio: 'ignore' });
    return false;
  } catch {
    return 'needs the mount command';
  }
})();

/** A tmpfs of `size` (default 64k); `readOnly` remounts it read-only. */
export function tinyDisk(t: TestContext, options: { size?: string; readOnly?: boolean } = {}): string {
  const dir = mkdtempSync(join(tmpdir(), 'certgate-disk-'));
  execFileSync('mount', ['-t', 'tmpfs', '-o', `size=${options.size ?? '64k'}`, 'tmpfs', dir]);
  t.after(() => {
    execFileSync('umount', [dir]);
    rmSync(dir, { recursive: true, force: true });
  });
  if (options.readOnly) execFileSync('mount', ['-o', 'remount,ro', dir]);
  return dir;
}
