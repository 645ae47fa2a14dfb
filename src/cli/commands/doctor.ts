/**
 * @module cli/commands/doctor
 * `certgate doctor`: the same settings as `serve` (config file, CERTGATE_*, flags), every check
 * with its verdict and fix; exit 0 when nothing failed, 1 when a check failed, 2 for usage.
 */
import { isIP } from 'node:net';
import { runDoctor } from '../../doctor/index.ts';
import type { DoctorStatus } from '../../doctor/types.ts';
import { CertgateError } from '../../errors.ts';
import { parsePem } from '../../pki/pem.ts';
import { escapeControl } from '../../text/excerpt.ts';
import { parse, positiveInt, readInput } from '../args.ts';
import { palette } from '../color.ts';
import type { Io } from '../io.ts';
import { loadSettings, withSource } from '../settings/load.ts';
import { SERVE_TABLE } from '../settings/rows.ts';
import { flagOptions, renderHelp } from '../settings/table.ts';

export const doctorUsage = 'certgate doctor [--json] [--dry-run-issue NAME] [--dns SERVER[:PORT]] [--ca FILE] [serve options]';
export const doctorHelp = () =>
  renderHelp(doctorUsage, SERVE_TABLE, [
    '  --json                         the report as JSON: {"ok": bool, "checks": [{id, status, title, detail, fix}]}',
    "  --dry-run-issue NAME           also a real authorization for NAME at the CA (Let's Encrypt: its staging directory); no certificate",
    '  --dns SERVER[:PORT][,...]      DNS servers for the record checks (default: the system resolver)',
    "  --ca FILE                      CA certificates trusted when probing this host's HTTPS (default: Node's roots + the local CA)",
    '  --timeout MS                   per network step (default 5000)',
  ]);

function dnsServers(value: string): string[] {
  return value.split(',').map((raw) => {
    const s = raw.trim();
    const m = /^(?:\[([0-9a-fA-F:.]+)\]|([0-9.]+))(?::(\d{1,5}))?$/.exec(s) ?? (isIP(s) === 6 ? [s, s, undefined, undefined] : null);
    const host = m?.[1] ?? m?.[2];
    const port = m?.[3] === undefined ? undefined : Number(m[3]);
    if (!host || !isIP(host) || (port !== undefined && (port < 1 || port > 65535)))
      throw new CertgateError('E_USAGE', `--dns "${s}" is not an IP address with an optional port`, 'e.g. --dns 127.0.0.1:8053 or --dns [::1]:53');
    return port === undefined ? host : isIP(host) === 6 ? `[${host}]:${port}` : `${host}:${port}`;
  });
}

const MARK: Record<DoctorStatus, string> = { pass: '✓', warn: '!', fail: '✗', skip: '-' };

export async function doctor(argv: string[], io: Io): Promise<number> {
  const { values, positionals } = parse(
    argv,
    {
      ...flagOptions(SERVE_TABLE),
      json: { type: 'boolean' },
      'dry-run-issue': { type: 'string' },
      dns: { type: 'string' },
      ca: { type: 'string' },
      timeout: { type: 'string' },
    },
    doctorUsage,
  );
  if (positionals.length) throw new CertgateError('E_USAGE', `unexpected argument "${positionals[0]}"`, `usage: ${doctorUsage}`);
  if (values['dry-run-issue'] === '') throw new CertgateError('E_USAGE', '--dry-run-issue needs a name', 'e.g. --dry-run-issue app.example.com');
  const servers = typeof values.dns === 'string' ? dnsServers(values.dns) : undefined;
  const timeoutMs = positiveInt(values.timeout as string | undefined, '--timeout', 5000, 120_000);
  let ca: string[] | undefined;
  if (typeof values.ca === 'string') {
    const pems = parsePem((await readInput(io, values.ca)).toString('utf8')).filter((b) => b.label === 'CERTIFICATE');
    if (!pems.length)
      throw new CertgateError('E_USAGE', `--ca ${values.ca} holds no PEM certificate`, 'pass a PEM file of the CA that signed the served certificate');
    ca = pems.map((b) => `-----BEGIN CERTIFICATE-----\n${b.der.toString('base64').replace(/.{64}/g, '$&\n')}\n-----END CERTIFICATE-----\n`);
  }
  const loaded = await loadSettings(SERVE_TABLE, values, io, 'serve');
  const { config: _c, workers: _w, ...settings } = loaded.settings;
  let report: Awaited<ReturnType<typeof runDoctor>>;
  try {
    report = await runDoctor(settings, {
      ...(servers ? { dnsServers: servers } : {}),
      ...(ca ? { ca } : {}),
      ...(typeof values['dry-run-issue'] === 'string' ? { dryRunIssue: values['dry-run-issue'] } : {}),
      timeoutMs,
      hookEnv: io.env,
    });
  } catch (err) {
    throw withSource(err, SERVE_TABLE, loaded.source);
  }
  if (values.json) io.out(`${JSON.stringify(report, null, 2)}\n`);
  else {
    const c = palette(io);
    const colour: Record<DoctorStatus, (s: string) => string> = { pass: c.green, warn: c.yellow, fail: c.red, skip: c.dim };
    for (const k of report.checks) {
      io.out(`${colour[k.status](`${MARK[k.status]} ${k.status.padEnd(4)}`)} ${c.bold(k.id)}  ${escapeControl(k.title)}\n       ${escapeControl(k.detail)}\n`);
      if (k.fix && k.status !== 'pass') io.out(`       fix: ${escapeControl(k.fix)}\n`);
    }
    const n = (s: DoctorStatus) => report.checks.filter((k) => k.status === s).length;
    io.out(`${report.ok ? c.green('ok') : c.red('problems found')}: ${n('pass')} pass, ${n('warn')} warn, ${n('fail')} fail, ${n('skip')} skip\n`);
  }
  return report.ok ? 0 : 1;
}
