/**
 * @module doctor
 * `certgate doctor`: a verdict per check with its fix, from the same settings as `serve`.
 * It sits above runtime/ and diagnostics/, beside admin/ (which serves the report at
 * /api/doctor through an injected provider); nothing below imports it. The checks only read,
 * except the storage check (one key written, read back, deleted) and the dry run (an
 * authorization at the CA, deactivated, never a certificate).
 */
import { Resolver } from 'node:dns/promises';
import { readFile } from 'node:fs/promises';
import { networkInterfaces } from 'node:os';
import { rootCertificates } from 'node:tls';
import { CertgateError } from '../errors.ts';
import { LocalCa } from '../localca/local-ca.ts';
import { createAcmeEngines } from '../runtime/acme.ts';
import type { ServerSettings } from '../runtime/settings.ts';
import { caaIdentities, type DirectoryFetch, dryRunIssue, fetchDirectory, skewCheck } from './acme.ts';
import { caCertsCheck, certificateChecks, emailCheck, modeCheck, portCheck, portState, proxyCheck, storageCheck } from './local.ts';
import { addressCheck, caaCheck, hstsCheck, plainHttpCheck, redirectCheck } from './net.ts';
import { check, type DoctorCheck, type DoctorContext, type DoctorOptions, type DoctorReport } from './types.ts';

export type { DnsLookup, DoctorCheck, DoctorOptions, DoctorReport, DoctorStatus } from './types.ts';

/** Every check id, in the order of the report (per-name checks carry `:NAME`). */
export const CHECK_IDS = [
  'port-http',
  'port-https',
  'mode',
  'acme-email',
  'proxy-custom-domain',
  'dns-address',
  'caa',
  'redirect-loop',
  'https-plain-http',
  'hsts',
  'ca-certs',
  'certificate',
  'storage',
  'clock-skew',
  'dry-run-issue',
] as const;

function interfaceAddresses(): string[] {
  return Object.values(networkInterfaces())
    .flat()
    .filter((a): a is NonNullable<typeof a> => Boolean(a))
    .map((a) => a.address);
}

function loopbackFor(host: string | undefined): string {
  if (!host || host === '0.0.0.0') return '127.0.0.1';
  if (host === '::' || host === '[::]') return '::1';
  return host.replace(/^\[(.*)\]$/, '$1');
}

async function context(settings: ServerSettings, options: DoctorOptions): Promise<DoctorContext> {
  const warnings: string[] = [];
  const engines = createAcmeEngines(settings, { warn: (m) => warnings.push(m), ...(options.hookEnv ? { hookEnv: options.hookEnv } : {}) });
  let resolver = options.resolver;
  if (!resolver) {
    const r = new Resolver({ timeout: options.timeoutMs ?? 5000, tries: 2 });
    if (options.dnsServers?.length) r.setServers(options.dnsServers);
    resolver = r;
  }
  const doc = await engines.registry.list();
  const domains = [...new Set([...(doc.main ? [doc.main] : []), ...doc.custom.map((c) => c.name)])];
  let ca = options.ca;
  if (!ca) {
    ca = [...rootCertificates];
    const local = await readFile(new LocalCa({ dir: `${engines.paths.root}/local-ca` }).certPath, 'utf8').catch(() => null);
    if (local) ca.push(local);
  }
  const behindNoTls = settings.behindProxy !== null && !settings.behindProxyTls;
  return {
    settings,
    engines,
    resolver,
    hostAddresses: options.hostAddresses ?? interfaceAddresses(),
    ca,
    clock: options.clock ?? (() => new Date()),
    timeoutMs: options.timeoutMs ?? 5000,
    acme: settings.mode === 'production' && settings.acmeAgreeTos,
    domains,
    probeHost: loopbackFor(settings.host),
    httpsPort: behindNoTls ? null : settings.httpsPort,
    httpPort: settings.httpPort,
    warnings,
    hookEnv: options.hookEnv ?? {},
  };
}

/** A check that throws is a failed check with its reason, not a failed report. */
async function guarded(id: string, title: string, fn: () => Promise<DoctorCheck | DoctorCheck[]> | DoctorCheck): Promise<DoctorCheck[]> {
  try {
    const r = await fn();
    return Array.isArray(r) ? r : [r];
  } catch (err) {
    const e = err as CertgateError;
    return [
      check(id, 'fail', title, `${e instanceof CertgateError ? `${e.code}: ` : ''}${e.message}`, e.fix ?? 'run certgate doctor --debug and report the output'),
    ];
  }
}

export async function runDoctor(settings: ServerSettings, options: DoctorOptions = {}): Promise<DoctorReport> {
  const ctx = await context(settings, options);
  const wanted = (id: string) => !options.only || options.only.includes(id);
  const checks: DoctorCheck[] = [];
  const add = async (id: string, title: string, fn: () => Promise<DoctorCheck | DoctorCheck[]> | DoctorCheck) => {
    if (wanted(id)) checks.push(...(await guarded(id, title, fn)));
  };
  const needPorts = wanted('port-http') || wanted('port-https') || options.dryRunIssue !== undefined;
  const ports = needPorts
    ? {
        http: await portState(ctx, ctx.httpPort, 'HTTP').catch(() => 'other' as const),
        https: await portState(ctx, ctx.httpsPort, 'HTTPS').catch(() => 'other' as const),
      }
    : { http: 'off' as const, https: 'off' as const };
  await add('port-http', 'port (HTTP) free or held by certgate', () => portCheck(ctx, 'HTTP', ports.http));
  await add('port-https', 'port (HTTPS) free or held by certgate', () => portCheck(ctx, 'HTTPS', ports.https));
  await add('mode', 'production vs development mode', () => modeCheck(ctx));
  await add('acme-email', 'ACME account email', () => emailCheck(ctx));
  await add('proxy-custom-domain', 'custom domain behind a TLS-terminating proxy', () => proxyCheck(ctx));
  const needDirectory = ctx.acme && (wanted('caa') || wanted('clock-skew'));
  const directory: DirectoryFetch | null = needDirectory ? await fetchDirectory(ctx) : null;
  const noDomain = (id: string, title: string) => check(id, 'skip', title, 'no domain is registered (CERTGATE_DOMAIN, certgate domains add)');
  await add('dns-address', 'A/AAAA point at this host', async () =>
    ctx.domains.length ? Promise.all(ctx.domains.map((n) => addressCheck(ctx, n))) : noDomain('dns-address', 'A/AAAA point at this host'),
  );
  await add('caa', 'CAA allows the configured CA', async () => {
    if (!ctx.domains.length) return noDomain('caa', 'CAA allows the configured CA');
    if (!ctx.acme) return check('caa', 'skip', 'CAA allows the configured CA', 'ACME is off: no CA to check CAA against');
    const ids = caaIdentities(ctx, directory);
    return Promise.all(ctx.domains.map((n) => caaCheck(ctx, n, ids)));
  });
  await add('redirect-loop', 'no redirect loop', () => redirectCheck(ctx));
  await add('https-plain-http', 'plain HTTP is not answered on the HTTPS port', () => plainHttpCheck(ctx));
  await add('hsts', 'HSTS where it belongs', () => hstsCheck(ctx));
  await add('ca-certs', 'every ca-certs file valid', () => caCertsCheck(ctx));
  await add('certificate', 'certificates past their renewal point or failing', () => certificateChecks(ctx));
  await add('storage', 'storage writable', () => storageCheck(ctx));
  await add('clock-skew', "clock against the CA's Date header", () => skewCheck(directory));
  if (options.dryRunIssue !== undefined) {
    const name = options.dryRunIssue;
    checks.push(...(await guarded('dry-run-issue', `${name}: a real authorization at the CA`, () => dryRunIssue(ctx, name, ports))));
  }
  return { ok: !checks.some((c) => c.status === 'fail'), checks };
}
