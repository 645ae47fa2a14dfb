/**
 * @module paths
 * Where certgate keeps its data. One directory, `CERTGATE_DATA`, else the XDG data home.
 */
import { homedir } from 'node:os';
import { join, resolve } from 'node:path';

export interface DataPaths {
  root: string;
  /** Extra CA certificates, any format, any extension. */
  caCerts: string;
  /** Resource files (YAML or JSON). */
  resources: string;
  /** Generated files: bundles, hashed directories, driver files. Safe to delete. */
  generated: string;
}

export function dataPaths(env: Record<string, string | undefined> = process.env, cwd = process.cwd()): DataPaths {
  const root = env.CERTGATE_DATA
    ? resolve(cwd, env.CERTGATE_DATA)
    : join(env.XDG_DATA_HOME ? resolve(cwd, env.XDG_DATA_HOME) : join(env.HOME || homedir(), '.local', 'share'), 'certgate');
  return pathsUnder(root);
}

/** The layout of a data directory whose root is already known (absolute). */
export function pathsUnder(root: string): DataPaths {
  return { root, caCerts: join(root, 'ca-certs'), resources: join(root, 'resources'), generated: join(root, 'generated') };
}
