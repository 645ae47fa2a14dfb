/**
 * @module runtime/admin
 * Starts the admin listener for a runtime: its context from the runtime's engines, and its TLS
 * from `adminTls` (the local CA, or a managed domain's stored certificate). A busy default
 * address (another certgate on this host) is a warning when the caller says the address was
 * not chosen; a chosen one that cannot be had fails the start.
 */

import { isIP } from 'node:net';
import { hostname } from 'node:os';
import type { AdminProviders } from '../admin/context.ts';
import { parseAdminListen } from '../admin/listen.ts';
import { type AdminServer, startAdmin } from '../admin/server.ts';
import { CertgateError } from '../errors.ts';
import type { LocalCa } from '../localca/local-ca.ts';
import type { Logger } from '../log.ts';
import type { CertManager } from '../manager/manager.ts';
import { clusterStatus } from '../store/pg/nodes.ts';
import type { AcmeEngines } from './acme.ts';
import type { ServerSettings } from './settings.ts';

export interface AdminDeps {
  engines: AcmeEngines;
  localCa: LocalCa;
  manager: CertManager | null;
  log: Logger;
  env: Record<string, string | undefined>;
  current: () => Record<string, unknown>;
  refresh: (names: string[]) => Promise<void>;
  providers: AdminProviders;
  optional: boolean;
}

async function tlsFor(s: ServerSettings, deps: AdminDeps): Promise<{ certPem: string; keyPem: string; what: string; names: string[] } | null> {
  if (s.adminTls === 'off') return null;
  const address = parseAdminListen(s.adminListen);
  if (s.adminTls === 'local-ca') {
    const host = address.kind === 'tcp' ? address.host : 'localhost';
    const wildcard = host === '0.0.0.0' || host === '::';
    const names = [...new Set(['localhost', ...(wildcard ? [hostname()] : [host]), '127.0.0.1'])].filter((n) => n && (isIP(n) || /^[a-z0-9.-]+$/i.test(n)));
    const b = await deps.localCa.issue(names);
    return {
      certPem: b.certPem,
      keyPem: b.keyPem,
      what: `a certificate from the local CA for ${names.join(', ')} (trust it: certgate local-ca export)`,
      names,
    };
  }
  const b = await deps.engines.store.getBundle(s.adminTls);
  if (!b)
    throw new CertgateError(
      'E_ADMIN_TLS',
      `admin.tls names ${s.adminTls}, but no certificate is stored for it`,
      `obtain it first (certgate issue ${s.adminTls}), or set admin.tls to local-ca`,
      { option: 'adminTls' },
    );
  return { certPem: b.certPem, keyPem: b.keyPem, what: `the certificate of ${s.adminTls}`, names: b.meta.names };
}

export async function startAdminFor(s: ServerSettings, deps: AdminDeps): Promise<AdminServer | null> {
  const { engines } = deps;
  const tls = await tlsFor(s, deps);
  try {
    return await startAdmin(
      {
        store: engines.store,
        registry: engines.registry,
        manager: deps.manager,
        allowIp: s.allowIp,
        dirs: { caCerts: engines.paths.caCerts, resources: engines.paths.resources },
        env: deps.env,
        log: deps.log,
        current: deps.current,
        refresh: deps.refresh,
        ...(engines.pg ? { cluster: () => clusterStatus((engines.pg as NonNullable<AcmeEngines['pg']>).pool) } : {}),
        ...deps.providers,
      },
      { listen: s.adminListen, tls },
    );
  } catch (err) {
    if (deps.optional && (err as CertgateError).code === 'E_PORT_IN_USE') {
      deps.log.warn(`admin API off: ${(err as Error).message}; set admin.listen (--admin-listen) to another address, or off`);
      return null;
    }
    throw err;
  }
}
