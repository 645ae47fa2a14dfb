/**
 * @module profiles/client
 * The library face of resources: per-driver options built from a resource file and the
 * current trust set, for an app to pass to its own driver.
 */
import { dataPaths } from '../paths.ts';
import { createTrustStore, type TrustStore } from '../trust/store.ts';
import { ioredisOptions, mongodbOptions, mysql2Options, pgOptions, undiciDispatcher } from './drivers.ts';
import { getResource } from './registry.ts';
import { type ResolvedTls, readSecret, resolveTls } from './resolve.ts';
import type { Resource } from './schema.ts';

export interface ResourceClientOptions {
  /** certgate's data directory (default: CERTGATE_DATA or the XDG data home). */
  dataDir?: string;
  env?: Record<string, string | undefined>;
  /** A started trust store to share; otherwise ca-certs is read once. */
  trust?: TrustStore;
  /** Called with the warning of a `skip` resource on every use (default: console.warn). */
  warn?: (message: string) => void;
}

export interface ResourceHandle {
  resource: Resource;
  /** The resolved TLS material, rebuilt from the current trust set on every call. */
  tls(): ResolvedTls;
  pg(): ReturnType<typeof pgOptions>;
  mysql2(): ReturnType<typeof mysql2Options>;
  ioredis(): ReturnType<typeof ioredisOptions>;
  mongodb(): ReturnType<typeof mongodbOptions>;
  dispatcher(): ReturnType<typeof undiciDispatcher>;
}

/**
 * @example
 * const db = await resourceClient('orders-db');
 * const pool = new pg.Pool(db.pg());
 */
export async function resourceClient(name: string, options: ResourceClientOptions = {}): Promise<ResourceHandle> {
  const env = options.env ?? process.env;
  const paths = dataPaths({ ...env, ...(options.dataDir ? { CERTGATE_DATA: options.dataDir } : {}) });
  const resource = await getResource(paths.resources, name);
  let trust = options.trust;
  if (!trust) {
    trust = createTrustStore({ dir: paths.caCerts, watch: false });
    await trust.start();
  }
  const store = trust;
  const warn = options.warn ?? ((m: string) => console.warn(`certgate: ${m}`));
  const ctx = () => ({ trustCa: store.current().ca, env, baseDir: paths.resources });
  const tls = () => {
    const t = resolveTls(resource, ctx());
    if (t.warning) warn(t.warning);
    return t;
  };
  const password = () => (resource.password ? readSecret(resource.password, 'password', resource.name, ctx()).replace(/\r?\n$/, '') : undefined);
  return {
    resource,
    tls,
    pg: () => pgOptions(resource, tls(), password()),
    mysql2: () => mysql2Options(resource, tls(), password()),
    ioredis: () => ioredisOptions(resource, tls(), password()),
    mongodb: () => mongodbOptions(tls()),
    dispatcher: () => undiciDispatcher(tls()),
  };
}
