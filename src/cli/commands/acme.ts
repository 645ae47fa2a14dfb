/**
 * @module cli/commands/acme
 * `certgate issue`, `renew`, `certs`, `domains`, `logs`: certificates from ACME, the seeds'
 * `ssl` command and certificates worker log, done properly.
 */

import { type StandaloneResponder, startStandaloneResponder } from '../../acme/challenges.ts';
import { CertgateError } from '../../errors.ts';
import { dueAt } from '../../maintenance/maintainer.ts';
import { checkIssuable } from '../../manager/policy.ts';
import { decodeCertificate } from '../../pki/certificate.ts';
import { parsePem } from '../../pki/pem.ts';
import { type AcmeEngines, createAcmeEngines } from '../../runtime/acme.ts';
import type { AcmeSettings } from '../../runtime/settings.ts';
import { indexEntryOf, pairProblem } from '../../store/meta.ts';
import type { CertEvent, CertMeta } from '../../store/store.ts';
import { parse, positiveInt } from '../args.ts';
import { palette } from '../color.ts';
import type { Io } from '../io.ts';
import { renderError } from '../run.ts';
import { loadSettings, withSource } from '../settings/load.ts';
import { ACME_TABLE } from '../settings/rows.ts';
import { flagOptions, renderHelp } from '../settings/table.ts';

export const issueUsage = 'certgate issue [DOMAIN] [--force] [--json] [options]';
export const renewUsage = 'certgate renew [--dry-run] [--json] [options]';
export const certsUsage = 'certgate certs list [--json] | certgate certs show DOMAIN [--json]';
export const domainsUsage = 'certgate domains list [--json] | add DOMAIN | remove DOMAIN';
export const logsUsage = 'certgate logs [DOMAIN] [--json] [--follow [--follow-for MS]]';

const JSON_HELP = '  --json                         JSON output (errors too)';
export const issueHelp = () =>
  renderHelp(issueUsage, ACME_TABLE, ['  --force                        issue now, even with a valid certificate or past the attempts limit', JSON_HELP]);
export const renewHelp = () => renderHelp(renewUsage, ACME_TABLE, ['  --dry-run                      say what would be renewed', JSON_HELP]);

const ACME_FLAGS = flagOptions(ACME_TABLE);

interface Setup {
  settings: AcmeSettings;
  engines: AcmeEngines;
}

/** The ACME settings of this command line (flags, CERTGATE_*, the config file), and the engines built from them. */
async function setupFor(values: Record<string, unknown>, io: Io, command: string): Promise<Setup> {
  const { settings } = await loadSettings(ACME_TABLE, values, io, command);
  try {
    const engines = createAcmeEngines(settings, { warn: (m) => io.err(`warning: ${m}\n`), hookEnv: io.env });
    // A command that may write a key refuses a store whose keys it cannot open before it asks a CA.
    if (command === 'issue' || command === 'renew') await engines.store.checkSecrets();
    return { settings, engines };
  } catch (err) {
    throw withSource(err, ACME_TABLE);
  }
}

// The CA said no (exit 1: a problem found); configuration and reachability are exit 2.
const ACME_FAILURES = new Set(['E_ACME_CHALLENGE', 'E_ACME_PROBLEM', 'E_ACME_RATE_LIMITED', 'E_ACME_DNS_HOOK', 'E_ATTEMPTS_EXHAUSTED']);

/** What the renewal-window rules read of a stored certificate. */
function windowOf(name: string, meta: CertMeta) {
  return dueAt(indexEntryOf(meta, name));
}

async function responder({ settings, engines }: Setup): Promise<StandaloneResponder> {
  return startStandaloneResponder(engines.answers, {
    ...(settings.httpPort !== null ? { httpPort: settings.httpPort } : {}),
    ...(settings.httpsPort !== null ? { tlsPort: settings.httpsPort } : {}),
  });
}

export async function issue(argv: string[], io: Io): Promise<number> {
  const { values, positionals } = parse(argv, { ...ACME_FLAGS, force: { type: 'boolean' }, json: { type: 'boolean' } }, issueUsage);
  if (positionals.length > 1) throw new CertgateError('E_USAGE', 'give one domain', `usage: ${issueUsage}`);
  const setup = await setupFor(values, io, 'issue');
  const { engines } = setup;
  const given = positionals[0] ?? (await engines.registry.list()).main;
  if (!given) throw new CertgateError('E_USAGE', 'no DOMAIN given and no main domain is set', 'pass a domain, or set CERTGATE_DOMAIN');
  const name = checkIssuable(given, { allowIp: setup.settings.allowIp });
  const decision = await engines.registry.decide(name);
  if (!decision.allowed) {
    // The ask endpoint's own answer (a status, or that it is down) is the reason, not "unregistered".
    const fix = decision.askError
      ? `make the ask endpoint reachable (${decision.askUrl}: ${decision.askError}), or register the name: certgate domains add ${name}`
      : decision.askStatus
        ? `the ask endpoint refused it (HTTP ${decision.askStatus}); allow it there, or register it: certgate domains add ${name}`
        : `add it first: certgate domains add ${name}`;
    throw new CertgateError(
      'E_DOMAIN_UNREGISTERED',
      decision.askStatus || decision.askError
        ? `${name} is not allowed: ${decision.reason}`
        : `${name} is not registered: certgate only issues for the main domain and custom domains`,
      fix,
    );
  }
  const existing = await engines.store.getBundle(name);
  if (existing && !values.force) {
    const d = windowOf(name, existing.meta);
    if (d.at > Date.now()) {
      io.out(
        values.json
          ? `${JSON.stringify({ name, issued: false, notAfter: existing.meta.notAfter, renewFrom: new Date(d.at).toISOString() }, null, 2)}\n`
          : `${name}: a valid certificate is stored (until ${existing.meta.notAfter}); renewal starts ${new Date(d.at).toISOString()}. --force issues now\n`,
      );
      return 0;
    }
  }
  const issuer = engines.issuer();
  const server = await responder(setup);
  try {
    const result = await engines
      .manager()
      .obtain(name, { force: Boolean(values.force), renew: Boolean(existing), reason: values.force ? 'manual, --force' : 'manual' });
    const files = engines.store.filePaths(name);
    if (values.json) {
      io.out(
        `${JSON.stringify({ name, issued: result.issued, ms: Math.round(result.ms), meta: result.bundle.meta, files, account: issuer.accountUrl }, null, 2)}\n`,
      );
    } else {
      const c = palette(io);
      io.out(
        `${c.green('✓')} ${name}: issued by ${result.bundle.meta.issuer}, valid until ${result.bundle.meta.notAfter} (${Math.round(result.ms)} ms)${files ? `\n  fullchain ${files.fullchain}\n  key       ${files.key}` : '\n  stored in the PostgreSQL store'}\n`,
      );
    }
    return 0;
  } catch (err) {
    const e = err as CertgateError;
    if (!ACME_FAILURES.has(e.code)) throw err;
    io.err(renderError(err, false));
    return 1;
  } finally {
    await server.close();
  }
}

export async function renew(argv: string[], io: Io): Promise<number> {
  const { values } = parse(argv, { ...ACME_FLAGS, 'dry-run': { type: 'boolean' }, json: { type: 'boolean' } }, renewUsage);
  const setup = await setupFor(values, io, 'renew');
  const dryRun = Boolean(values['dry-run']);
  const maintainer = setup.engines.maintainer();
  const server = dryRun ? null : await responder(setup);
  try {
    const report = await maintainer.runCycle({ dryRun });
    if (values.json) io.out(`${JSON.stringify(report, null, 2)}\n`);
    else {
      const c = palette(io);
      let s = `${dryRun ? 'dry run: ' : ''}scanned ${report.scanned} certificate(s) in ${report.scanMs} ms; ${report.due} due\n`;
      for (const n of report.renewed) s += `${c.green('✓')} ${n}${dryRun ? ' would be renewed' : ' renewed'}\n`;
      for (const f of report.failed) s += `${c.red('✗')} ${f.name}: ${f.code} ${f.message}\n`;
      for (const d of report.deferred) s += `${c.yellow('-')} ${d.name}: ${d.why}\n`;
      io.out(s);
    }
    return report.failed.length ? 1 : 0;
  } finally {
    await server?.close();
    await maintainer.close();
  }
}

interface CertRow {
  name: string;
  status: 'valid' | 'due' | 'expired' | 'failing' | 'damaged';
  notBefore: string | null;
  notAfter: string | null;
  daysLeft: number | null;
  renewFrom: string | null;
  renewalWindow: string | null;
  attempts: number;
  lastError: { code: string; message: string; at: string } | null;
  problem: string | null;
  files: ReturnType<AcmeEngines['store']['filePaths']> | null;
}

async function certsList(setup: AcmeEngines, json: boolean, io: Io): Promise<number> {
  const entries = await setup.store.scan();
  const now = Date.now();
  const rows: CertRow[] = [];
  for (const e of entries) {
    const state = await setup.store.getState(e.name);
    const d = dueAt(e);
    const bundle = await setup.store.getBundle(e.name);
    const problem = bundle ? pairProblem(bundle) : 'the certificate files are missing';
    const status = problem ? 'damaged' : Date.parse(e.notAfter) < now ? 'expired' : state.flagged ? 'failing' : d.at <= now ? 'due' : 'valid';
    rows.push({
      name: e.name,
      status,
      notBefore: e.notBefore,
      notAfter: e.notAfter,
      daysLeft: Math.floor((Date.parse(e.notAfter) - now) / 86_400_000),
      renewFrom: new Date(d.at).toISOString(),
      renewalWindow: d.window,
      attempts: state.attempts,
      lastError: state.lastError,
      problem,
      files: setup.store.filePaths(e.name),
    });
  }
  // A name that never got a certificate but keeps failing is shown too (it has state, no index entry).
  const listed = new Set(rows.map((r) => r.name));
  for (const name of await setup.store.statedNames()) {
    if (listed.has(name)) continue;
    const state = await setup.store.getState(name);
    if (!state.attempts && !state.lastError) continue;
    rows.push({
      name,
      status: 'failing',
      notBefore: null,
      notAfter: null,
      daysLeft: null,
      renewFrom: state.nextAttemptAt,
      renewalWindow: null,
      attempts: state.attempts,
      lastError: state.lastError,
      problem: null,
      files: null,
    });
  }
  rows.sort((a, b) => a.name.localeCompare(b.name));
  if (json) io.out(`${JSON.stringify({ certificates: rows }, null, 2)}\n`);
  else {
    const c = palette(io);
    for (const r of rows) {
      const st = r.status === 'valid' ? c.green(r.status) : r.status === 'due' ? c.yellow(r.status) : c.red(r.status);
      const validity = r.notAfter
        ? `until ${r.notAfter.slice(0, 10)} (${r.daysLeft} days)  renew from ${r.renewFrom?.slice(0, 10)} (${r.renewalWindow})`
        : 'no certificate yet';
      const failures = r.attempts
        ? `  ${r.attempts} failed ${r.attempts === 1 ? 'attempt' : 'attempts'}: ${r.lastError?.message}`
        : r.lastError
          ? `  last: ${r.lastError.message}`
          : '';
      io.out(`${r.name.padEnd(36)} ${st.padEnd(8)} ${validity}${r.problem ? `  ${r.problem}` : ''}${failures}\n`);
    }
    if (!rows.length) io.out('no certificates yet: certgate issue DOMAIN\n');
  }
  return rows.some((r) => r.status === 'expired' || r.status === 'failing' || r.status === 'damaged') ? 1 : 0;
}

async function certsShow(setup: AcmeEngines, name: string, json: boolean, io: Io): Promise<number> {
  const bundle = await setup.store.getBundle(name);
  const state = await setup.store.getState(name);
  if (!bundle) {
    if (!state.attempts && !state.lastError) throw new CertgateError('E_USAGE', `no certificate is stored for ${name}`, `certgate issue ${name}`);
    // Failing without ever having a certificate: say why, and the command that goes past the limit.
    const out = { name, meta: null, state, certificate: null };
    if (json) io.out(`${JSON.stringify(out, null, 2)}\n`);
    else
      io.out(
        `${name}\n  status     failing, no certificate yet\n  attempts   ${state.attempts}${state.lastError ? ` (last: ${state.lastError.code} ${state.lastError.message})` : ''}\n  next try   ${state.flagged ? `none: stopped after ${state.attempts} attempts; fix the cause, then certgate issue ${name} --force` : (state.nextAttemptAt ?? 'at the next maintenance cycle')}\n`,
      );
    return 1;
  }
  const leafDer = parsePem(bundle.certPem).find((b) => b.label === 'CERTIFICATE')?.der;
  const leaf = leafDer ? decodeCertificate(leafDer).info : null;
  const d = windowOf(name, bundle.meta);
  const out = {
    name,
    meta: bundle.meta,
    state,
    renewFrom: new Date(d.at).toISOString(),
    renewalWindow: d.window,
    files: setup.store.filePaths(name),
    certificate: leaf,
  };
  if (json) io.out(`${JSON.stringify(out, null, 2)}\n`);
  else {
    io.out(
      `${name}\n  names      ${bundle.meta.names.join(', ')}\n  issuer     ${bundle.meta.issuer}\n  valid      ${bundle.meta.notBefore} → ${bundle.meta.notAfter}\n  renew from ${out.renewFrom} (${d.window === 'ari' ? "the CA's ARI window" : d.window === 'fixed' ? 'renewBefore' : 'last third of the lifetime'})\n  key        ${bundle.meta.keyType}\n  attempts   ${state.attempts}${state.lastError ? ` (last: ${state.lastError.message})` : ''}${state.flagged ? ' — stopped; certgate issue --force' : ''}${out.files ? `\n  fullchain  ${out.files.fullchain}\n  key file   ${out.files.key}` : '\n  stored     the PostgreSQL store'}\n`,
    );
  }
  return 0;
}

export async function certs(argv: string[], io: Io): Promise<number> {
  const [sub, ...rest] = argv;
  const { values, positionals } = parse(rest, { ...ACME_FLAGS, json: { type: 'boolean' } }, certsUsage);
  const setup = (await setupFor(values, io, 'certs')).engines;
  if (sub === 'list') return certsList(setup, Boolean(values.json), io);
  if (sub === 'show' && positionals.length === 1) return certsShow(setup, checkIssuable(positionals[0] as string, { allowIp: true }), Boolean(values.json), io);
  throw new CertgateError('E_USAGE', sub ? `bad certs command "${[sub, ...positionals].join(' ')}"` : 'certs needs a command', `usage: ${certsUsage}`);
}

export async function domains(argv: string[], io: Io): Promise<number> {
  const [sub, ...rest] = argv;
  const { values, positionals } = parse(rest, { ...ACME_FLAGS, json: { type: 'boolean' } }, domainsUsage);
  const setup = (await setupFor(values, io, 'domains')).engines;
  if (sub === 'list') {
    const l = await setup.registry.list();
    if (values.json) io.out(`${JSON.stringify(l, null, 2)}\n`);
    else
      io.out(
        `main    ${l.main ?? '(none: the first domain visited becomes the main domain; set CERTGATE_DOMAIN)'}${l.mainSource ? ` (${l.mainSource})` : ''}\n${l.custom.map((c) => `custom  ${c.name} (added ${c.addedAt.slice(0, 10)})\n`).join('')}`,
      );
    return 0;
  }
  if ((sub === 'add' || sub === 'remove') && positionals.length === 1) {
    const before = (await setup.registry.list()).custom.map((c) => c.name);
    const name = sub === 'add' ? await setup.registry.add(positionals[0] as string) : await setup.registry.remove(positionals[0] as string);
    const changed = sub === 'add' ? !before.includes(name) : before.includes(name);
    if (values.json) io.out(`${JSON.stringify({ name, [sub === 'add' ? 'added' : 'removed']: changed })}\n`);
    else io.out(changed ? `${sub === 'add' ? '+' : '-'} ${name}\n` : `${name} ${sub === 'add' ? 'is already a custom domain' : 'was not a custom domain'}\n`);
    return 0;
  }
  throw new CertgateError('E_USAGE', sub ? `bad domains command "${[sub, ...positionals].join(' ')}"` : 'domains needs a command', `usage: ${domainsUsage}`);
}

function line(e: CertEvent, io: Io): string {
  const c = palette(io);
  const color = e.type === 'cert_failed' || e.type === 'attempts_exhausted' ? c.red : e.type === 'cert_obtained' ? c.green : (s: string) => s;
  return `${e.at}  ${e.name.padEnd(28)} ${color(e.type.padEnd(18))} ${e.message}\n`;
}

export async function logs(argv: string[], io: Io): Promise<number> {
  const { values, positionals } = parse(
    argv,
    { ...ACME_FLAGS, json: { type: 'boolean' }, follow: { type: 'boolean', short: 'f' }, 'follow-for': { type: 'string' } },
    logsUsage,
  );
  const setup = (await setupFor(values, io, 'logs')).engines;
  const name = positionals[0] ? checkIssuable(positionals[0], { allowIp: true }) : undefined;
  const print = (events: CertEvent[]) => {
    for (const e of events) io.out(values.json ? `${JSON.stringify(e)}\n` : line(e, io));
  };
  let seen = await setup.store.readEvents(name);
  print(seen);
  if (!values.follow) return 0;
  const until = values['follow-for'] ? Date.now() + positiveInt(values['follow-for'] as string, '--follow-for', 1000) : Number.POSITIVE_INFINITY;
  while (Date.now() < until) {
    await new Promise((r) => setTimeout(r, Math.min(500, Math.max(10, until - Date.now()))));
    const all = await setup.store.readEvents(name);
    if (all.length > seen.length) {
      print(all.slice(seen.length));
      seen = all;
    }
  }
  return 0;
}
