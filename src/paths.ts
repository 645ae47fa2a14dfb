/**
 * @module paths
 * Where certgate keeps its data. One directory, `CERTGATE_DATA`, else the XDG data home.
 */
import { existsSync, realpathSync } from 'node:fs';
import { homedir } from 'node:os';
import { dirname, join, relative, resolve, sep } from 'node:path';
import { CertgateError } from './errors.ts';

export interface DataPaths {
  root: string;
  /** Extra CA certificates, any format, any extension. */
  caCerts: string;
  /** Resource files (YAML or JSON). */
  resources: string;
  /** Generated files: bundles, hashed directories, driver files. Safe to delete. */
  generated: string;
}

/**
 * Kernel file systems: nothing can be kept there, and Node's recursive mkdir spins forever
 * on procfs (it keeps getting ENOENT for a path it cannot create), with no output.
 */
const PSEUDO = ['/proc', '/sys', '/dev'];

/** The path with its existing part resolved through symlinks: a link to /proc is /proc. */
function realish(path: string): string {
  let head = path;
  while (!existsSync(head) && dirname(head) !== head) head = dirname(head);
  try {
    return join(realpathSync(head), relative(head, path));
  } catch {
    return path;
  }
}

/** Refuses a data directory under /proc, /sys or /dev before anything is created. */
export function checkDataDir(root: string): void {
  for (const candidate of new Set([root, realish(root)])) {
    const bad = PSEUDO.find((p) => candidate === p || candidate.startsWith(p + sep));
    if (bad) {
      throw new CertgateError(
        'E_DATA_DIR',
        `the data directory ${root} is under ${bad}, a kernel file system where nothing can be stored`,
        'point CERTGATE_DATA (or --data) at a normal directory, e.g. /var/lib/certgate',
      );
    }
  }
}

export function dataPaths(env: Record<string, string | undefined> = process.env, cwd = process.cwd()): DataPaths {
  const root = env.CERTGATE_DATA
    ? resolve(cwd, env.CERTGATE_DATA)
    : join(env.XDG_DATA_HOME ? resolve(cwd, env.XDG_DATA_HOME) : join(env.HOME || homedir(), '.local', 'share'), 'certgate');
  return pathsUnder(root);
}

/** The layout of a data directory whose root is already known (absolute); refuses kernel file systems. */
export function pathsUnder(root: string): DataPaths {
  checkDataDir(root);
  return { root, caCerts: join(root, 'ca-certs'), resources: join(root, 'resources'), generated: join(root, 'generated') };
}
