/**
 * An admin listener for a test: a fresh data directory, the runtime's engines over it, the
 * listener on 127.0.0.1 with a port the system picks, one token, and every log line kept (to
 * check that no secret reaches it).
 */
import type { TestContext } from 'node:test';
import type { AdminContext, AdminProviders } from '../../src/admin/context.ts';
import { type AdminServerOptions, startAdmin } from '../../src/admin/server.ts';
import { AdminTokens } from '../../src/admin/tokens.ts';
import { createLogger } from '../../src/log.ts';
import { type AcmeEngines, createAcmeEngines } from '../../src/runtime/acme.ts';
import { settings } from '../helpers/settings.ts';
import { tempDir } from '../helpers/tmp.ts';

export interface TestAdmin {
  url: string;
  data: string;
  token: string;
  tokenId: string;
  engines: AcmeEngines;
  tokens: AdminTokens;
  logs: string[];
  /** fetch against the listener with the token (unless headers say otherwise). */
  call(path: string, init?: RequestInit & { json?: unknown; noAuth?: boolean }): Promise<Response>;
}

export async function startTestAdmin(
  t: TestContext,
  options: Partial<AdminServerOptions> & { providers?: AdminProviders; context?: Partial<AdminContext> } = {},
): Promise<TestAdmin> {
  const data = tempDir(t, 'certgate-admin-');
  const logs: string[] = [];
  const log = createLogger({ write: (l) => logs.push(l), level: 'debug' });
  const engines = createAcmeEngines(settings(data), { warn: () => {} });
  const server = await startAdmin(
    {
      store: engines.store,
      registry: engines.registry,
      manager: null,
      allowIp: false,
      dirs: { caCerts: engines.paths.caCerts, resources: engines.paths.resources },
      env: {},
      log,
      current: () => ({ data }),
      refresh: async () => {},
      ...options.providers,
      ...options.context,
    },
    {
      listen: options.listen ?? '127.0.0.1:0',
      ...(options.tls ? { tls: options.tls } : {}),
      ...(options.maxFailures ? { maxFailures: options.maxFailures } : {}),
    },
  );
  if (!server) throw new Error('admin is off');
  t.after(() => server.close());
  const tokens = new AdminTokens(engines.store);
  const { token, info } = await tokens.create('test');
  return {
    url: server.url,
    data,
    token,
    tokenId: info.id,
    engines,
    tokens,
    logs,
    call(path, init = {}) {
      const { json, noAuth, ...rest } = init;
      const headers = new Headers(rest.headers);
      if (!noAuth && !headers.has('authorization')) headers.set('authorization', `Bearer ${token}`);
      if (json !== undefined) headers.set('content-type', 'application/json');
      return fetch(`${server.url}${path}`, { ...rest, headers, ...(json !== undefined ? { body: JSON.stringify(json) } : {}), redirect: 'manual' });
    },
  };
}
