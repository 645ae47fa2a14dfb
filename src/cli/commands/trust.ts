/**
 * @module cli/commands/trust
 * `certgate trust add|list|remove|verify|export|env`: the ca-certs store.
 */

import { existsSync } from 'node:fs';
import { isIP } from 'node:net';
import { dirname, resolve } from 'node:path';
import { fetchIssuer } from '../../diagnostics/aia.ts';
import { reachFlags, trustLocalCa } from '../../diagnostics/explain.ts';
import { parseTarget } from '../../diagnostics/inspect.ts';
import { probe } from '../../diagnostics/probe.ts';
import { DEFAULT_PORTS, STARTTLS_PROTOCOLS, type StartTlsProtocol } from '../../diagnostics/starttls.ts';
import { CertgateError } from '../../errors.ts';
import { atomicWrite } from '../../fsutil.ts';
import { type Certificate, decodeCertificate } from '../../pki/certificate.ts';
import { analyzeChain, isCertgateLocalCaName } from '../../pki/chain.ts';
import { parseInput } from '../../pki/parse.ts';
import { envVariables, exportBundle, javaCommands, leftOutNote, unexpired, writeEnvFiles, writeOpensslDir } from '../../trust/export.ts';
import { loadCaDir } from '../../trust/load.ts';
import { addToDir, listDir, removeFromDir } from '../../trust/manage.ts';
import { createTrustStore } from '../../trust/store.ts';
import { type Judgement, judge, pickIssuingCa } from '../../trust/validate.ts';
import { parse, positiveInt, readInput, readPassword } from '../args.ts';
import { palette } from '../color.ts';
import type { Io } from '../io.ts';
import { dataPathsFor } from '../settings/load.ts';
import { runInspect } from './inspect.ts';

export const usage = `certgate trust <command> [--data DIR]
  add FILE... [--yes]                   validate and add CA certificates to ca-certs
  add --from HOST[:PORT] [--yes] [--starttls postgres|mysql|smtp] [--servername NAME]
                                        add the issuing CA of a live server (not its own certificate)
  list [--json]                         the certificates in ca-certs, with expiry
  remove FINGERPRINT|FILE|CN [--all]    remove from ca-certs
  verify URL|HOST[:PORT]                verify a server against the trust store, with explanations
  export [--format pem|openssl-dir] [--out PATH] [--no-system-roots]
  env [--json]                          the variables that point Node, OpenSSL, curl, Python, Git and Java at the store`;

function paths(io: Io, data: unknown) {
  return dataPathsFor({ data }, io);
}

function name(c: Certificate): string {
  return c.info.subjectCommonName ?? c.info.subject;
}

async function confirm(io: Io, yes: boolean, question: string): Promise<void> {
  if (yes) return;
  if (!io.prompt)
    throw new CertgateError('E_CONFIRM', 'not adding without confirmation: standard input is not a terminal', 'pass --yes to add without asking (scripts)');
  const answer = (await io.prompt(`${question} [y/N] `)).trim().toLowerCase();
  if (answer !== 'y' && answer !== 'yes') throw new CertgateError('E_CONFIRM', 'not added: the answer was no', 'run again and answer y, or pass --yes');
}

async function add(argv: string[], io: Io): Promise<number> {
  const { values, positionals } = parse(
    argv,
    {
      data: { type: 'string' },
      from: { type: 'string' },
      yes: { type: 'boolean', short: 'y' },
      json: { type: 'boolean' },
      servername: { type: 'string' },
      starttls: { type: 'string' },
      timeout: { type: 'string' },
      'password-file': { type: 'string' },
    },
    usage,
  );
  const p = paths(io, values.data);
  const from = values.from as string | undefined;
  if (!from && positionals.length === 0) throw new CertgateError('E_USAGE', 'nothing to add', 'pass FILE... or --from HOST[:PORT]');
  if (from && positionals.length) throw new CertgateError('E_USAGE', 'pass files or --from, not both', `usage: ${usage}`);
  const candidates: Array<{ cert: Certificate; source: string }> = [];
  const refusedKeys: string[] = [];
  const notes: string[] = [];
  if (from) {
    const starttls = values.starttls as string | undefined;
    if (starttls && !STARTTLS_PROTOCOLS.includes(starttls as StartTlsProtocol))
      throw new CertgateError('E_USAGE', `--starttls ${starttls} is not supported`, `use one of: ${STARTTLS_PROTOCOLS.join(', ')}`);
    const { host, port } = parseTarget(from, DEFAULT_PORTS[(starttls as StartTlsProtocol) ?? 'tls']);
    const timeoutMs = positiveInt(values.timeout as string | undefined, '--timeout', 10_000);
    const servername = (values.servername as string | undefined) ?? (isIP(host) ? undefined : host);
    const given = { ...(starttls ? { starttls } : {}), ...(values.servername ? { servername: values.servername as string } : {}) };
    const again = `${from}${reachFlags(given)}`;
    const result = await probe({
      host,
      port,
      timeoutMs,
      ca: [],
      ...(servername ? { servername } : {}),
      ...(starttls ? { starttls: starttls as StartTlsProtocol } : {}),
    });
    if (result.chain.length === 0) {
      throw new CertgateError(
        'E_TRUST_NOTHING',
        `${from} sent no certificate${result.error ? ` (${result.error.code})` : ''}`,
        `run certgate inspect ${again} to see why`,
      );
    }
    const chain = result.chain.map((der) => decodeCertificate(der));
    const pick = pickIssuingCa(chain, analyzeChain(chain).path);
    if (pick.selfSignedLeaf) {
      throw new CertgateError(
        'E_TRUST_LEAF',
        `${pick.why}; adding it to ca-certs would be wrong`,
        `pin it on the resource instead: certgate resources pin NAME --from ${from}${reachFlags(given, { starttls: false })}`,
      );
    }
    let chosen = pick.cert;
    let why = pick.why;
    if (!chosen && pick.missing) {
      for (const url of pick.missing.caIssuersUrls) {
        const fetched = await fetchIssuer(url, timeoutMs).catch(() => []);
        const root = fetched.find((c) => c.info.kind === 'root');
        if (root) {
          chosen = root;
          why = `${pick.why}; fetched "${name(root)}" from ${url} (the AIA CA Issuers URL)`;
          break;
        }
      }
      if (!chosen && isCertgateLocalCaName(pick.missing.fullName)) {
        throw new CertgateError(
          'E_TRUST_ROOT_MISSING',
          `${pick.why}: "${pick.missing.name}" is certgate's local CA, which is never sent and has no AIA URL`,
          trustLocalCa(),
        );
      }
      if (!chosen) {
        throw new CertgateError(
          'E_TRUST_ROOT_MISSING',
          `${pick.why}, and it could not be fetched`,
          `get the root "${pick.missing.name}" from whoever runs this CA (e.g. your PKI team) and run certgate trust add FILE`,
        );
      }
    }
    if (!chosen) throw new CertgateError('E_TRUST_NOTHING', pick.why, `run certgate inspect ${again}`);
    notes.push(`picked: ${why}`);
    candidates.push({ cert: chosen, source: from });
  } else {
    const password = await readPassword(io, values['password-file'] as string | undefined);
    for (const file of positionals) {
      const parsed = parseInput(await readInput(io, file), { source: file, ...(password !== undefined ? { password } : {}) });
      for (const cert of parsed.certificates) candidates.push({ cert, source: file });
      if (parsed.keys.length) refusedKeys.push(file);
    }
  }
  const existing = (await loadCaDir(p.caCerts)).entries.map((e) => e.cert);
  const judged = judge(candidates, { existing, systemRoots: true });
  const toAdd = judged.filter((j) => j.action === 'add');
  const c = palette(io);
  if (!values.json) for (const n of notes) io.out(`${n}\n`);
  if (from && toAdd.length)
    await confirm(
      io,
      Boolean(values.yes),
      `add "${name(toAdd[0]?.cert as Certificate)}" (SHA-256 ${toAdd[0]?.cert.info.fingerprints.sha256}) to ${p.caCerts}?`,
    );
  const files = toAdd.length
    ? await addToDir(
        p.caCerts,
        toAdd.map((j) => j.cert),
      )
    : [];
  const view = (j: Judgement, file?: string) => ({
    source: j.source,
    subject: j.cert.info.subject,
    sha256: j.cert.info.fingerprints.sha256,
    kind: j.cert.info.kind,
    notAfter: j.cert.info.notAfter,
    code: j.code,
    reason: j.reason,
    fix: j.fix,
    warnings: j.warnings,
    ...(file ? { file } : {}),
  });
  const refused = judged.filter((j) => j.action === 'refuse');
  if (values.json) {
    io.out(
      `${JSON.stringify(
        {
          dir: p.caCerts,
          added: toAdd.map((j, i) => view(j, files[i])),
          skipped: judged.filter((j) => j.action === 'skip').map((j) => view(j)),
          refused: refused.map((j) => view(j)),
          keysRefused: refusedKeys,
        },
        null,
        2,
      )}\n`,
    );
  } else {
    toAdd.forEach((j, i) => {
      io.out(`${c.green('+')} added ${files[i]}: ${j.reason}\n`);
      for (const w of j.warnings) io.out(`  ${c.yellow('!')} ${w}\n`);
    });
    for (const j of judged.filter((x) => x.action === 'skip')) io.out(`${c.dim('=')} skipped: ${j.reason}\n`);
    for (const j of refused) io.out(`${c.red('✗')} refused ${j.code}: ${j.reason}\n  fix: ${j.fix}\n`);
    for (const f of refusedKeys)
      io.out(
        `${c.red('✗')} refused E_TRUST_KEY: ${f} holds a private key; it was not copied\n  fix: ca-certs takes CA certificates only; keep the key where only the server reads it\n`,
      );
    if (toAdd.length) io.out(`ca-certs: ${p.caCerts} (a running certgate picks this up within 2 seconds)\n`);
  }
  return refused.length || refusedKeys.length ? 1 : 0;
}

async function list(argv: string[], io: Io): Promise<number> {
  const { values } = parse(argv, { data: { type: 'string' }, json: { type: 'boolean' } }, usage);
  const p = paths(io, values.data);
  const { entries, problems } = await listDir(p.caCerts);
  if (values.json) {
    io.out(
      `${JSON.stringify(
        {
          dir: p.caCerts,
          certificates: entries.map((e) => ({
            file: e.file,
            subject: e.cert.info.subject,
            kind: e.cert.info.kind,
            notAfter: e.cert.info.notAfter,
            daysLeft: e.cert.info.daysLeft,
            sha256: e.cert.info.fingerprints.sha256,
          })),
          problems,
        },
        null,
        2,
      )}\n`,
    );
  } else {
    const c = palette(io);
    io.out(`ca-certs: ${p.caCerts} (${entries.length} certificate${entries.length === 1 ? '' : 's'})\n`);
    for (const e of entries) {
      const d = e.cert.info.daysLeft;
      const left = d < 0 ? c.red(`expired ${-d} days ago`) : d < 30 ? c.yellow(`${d} days left`) : c.green(`${d} days left`);
      io.out(
        `  ${e.file.padEnd(40)} ${name(e.cert).padEnd(36)} ${e.cert.info.notAfter.slice(0, 10)} (${left})  ${e.cert.info.fingerprints.sha256.slice(0, 23)}…\n`,
      );
    }
    for (const pr of problems) io.out(`${c.red('✗')} ${pr.code}: ${pr.message}\n  fix: ${pr.fix}\n`);
  }
  return problems.length ? 1 : 0;
}

async function remove(argv: string[], io: Io): Promise<number> {
  const { values, positionals } = parse(argv, { data: { type: 'string' }, all: { type: 'boolean' }, json: { type: 'boolean' } }, usage);
  if (positionals.length !== 1) throw new CertgateError('E_USAGE', 'name one certificate to remove', 'certgate trust remove FINGERPRINT|FILE|CN');
  const p = paths(io, values.data);
  const removed = await removeFromDir(p.caCerts, positionals[0] as string, { all: Boolean(values.all) });
  if (values.json)
    io.out(
      `${JSON.stringify({ removed: removed.map((e) => ({ file: e.file, subject: e.cert.info.subject, sha256: e.cert.info.fingerprints.sha256 })) }, null, 2)}\n`,
    );
  else for (const e of removed) io.out(`- removed "${name(e.cert)}" (${e.file})\n`);
  return 0;
}

async function verify(argv: string[], io: Io): Promise<number> {
  return runInspect(
    argv,
    io,
    'verify',
    'certgate trust verify URL|HOST[:PORT] [--no-system-roots] [--servername NAME] [--starttls ...] [--json]',
    { data: { type: 'string' } },
    async (values) => {
      const p = paths(io, values.data);
      const { entries } = await loadCaDir(p.caCerts);
      return { ca: entries.map((e) => e.cert), label: `ca-certs (${entries.length} in ${p.caCerts})` };
    },
  );
}

async function loadSet(io: Io, data: unknown, systemRoots: boolean) {
  const p = paths(io, data);
  const store = createTrustStore({ dir: p.caCerts, systemRoots, watch: false });
  const set = await store.start();
  await store.close();
  return { p, set };
}

async function exportCmd(argv: string[], io: Io): Promise<number> {
  const { values } = parse(
    argv,
    { data: { type: 'string' }, format: { type: 'string' }, out: { type: 'string' }, 'no-system-roots': { type: 'boolean' } },
    usage,
  );
  const format = (values.format as string | undefined) ?? 'pem';
  if (format !== 'pem' && format !== 'openssl-dir')
    throw new CertgateError('E_USAGE', `--format ${format} is not supported`, 'use --format pem or --format openssl-dir');
  const { set } = await loadSet(io, values.data, !values['no-system-roots']);
  const out = values.out as string | undefined;
  // --out names a file (or, openssl-dir, a directory) whose parent exists: a typo in the path
  // must not create a tree of directories somewhere unexpected.
  if (out && !existsSync(dirname(resolve(io.cwd, out))))
    throw new CertgateError(
      'E_FILE_NOT_FOUND',
      `--out ${out}: the directory ${dirname(out)} does not exist`,
      `create it first (mkdir -p ${dirname(out)}), or check the path`,
    );
  if (format === 'openssl-dir') {
    if (!out) throw new CertgateError('E_USAGE', '--format openssl-dir needs --out DIR', 'e.g. --out /etc/certgate/certs');
    const { pems, expired } = unexpired(set.ca);
    const n = await writeOpensslDir(pems, resolve(io.cwd, out));
    io.err(`wrote ${certificates(n)} and their hash links to ${out}\n`);
    if (expired.length) io.err(`${leftOutNote(expired)}\n`);
    return 0;
  }
  const bundle = exportBundle(set);
  if (out) {
    await atomicWrite(resolve(io.cwd, out), bundle.pem);
    io.err(`wrote ${certificates(bundle.count)} to ${out}\n`);
  } else io.out(bundle.pem);
  // On standard error: standard output may be the bundle itself.
  if (bundle.expired.length) io.err(`${leftOutNote(bundle.expired)}\n`);
  return 0;
}

async function env(argv: string[], io: Io): Promise<number> {
  const { values } = parse(argv, { data: { type: 'string' }, json: { type: 'boolean' }, 'no-system-roots': { type: 'boolean' } }, usage);
  const { p, set } = await loadSet(io, values.data, !values['no-system-roots']);
  const { expired, ...files } = await writeEnvFiles(set, p.generated);
  const vars = envVariables(files);
  const java = javaCommands(set, p.caCerts, io.env);
  if (values.json) {
    io.out(`${JSON.stringify({ variables: vars, java, files, expired }, null, 2)}\n`);
    return 0;
  }
  let s = `# certgate trust env: ${certificates(set.extra.length, 'CA certificate')} from ${p.caCerts}${values['no-system-roots'] ? '' : " plus Node's bundled roots"}\n`;
  if (expired.length) s += `# ${leftOutNote(expired)}\n`;
  s += '# eval "$(certgate trust env)" in a shell; or copy the lines into docker.env / values.yaml\n';
  for (const v of vars) s += `export ${v.name}=${shellQuote(v.value)}   # ${v.for}\n`;
  if (java.length) s += `# Java (keytool found):\n${java.map((j) => `# ${j}`).join('\n')}\n`;
  io.out(s);
  return 0;
}

/** "1 certificate", "2 certificates". */
function certificates(n: number, noun = 'certificate'): string {
  return `${n} ${noun}${n === 1 ? '' : 's'}`;
}

function shellQuote(v: string): string {
  return /^[A-Za-z0-9_./:-]+$/.test(v) ? v : `'${v.replace(/'/g, `'\\''`)}'`;
}

export async function trust(argv: string[], io: Io): Promise<number> {
  const [sub, ...rest] = argv;
  switch (sub) {
    case 'add':
      return add(rest, io);
    case 'list':
      return list(rest, io);
    case 'remove':
      return remove(rest, io);
    case 'verify':
      return verify(rest, io);
    case 'export':
      return exportCmd(rest, io);
    case 'env':
      return env(rest, io);
    default:
      throw new CertgateError('E_USAGE', sub ? `unknown trust command "${sub}"` : 'trust needs a command', `usage: ${usage}`);
  }
}
