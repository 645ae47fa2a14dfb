/**
 * @module cli/commands/inspect
 * `certgate inspect HOST[:PORT]` and `certgate verify --ca BUNDLE URL`: a live chain, decoded,
 * verified and explained.
 */

import type { GradeReport } from '../../diagnostics/grade/index.ts';
import { type InspectOptions, type InspectResult, inspect } from '../../diagnostics/inspect.ts';
import { STARTTLS_PROTOCOLS, type StartTlsProtocol } from '../../diagnostics/starttls.ts';
import { CertgateError } from '../../errors.ts';
import type { Certificate } from '../../pki/certificate.ts';
import { parseCertificates, parseInput } from '../../pki/parse.ts';
import { type Options, parse, positiveInt, readInput, readPassword } from '../args.ts';
import { palette } from '../color.ts';
import type { Io } from '../io.ts';
import { ARROW, certificateBlock, findingsBlock } from '../render.ts';
import { renderGrade, runGrade } from './grade-section.ts';

export const inspectUsage =
  'certgate inspect HOST[:PORT] [--servername NAME] [--starttls postgres|mysql|smtp] [--ca FILE]... [--no-system-roots] [--client-cert FILE --client-key FILE] [--fetch-missing] [--seclevel N] [--timeout MS] [--grade] [--json]';
export const verifyUsage = 'certgate verify --ca BUNDLE URL|HOST[:PORT] [--servername NAME] [--starttls ...] [--timeout MS] [--json]';

const OPTIONS: Options = {
  json: { type: 'boolean' },
  servername: { type: 'string' },
  starttls: { type: 'string' },
  ca: { type: 'string', multiple: true },
  'no-system-roots': { type: 'boolean' },
  'client-cert': { type: 'string' },
  'client-key': { type: 'string' },
  'password-file': { type: 'string' },
  'fetch-missing': { type: 'boolean' },
  timeout: { type: 'string' },
  seclevel: { type: 'string' },
  grade: { type: 'boolean' },
};

async function loadCas(io: Io, files: string[]): Promise<Certificate[]> {
  const out: Certificate[] = [];
  for (const f of files) out.push(...parseCertificates(await readInput(io, f), { source: f }));
  return out;
}

async function clientPem(
  io: Io,
  certFile: string | undefined,
  keyFile: string | undefined,
  password: string | undefined,
): Promise<{ cert?: string; key?: string }> {
  if (!certFile && !keyFile) return {};
  if (!certFile || !keyFile) throw new CertgateError('E_USAGE', '--client-cert and --client-key go together', 'pass both, or neither');
  const cert = await readInput(io, certFile);
  const leaf = parseCertificates(cert, { source: certFile })[0];
  const keyBytes = await readInput(io, keyFile);
  const parsed = parseInput(keyBytes, { source: keyFile, ...(password !== undefined ? { password } : {}) });
  const key = parsed.keys[0];
  if (!key) throw new CertgateError('E_KEY_MALFORMED', `${keyFile} holds no private key`, 'pass the client private key file (PEM)');
  // TLS would fail deep inside OpenSSL ("key values mismatch"); say which files disagree.
  if (leaf && leaf.info.spkiSha256 !== key.info.spkiSha256) {
    throw new CertgateError(
      'E_KEY_MISMATCH',
      `the key in ${keyFile} does not belong to the certificate in ${certFile} ("${leaf.info.subjectCommonName ?? leaf.info.subject}")`,
      'pass the key the client certificate was issued for (certgate decode CERT KEY shows whether they match)',
    );
  }
  return { cert: cert.toString('utf8'), key: key.key.export({ type: 'pkcs8', format: 'pem' }) as string };
}

function securityLevel(text: string): number {
  const n = Number(text);
  if (!/^[0-5]$/.test(text))
    throw new CertgateError('E_USAGE', `--seclevel must be 0 to 5, got "${text}"`, "use --seclevel 2 to check as Debian's curl and Python do");
  return n;
}

export interface StoreTrust {
  ca: Certificate[];
  label: string;
}

/**
 * The shared core of inspect, verify and trust verify. `store` adds the trust store's
 * certificates (trust verify); `verify` trusts only --ca, like curl --cacert.
 */
export async function runInspect(
  argv: string[],
  io: Io,
  mode: 'inspect' | 'verify',
  usage: string,
  extraOptions: Options = {},
  store?: (values: Record<string, unknown>) => Promise<StoreTrust>,
): Promise<number> {
  const { values, positionals } = parse(argv, { ...OPTIONS, ...extraOptions }, usage);
  if (positionals.length !== 1) throw new CertgateError('E_USAGE', positionals.length ? 'give one target' : 'no target given', `usage: ${usage}`);
  const caFiles = (values.ca as string[] | undefined) ?? [];
  if (mode === 'verify' && !store && caFiles.length === 0)
    throw new CertgateError('E_USAGE', 'verify needs --ca BUNDLE (the bundle to test)', `usage: ${usage}`);
  const starttls = values.starttls as string | undefined;
  if (starttls !== undefined && !STARTTLS_PROTOCOLS.includes(starttls as StartTlsProtocol)) {
    throw new CertgateError('E_USAGE', `--starttls ${starttls} is not supported`, `use one of: ${STARTTLS_PROTOCOLS.join(', ')}`);
  }
  const password = await readPassword(io, values['password-file'] as string | undefined);
  const fromStore = store ? await store(values) : null;
  const ca = [...(fromStore?.ca ?? []), ...(await loadCas(io, caFiles))];
  const client = await clientPem(io, values['client-cert'] as string | undefined, values['client-key'] as string | undefined, password);
  const options: InspectOptions = {
    timeoutMs: positiveInt(values.timeout as string | undefined, '--timeout', 10_000, 600_000),
    ca,
    caLabel: [fromStore?.label, ...caFiles.map((f) => `--ca ${f}`)].filter(Boolean).join(' + '),
    // verify --ca trusts the bundle alone: what is missing belongs in it.
    ...(mode === 'verify' && !store ? { bundle: caFiles } : {}),
    systemRoots: (mode === 'inspect' || Boolean(store)) && !values['no-system-roots'],
    fetchMissing: Boolean(values['fetch-missing']),
    ...(values.seclevel !== undefined ? { securityLevel: securityLevel(values.seclevel as string) } : {}),
    ...(values.servername ? { servername: values.servername as string } : {}),
    ...(starttls ? { starttls: starttls as StartTlsProtocol } : {}),
    ...(client.cert ? { clientCert: client.cert, clientKey: client.key } : {}),
  };
  const grade = mode === 'inspect' && Boolean(values.grade);
  if (grade && starttls) throw new CertgateError('E_USAGE', '--grade works on direct TLS ports, not with --starttls', 'drop --starttls, or --grade');
  const result = await inspect(positionals[0] as string, options);
  // The grade needs a TLS server. One that refused Node's default handshake (only TLS 1.0, no
  // common suite) is graded too: that is where the grade says why.
  const tlsServer =
    result.tls !== null || result.findings.some((f) => f.code === 'PROTOCOL_MISMATCH' || f.code === 'HANDSHAKE_FAILED' || f.code === 'SECURITY_LEVEL');
  const graded = grade && tlsServer ? await gradeFor(result, options) : null;
  if (values.json) io.out(`${JSON.stringify(grade ? { ...result, grade: graded } : result, null, 2)}\n`);
  else io.out(render(result, io, mode) + (graded ? renderGrade(graded, io) : ''));
  return result.status === 'fail' || graded?.findings.some((f) => f.severity === 'error') ? 1 : 0;
}

function gradeFor(r: InspectResult, o: InspectOptions): Promise<GradeReport> {
  return runGrade(
    { host: r.target.host, port: r.target.port },
    {
      ...(r.target.servername ? { servername: r.target.servername } : {}),
      ...(o.ca ? { ca: o.ca } : {}),
      systemRoots: o.systemRoots !== false,
      ...(o.timeoutMs ? { timeoutMs: Math.min(o.timeoutMs, 5_000) } : {}),
    },
  );
}

function render(r: InspectResult, io: Io, mode: 'inspect' | 'verify'): string {
  const p = palette(io);
  const now = new Date();
  const t = r.target;
  let s = `${'Target'.padEnd(11)}${t.host}:${t.port}${t.address ? ` (${t.address})` : ''}${t.servername ? `, SNI ${t.servername}` : ''}${t.starttls ? `, STARTTLS ${t.starttls}` : ''}\n`;
  if (r.tls) {
    s += `${'TLS'.padEnd(11)}${r.tls.protocol ?? '?'}  ${r.tls.cipher ?? ''}${r.tls.alpn ? `  ALPN ${r.tls.alpn}` : ''}  ${r.tls.handshakeMs} ms\n`;
    s += `${'Chain'.padEnd(11)}${r.chain.length} certificate${r.chain.length === 1 ? '' : 's'} ${r.tls.chainSource === 'wire' ? 'as the server sent them' : 'as OpenSSL ordered them (the server refused TLS 1.2, so the sent order is unknown)'}\n`;
  }
  s += `${'Trust'.padEnd(11)}${r.verification.trust}\n\n`;
  if (mode === 'inspect' || r.status !== 'ok') {
    r.chain.forEach((c, i) => {
      if (i > 0) s += r.chain[i - 1]?.issuedBy === i ? ARROW : '\n';
      s += certificateBlock(c, c.index, p, now);
    });
    for (const f of r.fetched) s += `\n${certificateBlock(f, f.index, p, now, '  (fetched via AIA)')}`;
    if (r.chain.length) s += '\n';
  }
  const v = r.verification;
  if (v.trusted && v.hostnameMatches) s += `${p.green('✓')} trusted chain, and the certificate is valid for ${t.servername ?? t.host}\n`;
  else if (v.trusted) s += `${p.green('✓')} trusted chain\n`;
  s += findingsBlock(r.findings, p);
  const verdict = r.status === 'ok' ? p.green('OK') : r.status === 'warn' ? p.yellow('OK with warnings') : p.red('FAILED');
  s += `${mode === 'verify' ? 'verify' : 'inspect'}: ${verdict}\n`;
  return s;
}

export function inspectCommand(argv: string[], io: Io): Promise<number> {
  return runInspect(argv, io, 'inspect', inspectUsage);
}

export function verifyCommand(argv: string[], io: Io): Promise<number> {
  return runInspect(argv, io, 'verify', verifyUsage);
}
