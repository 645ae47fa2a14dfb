/**
 * @module cli/commands/grade-section
 * `inspect --grade`: runs the grade after the inspection and renders its section.
 */
import type { GradeOptions, GradeReport } from '../../diagnostics/grade/index.ts';
import { palette } from '../color.ts';
import type { Io } from '../io.ts';

const LABEL: Record<string, string> = { TLSv1: 'TLS 1.0', 'TLSv1.1': 'TLS 1.1', 'TLSv1.2': 'TLS 1.2', 'TLSv1.3': 'TLS 1.3' };

/** Loaded only with --grade: inspect alone does not pay for it. */
export async function runGrade(target: { host: string; port: number }, options: GradeOptions): Promise<GradeReport> {
  const { gradeServer } = await import('../../diagnostics/grade/index.ts');
  return gradeServer(target, options);
}

export function renderGrade(g: GradeReport, io: Io): string {
  const p = palette(io);
  const yes = (b: boolean | null) => (b === null ? 'n/a' : b ? 'yes' : 'no');
  const row = (k: string, v: string) => `  ${k.padEnd(12)}${v}\n`;
  let s = `\nGrade      ${g.handshakes} handshakes in ${g.elapsedMs} ms\n`;
  s += row(
    'Protocols',
    g.protocols
      .map((v) => `${LABEL[v.version]} ${v.offered ? (v.version === 'TLSv1.2' || v.version === 'TLSv1.3' ? p.green('yes') : p.red('yes')) : 'no'}`)
      .join(', '),
  );
  const fs = g.suites.filter((x) => x.forwardSecrecy).length;
  const aead = g.suites.filter((x) => x.aead).length;
  s += row('Suites', `${g.suites.length}${g.suitesComplete ? '' : '+'} accepted, ${fs} forward-secret, ${aead} AEAD`);
  for (const x of g.suites) s += row('', `${x.protocol.padEnd(8)} ${x.name}${x.forwardSecrecy ? '' : '  (no forward secrecy)'}${x.aead ? '' : '  (no AEAD)'}`);
  s += row('ALPN', g.alpn ?? 'none');
  s += row('OCSP staple', yes(g.ocspStapled));
  s += row('Resumption', `tickets ${yes(g.resumption.tickets)}, session ids ${yes(g.resumption.sessionIds)}`);
  if (g.withoutSni)
    s += row('No SNI', g.withoutSni.handshake ? (g.withoutSni.sameCertificate ? 'same certificate' : 'another certificate') : 'handshake fails');
  s += row('HSTS', g.http ? (g.http.hsts ?? 'none') : 'not an HTTP server');
  s += '\n';
  for (const f of g.findings) {
    const mark = f.severity === 'error' ? p.red('✗') : f.severity === 'warning' ? p.yellow('!') : p.dim('i');
    s += `${mark} ${f.code}  ${f.what}\n  fix: ${f.fix}\n`;
  }
  const errors = g.findings.filter((f) => f.severity === 'error').length;
  const warnings = g.findings.filter((f) => f.severity === 'warning').length;
  s += `grade: ${errors ? p.red(`${errors} error${errors === 1 ? '' : 's'}`) : p.green('no errors')}, ${warnings} warning${warnings === 1 ? '' : 's'}\n`;
  return s;
}
