/**
 * A complete ServerSettings for library tests: the defaults the CLI would resolve, loopback
 * ports chosen by the system, and whatever the test overrides.
 */
import type { ServerSettings } from '../../src/runtime/settings.ts';

export function settings(data: string, over: Partial<ServerSettings> = {}): ServerSettings {
  return {
    data,
    store: undefined,
    storeCa: undefined,
    storeLease: 60_000,
    acmeDirectory: 'letsencrypt',
    acmeEmail: undefined,
    acmeAgreeTos: false,
    acmeCaRoot: undefined,
    challenges: undefined,
    dnsHook: undefined,
    keyType: 'ec-p256',
    domain: undefined,
    ask: undefined,
    maintenanceInterval: 86_400_000,
    allowIp: false,
    httpPort: 0,
    httpsPort: 0,
    storeKey: undefined,
    storeKeyFile: undefined,
    storeKeyOld: undefined,
    storeKeyOldFile: undefined,
    mode: 'production',
    upstream: null,
    routes: {},
    host: '127.0.0.1',
    redirect: true,
    hsts: true,
    hstsMaxAge: 31_536_000,
    hstsIncludeSubdomains: false,
    hstsPreload: false,
    behindProxy: null,
    behindProxyTls: false,
    defaultSni: undefined,
    accessLog: false,
    onDemandPerMinute: 30,
    onDemandPerClient: 10,
    onDemandWait: 20_000,
    metrics: true,
    metricsMaxNames: 10_000,
    alertsWebhooks: null,
    alertsSecret: undefined,
    adminListen: 'off',
    adminTls: 'off',
    ...over,
  };
}
