/**
 * @module doctor/acme
 * Checks that talk to the CA: its directory (CAA identities, the Date header for clock skew)
 * and, on request, a real authorization that never becomes a certificate.
 */
import { readFile } from 'node:fs/promises';
import { rootCertificates } from 'node:tls';
import { Agent, request } from 'undici';
import { startStandaloneResponder } from '../acme/challenges.ts';
import { DIRECTORIES, resolveDirectory } from '../acme/directory.ts';
import type { CertgateError } from '../errors.ts';
import { checkIssuable } from '../manager/policy.ts';
import { createAcmeEngines } from '../runtime/acme.ts';
import type { PortState } from './local.ts';
import { check, type DoctorCheck, type DoctorContext } from './types.ts';

export interface DirectoryFetch {
  url: string;
  doc: Record<string, unknown> | null;
  /** The CA's clock (Date header) minus ours, measured at the middle of the request. */
  skewMs: number | null;
  error: string | null;
}

const KNOWN_IDENTITIES: Record<string, string[]> = {
  [DIRECTORIES.letsencrypt as string]: ['letsencrypt.org'],
  [DIRECTORIES['letsencrypt-staging'] as string]: ['letsencrypt.org'],
  [DIRECTORIES.zerossl as string]: ['sectigo.com'],
};

export async function fetchDirectory(ctx: DoctorContext): Promise<DirectoryFetch> {
  const url = resolveDirectory(ctx.settings.acmeDirectory);
  let ca: string[] | undefined;
  if (ctx.settings.acmeCaRoot) ca = [...rootCertificates, await readFile(ctx.settings.acmeCaRoot, 'utf8')];
  const dispatcher = new Agent(ca ? { connect: { ca } } : {});
  const before = ctx.clock().getTime();
  try {
    const res = await request(url, { dispatcher, headersTimeout: ctx.timeoutMs, bodyTimeout: ctx.timeoutMs });
    const after = ctx.clock().getTime();
    const text = await res.body.text();
    const date = Date.parse(String(res.headers.date ?? ''));
    let doc: Record<string, unknown> | null = null;
    try {
      doc = JSON.parse(text) as Record<string, unknown>;
    } catch {
      doc = null;
    }
    return {
      url,
      doc: res.statusCode === 200 ? doc : null,
      skewMs: Number.isFinite(date) ? date - (before + after) / 2 : null,
      error: res.statusCode === 200 ? null : `HTTP ${res.statusCode}`,
    };
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    return { url, doc: null, skewMs: null, error: e.code ?? e.message };
  } finally {
    await dispatcher.close();
  }
}

/** The CA's CAA identities: known for the presets, else the directory's meta.caaIdentities. */
export function caaIdentities(ctx: DoctorContext, dir: DirectoryFetch | null): string[] | null {
  const known = KNOWN_IDENTITIES[resolveDirectory(ctx.settings.acmeDirectory)];
  if (known) return known;
  const meta = dir?.doc?.meta as { caaIdentities?: unknown } | undefined;
  return Array.isArray(meta?.caaIdentities) ? meta.caaIdentities.filter((x): x is string => typeof x === 'string').map((x) => x.toLowerCase()) : null;
}

export const SKEW_WARN_MS = 30_000;
export const SKEW_FAIL_MS = 300_000;

export function skewCheck(dir: DirectoryFetch | null): DoctorCheck {
  const title = "clock against the CA's Date header";
  if (!dir) return check('clock-skew', 'skip', title, 'ACME is off: no CA to compare with');
  if (dir.error || dir.skewMs === null)
    return check(
      'clock-skew',
      'warn',
      title,
      `the ACME directory ${dir.url} could not be read (${dir.error ?? 'no Date header'})`,
      'check CERTGATE_ACME_DIRECTORY, CERTGATE_ACME_CA_ROOT and the network',
    );
  const s = Math.round(dir.skewMs / 1000);
  const said = `this host's clock is ${Math.abs(s)} s ${s > 0 ? 'behind' : 'ahead of'} the CA (${dir.url})`;
  if (Math.abs(dir.skewMs) > SKEW_FAIL_MS)
    return check(
      'clock-skew',
      'fail',
      title,
      `${said}: certificates look not yet valid or expired, renewal windows are missed`,
      'synchronise the clock: timedatectl set-ntp true (or chrony / ntpd)',
    );
  if (Math.abs(dir.skewMs) > SKEW_WARN_MS)
    return check('clock-skew', 'warn', title, said, 'synchronise the clock: timedatectl set-ntp true (or chrony / ntpd)');
  return check('clock-skew', 'pass', title, `within ${Math.max(1, Math.abs(s))} s of the CA (${dir.url})`);
}

/** A real authorization against the CA (Let's Encrypt's staging for its production directory); no certificate. */
export async function dryRunIssue(ctx: DoctorContext, input: string, ports: { http: PortState; https: PortState }): Promise<DoctorCheck> {
  const id = 'dry-run-issue';
  const title = `${input}: a real authorization at the CA, no certificate`;
  const s = ctx.settings;
  if (!s.acmeAgreeTos)
    return check(id, 'fail', title, "the CA's terms are not agreed: no authorization can be asked for", 'set CERTGATE_ACME_AGREE_TOS=true (--agree-tos)');
  let name: string;
  try {
    name = checkIssuable(input, { allowIp: s.allowIp });
  } catch (err) {
    const e = err as CertgateError;
    return check(id, 'fail', title, e.message, e.fix ?? null);
  }
  const directory = resolveDirectory(s.acmeDirectory) === DIRECTORIES.letsencrypt ? 'letsencrypt-staging' : s.acmeDirectory;
  // certgate serve holds the HTTP port: the answer goes through <data>/challenges, which it reads.
  const viaServe = ports.http === 'certgate';
  const engines = createAcmeEngines({ ...s, acmeDirectory: directory }, { warn: () => {}, workers: viaServe || ports.https !== 'free', hookEnv: ctx.hookEnv });
  const started = Date.now();
  let responder: Awaited<ReturnType<typeof startStandaloneResponder>> | null = null;
  try {
    const issuer = engines.issuer();
    responder = await startStandaloneResponder(engines.answers, {
      ...(ports.http === 'free' && s.httpPort !== null ? { httpPort: s.httpPort } : {}),
      ...(ports.https === 'free' && s.httpsPort !== null ? { tlsPort: s.httpsPort } : {}),
      ...(s.host ? { host: s.host } : {}),
    });
    const r = await issuer.authorize(name);
    return check(
      id,
      'pass',
      title,
      `${issuer.directory} validated ${name} with ${r.challenge} in ${Date.now() - started} ms${viaServe ? ' (answered by the running certgate serve)' : ''}; the authorization was ${r.deactivated ? 'deactivated' : 'left to expire'} and no certificate was ordered${r.reused ? ` (${r.reused} reused authorization${r.reused === 1 ? '' : 's'} given up first)` : ''}`,
    );
  } catch (err) {
    const e = err as CertgateError;
    return check(id, 'fail', title, `${e.code ? `${e.code}: ` : ''}${e.message}`, e.fix ?? 'run certgate issue with --debug for the whole exchange');
  } finally {
    await responder?.close();
  }
}
