/**
 * @module cli/commands/resources
 * `certgate resources list|show|add|remove|export|import|pin|test`.
 */
import { isIP } from 'node:net';
import { resolve } from 'node:path';
import YAML from 'yaml';
import { parseTarget } from '../../diagnostics/inspect.ts';
import { probe } from '../../diagnostics/probe.ts';
import { CertgateError, type ErrorCode } from '../../errors.ts';
import { decodeCertificate, toPem } from '../../pki/certificate.ts';
import { parseInput } from '../../pki/parse.ts';
import { getResource, loadResources, removeResource, saveResource, saveResources, toDocument } from '../../profiles/registry.ts';
import { readSecret, resolveTls } from '../../profiles/resolve.ts';
import { KINDS, MODES, type Resource, validateResource } from '../../profiles/schema.ts';
import { testResource } from '../../profiles/test.ts';
import { parseDocs } from '../../text/parse-doc.ts';
import { createTrustStore } from '../../trust/store.ts';
import { parse, positiveInt, readInput } from '../args.ts';
import { palette } from '../color.ts';
import type { Io } from '../io.ts';
import { dataPathsFor } from '../settings/load.ts';

export const usage = `certgate resources <command> [--data DIR]
  list [--json]                          every resource, its kind, target and TLS mode
  show NAME [--json]                     one resource as stored, and what its profile resolves to
  add NAME --kind ${KINDS.join('|')} (--host HOST [--port N] | --url URL)
      [--mode ${MODES.join('|')}] [--ca FILE]... [--pin-cert FILE] [--servername NAME]
      [--client-cert FILE --client-key FILE | --client-key-env VAR] [--user U] [--password-env VAR | --password-file PATH]
      [--database DB] [--replica-set RS] [--replace]
  remove NAME
  pin NAME --from HOST[:PORT] [--yes]    pin the certificate the server presents now (mode pinned)
  test NAME [--json] [--timeout MS]      DNS, TCP, TLS, authentication, topology: each with a verdict
  export                                 every resource as YAML, safe to commit
  import FILE [--replace]                resources from YAML (one or many documents) or JSON; all or nothing`;

function paths(io: Io, data: unknown) {
  return dataPathsFor({ data }, io);
}

function one(positionals: string[], what = 'NAME'): string {
  if (positionals.length !== 1)
    throw new CertgateError('E_USAGE', positionals.length ? 'give one resource name' : `${what} is missing`, `usage: ${usage.split('\n')[0]}`);
  return positionals[0] as string;
}

async function list(argv: string[], io: Io): Promise<number> {
  const { values } = parse(argv, { data: { type: 'string' }, json: { type: 'boolean' } }, usage);
  const p = paths(io, values.data);
  const { resources, problems } = await loadResources(p.resources);
  if (values.json) {
    io.out(
      `${JSON.stringify({ dir: p.resources, resources: resources.map((r) => ({ name: r.name, kind: r.kind, host: r.host, port: r.port, mode: r.tls.mode })), problems }, null, 2)}\n`,
    );
  } else {
    const c = palette(io);
    io.out(`resources: ${p.resources} (${resources.length})\n`);
    for (const r of resources)
      io.out(`  ${r.name.padEnd(24)} ${r.kind.padEnd(9)} ${`${r.host}:${r.port}`.padEnd(32)} ${r.tls.mode === 'skip' ? c.yellow('skip') : r.tls.mode}\n`);
    for (const pr of problems) io.out(`${c.red('✗')} ${pr.code}: ${pr.message}\n  fix: ${pr.fix}\n`);
  }
  return problems.length ? 1 : 0;
}

async function show(argv: string[], io: Io): Promise<number> {
  const { values, positionals } = parse(argv, { data: { type: 'string' }, json: { type: 'boolean' } }, usage);
  const p = paths(io, values.data);
  const r = await getResource(p.resources, one(positionals));
  const trust = createTrustStore({ dir: p.caCerts, watch: false });
  await trust.start();
  const t = resolveTls(r, { trustCa: trust.current().ca, env: io.env, baseDir: p.resources });
  const summary = {
    mode: t.mode,
    servername: t.servername ?? null,
    trustedCertificates: t.ca.length,
    pinnedFingerprints: t.pinnedFingerprints,
    spkiPins: t.spkiPins,
    clientCertificate: t.cert ? decodeCertificate(parseInput(Buffer.from(t.cert)).certificates[0]?.der ?? Buffer.alloc(0)).info.subject : null,
    warning: t.warning,
  };
  if (values.json) io.out(`${JSON.stringify({ resource: toDocument(r), resolved: summary }, null, 2)}\n`);
  else {
    io.out(YAML.stringify(toDocument(r), { lineWidth: 0 }));
    io.out(
      `# resolves to: mode ${t.mode}, ${t.ca.length} trusted certificate(s)${t.servername ? `, servername ${t.servername}` : ''}${t.cert ? `, client certificate ${summary.clientCertificate}` : ''}\n`,
    );
    if (t.mode === 'verify-ca') io.out('# verify-ca: any certificate from the same CA passes, whatever name it carries\n');
    if (t.warning) io.out(`# ${palette(io).yellow('warning')}: ${t.warning}\n`);
  }
  return 0;
}

async function add(argv: string[], io: Io): Promise<number> {
  const { values, positionals } = parse(
    argv,
    {
      data: { type: 'string' },
      kind: { type: 'string' },
      host: { type: 'string' },
      port: { type: 'string' },
      url: { type: 'string' },
      mode: { type: 'string' },
      ca: { type: 'string', multiple: true },
      'pin-cert': { type: 'string' },
      servername: { type: 'string' },
      'client-cert': { type: 'string' },
      'client-key': { type: 'string' },
      'client-key-env': { type: 'string' },
      user: { type: 'string' },
      'password-env': { type: 'string' },
      'password-file': { type: 'string' },
      database: { type: 'string' },
      'replica-set': { type: 'string' },
      replace: { type: 'boolean' },
    },
    usage,
  );
  const name = one(positionals);
  // Either of each pair used to win silently over the other (a password reference dropped).
  for (const [a, b, fix] of [
    ['password-env', 'password-file', 'give the password one way: --password-env VAR or --password-file PATH'],
    ['url', 'host', 'give --url URL (https resources) or --host HOST [--port N], not both'],
    ['client-key', 'client-key-env', 'give the client key one way: --client-key FILE or --client-key-env VAR'],
  ] as const) {
    if (values[a] !== undefined && values[b] !== undefined)
      throw new CertgateError('E_USAGE', `--${a} and --${b} both given; they say the same thing two ways`, fix);
  }
  const p = paths(io, values.data);
  const tls: Record<string, unknown> = {};
  if (values.mode) tls.mode = values.mode;
  const cas: string[] = [];
  for (const file of (values.ca as string[] | undefined) ?? []) {
    for (const cert of parseInput(await readInput(io, file), { source: file }).certificates) {
      if (cert.info.basicConstraints?.ca !== true) {
        throw new CertgateError(
          'E_TRUST_LEAF',
          `${file} holds "${cert.info.subjectCommonName ?? cert.info.subject}", a server's own certificate, not a CA`,
          `pin it instead: --mode pinned --pin-cert ${file}`,
        );
      }
      cas.push(toPem(cert));
    }
  }
  if (cas.length) tls.ca = cas.length === 1 ? cas[0] : cas;
  if (values['pin-cert']) {
    const file = values['pin-cert'] as string;
    const cert = parseInput(await readInput(io, file), { source: file }).certificates[0];
    if (!cert) throw new CertgateError('E_NOT_CERTIFICATE', `${file} holds no certificate`, 'pass the server certificate to pin');
    tls.pinnedCert = toPem(cert);
    tls.mode ??= 'pinned';
  }
  if (values.servername) tls.servername = values.servername;
  if (values['client-cert']) {
    const file = values['client-cert'] as string;
    const cert = parseInput(await readInput(io, file), { source: file }).certificates[0];
    if (!cert) throw new CertgateError('E_NOT_CERTIFICATE', `${file} holds no certificate`, 'pass the client certificate');
    tls.clientCert = toPem(cert);
  }
  if (values['client-key']) tls.clientKey = { file: resolve(io.cwd, values['client-key'] as string) };
  if (values['client-key-env']) tls.clientKey = { env: values['client-key-env'] };
  const doc: Record<string, unknown> = { name, kind: values.kind, tls };
  if (values.host) doc.host = values.host;
  if (values.port) doc.port = positiveInt(values.port as string, '--port', 443);
  if (values.url) doc.url = values.url;
  if (values.user) doc.user = values.user;
  if (values.database) doc.database = values.database;
  if (values['replica-set']) doc.replicaSet = values['replica-set'];
  if (values['password-env']) doc.password = { env: values['password-env'] };
  if (values['password-file']) doc.password = { file: resolve(io.cwd, values['password-file'] as string) };
  const r = validateResource(doc, `resource ${name}`, name);
  // Resolve once now: a missing key file or a key that does not match is said today, not at 3 a.m.
  resolveTls(r, { trustCa: [], env: io.env, baseDir: p.resources });
  const path = await saveResource(p.resources, r, { replace: Boolean(values.replace) });
  io.out(`+ ${r.name}: ${r.kind} ${r.host}:${r.port}, mode ${r.tls.mode} → ${path}\n`);
  if (r.tls.mode === 'verify-ca') io.out('  ! verify-ca: any certificate from the same CA passes, whatever name it carries; prefer full\n');
  if (r.tls.mode === 'skip') io.out('  ! skip: traffic is encrypted but the server is not authenticated; prefer pinned\n');
  return 0;
}

async function removeCmd(argv: string[], io: Io): Promise<number> {
  const { values, positionals } = parse(argv, { data: { type: 'string' } }, usage);
  const name = one(positionals);
  await removeResource(paths(io, values.data).resources, name);
  io.out(`- ${name} removed\n`);
  return 0;
}

async function exportCmd(argv: string[], io: Io): Promise<number> {
  const { values } = parse(argv, { data: { type: 'string' }, json: { type: 'boolean' } }, usage);
  const { resources, problems } = await loadResources(paths(io, values.data).resources);
  if (problems.length) {
    const first = problems[0];
    throw new CertgateError(
      (first?.code ?? 'E_RESOURCE_INVALID') as ErrorCode,
      problems.length === 1 ? (first?.message as string) : `${problems.length} problems in the resource files; the first: ${first?.message}`,
      first?.fix ?? 'fix them first',
    );
  }
  if (values.json) io.out(`${JSON.stringify(resources.map(toDocument), null, 2)}\n`);
  else io.out(resources.map((r) => YAML.stringify(toDocument(r), { lineWidth: 0 })).join('---\n'));
  return 0;
}

async function importCmd(argv: string[], io: Io): Promise<number> {
  const { values, positionals } = parse(argv, { data: { type: 'string' }, replace: { type: 'boolean' } }, usage);
  const file = one(positionals, 'FILE');
  const text = (await readInput(io, file)).toString('utf8');
  const docs = parseDocs(text, {
    source: file,
    code: 'E_RESOURCE_INVALID',
    format: file.endsWith('.json') || text.trimStart().startsWith('[') ? 'json' : 'yaml',
  }).flat();
  const p = paths(io, values.data);
  // Validate every document before writing any: all or nothing.
  const parsed = docs.filter((d) => d !== null).map((d, i) => validateResource(d, `${file} document ${i + 1}`, `resource-${i + 1}`));
  const current = await loadResources(p.resources);
  const existing = new Set([...current.resources.map((r) => r.name), ...current.problems.flatMap((x) => (x.name ? [x.name] : []))]);
  const clash = parsed.find((r) => existing.has(r.name));
  if (clash && !values.replace)
    throw new CertgateError('E_RESOURCE_EXISTS', `a resource named "${clash.name}" exists already; nothing was imported`, 'pass --replace to overwrite');
  const names = new Set<string>();
  for (const r of parsed) {
    if (names.has(r.name))
      throw new CertgateError('E_RESOURCE_INVALID', `${file}: the name "${r.name}" appears twice; nothing was imported`, 'give each resource its own name');
    names.add(r.name);
  }
  await saveResources(p.resources, parsed);
  io.out(`imported ${parsed.length} resource(s): ${parsed.map((r) => r.name).join(', ')}\n`);
  return 0;
}

async function pin(argv: string[], io: Io): Promise<number> {
  const { values, positionals } = parse(
    argv,
    { data: { type: 'string' }, from: { type: 'string' }, yes: { type: 'boolean', short: 'y' }, timeout: { type: 'string' }, servername: { type: 'string' } },
    usage,
  );
  const name = one(positionals);
  const p = paths(io, values.data);
  const r = await getResource(p.resources, name);
  const from = (values.from as string | undefined) ?? `${r.host}:${r.port}`;
  const { host, port } = parseTarget(from, r.port);
  const starttls = r.kind === 'postgres' ? 'postgres' : r.kind === 'mysql' ? 'mysql' : undefined;
  const servername = (values.servername as string | undefined) ?? r.tls.servername ?? (isIP(host) ? undefined : host);
  const result = await probe({
    host,
    port,
    timeoutMs: positiveInt(values.timeout as string | undefined, '--timeout', 10_000),
    ca: [],
    ...(servername ? { servername } : {}),
    ...(starttls ? { starttls } : {}),
  });
  const der = result.chain[0];
  if (!der)
    throw new CertgateError('E_TRUST_NOTHING', `${from} sent no certificate${result.error ? ` (${result.error.code})` : ''}`, `run certgate inspect ${from}`);
  const leaf = decodeCertificate(der);
  io.out(
    `${from} presents "${leaf.info.subjectCommonName ?? leaf.info.subject}" (${leaf.info.kind}), valid until ${leaf.info.notAfter.slice(0, 10)}\n  SHA-256 ${leaf.info.fingerprints.sha256}\n`,
  );
  if (!values.yes) {
    if (!io.prompt)
      throw new CertgateError(
        'E_CONFIRM',
        'not pinning without confirmation: standard input is not a terminal',
        'compare the SHA-256 above with the server, then pass --yes',
      );
    const answer = (await io.prompt('pin this certificate? [y/N] ')).trim().toLowerCase();
    if (answer !== 'y' && answer !== 'yes') throw new CertgateError('E_CONFIRM', 'not pinned: the answer was no', 'run again and answer y, or pass --yes');
  }
  const updated: Resource = { ...r, tls: { ...r.tls, mode: 'pinned', pinnedCert: toPem(leaf) } };
  await saveResource(p.resources, updated, { replace: true });
  io.out(`pinned: ${name} now trusts exactly this certificate (mode pinned)\n`);
  return 0;
}

async function test(argv: string[], io: Io): Promise<number> {
  const { values, positionals } = parse(argv, { data: { type: 'string' }, json: { type: 'boolean' }, timeout: { type: 'string' } }, usage);
  const p = paths(io, values.data);
  const r = await getResource(p.resources, one(positionals));
  const trust = createTrustStore({ dir: p.caCerts, watch: false });
  await trust.start();
  const ctx = { trustCa: trust.current().ca, env: io.env, baseDir: p.resources };
  const t = resolveTls(r, ctx);
  const password = r.password ? readSecret(r.password, 'password', r.name, ctx).replace(/\r?\n$/, '') : undefined;
  const result = await testResource(r, t, {
    timeoutMs: positiveInt(values.timeout as string | undefined, '--timeout', 10_000),
    ...(password !== undefined ? { password } : {}),
  });
  if (values.json) io.out(`${JSON.stringify(result, null, 2)}\n`);
  else {
    const c = palette(io);
    let s = `${r.name}: ${r.kind} ${result.target}, mode ${result.mode}\n`;
    if (result.warning) s += `${c.yellow('!')} ${result.warning}\n`;
    for (const l of result.layers) {
      const mark = l.status === 'ok' ? c.green('✓') : l.status === 'warn' ? c.yellow('!') : l.status === 'fail' ? c.red('✗') : c.dim('-');
      s += `${mark} ${l.layer.padEnd(9)}${l.code ? `${l.code}: ` : ''}${l.message}${l.ms !== null ? c.dim(`  (${l.ms} ms)`) : ''}\n`;
      if (l.fix && l.status !== 'ok' && l.status !== 'skipped') s += `  ${' '.repeat(9)}fix: ${l.fix}\n`;
      for (const f of (l.findings ?? []).filter((x) => x.severity !== 'info' && x.message !== l.message))
        s += `  ${' '.repeat(9)}${f.severity === 'error' ? c.red('✗') : c.yellow('!')} ${f.code} ${f.message}\n  ${' '.repeat(9)}  fix: ${f.fix}\n`;
    }
    s += `resources test: ${result.status === 'ok' ? c.green('OK') : result.status === 'warn' ? c.yellow('OK with warnings') : c.red('FAILED')}\n`;
    io.out(s);
  }
  return result.status === 'fail' ? 1 : 0;
}

export async function resources(argv: string[], io: Io): Promise<number> {
  const [sub, ...rest] = argv;
  const commands: Record<string, (a: string[], i: Io) => Promise<number>> = {
    list,
    show,
    add,
    remove: removeCmd,
    export: exportCmd,
    import: importCmd,
    pin,
    test,
  };
  const command = sub ? commands[sub] : undefined;
  if (!command) throw new CertgateError('E_USAGE', sub ? `unknown resources command "${sub}"` : 'resources needs a command', `usage: ${usage}`);
  return command(rest, io);
}
