/**
 * @module cli/run
 * The CLI core: `run(argv, io)` returns the exit code and never exits. 0 all good, 1 a problem
 * was found, 2 a usage or input error. Commands load lazily so `decode` starts fast.
 */
import { CertgateError } from '../errors.ts';
import { escapeControl } from '../text/excerpt.ts';
import type { Io } from './io.ts';

export const VERSION = '0.1.0';

const HELP = `certgate ${VERSION}: TLS that just works for self-hosted platforms

usage: certgate <command> [options]

commands:
  serve                   HTTPS in front of an app: certificates on demand, redirect, HSTS
  local-ca ...            the local CA that signs localhost certificates: export, path, env, install, uninstall
  decode [FILE...|-]      decode certificates, chains and keys (PEM, DER, PKCS#7, PKCS#12)
  inspect HOST[:PORT]     read a live chain, verify it, explain every problem
  verify --ca BUNDLE URL  check that BUNDLE alone verifies URL (like curl --cacert)
  trust ...               the ca-certs trust store: add, list, remove, verify, export, env
  issue [DOMAIN]          obtain a certificate over ACME now (--force: past the attempts limit)
  renew [--dry-run]       run a maintenance cycle now
  certs list|show         stored certificates, renewal windows, attempts, files
  domains list|add|remove the names certgate may obtain certificates for
  logs [DOMAIN]           the certificates log (--follow, --json)
  resources ...           outbound endpoints and their TLS profiles: list, show, add, remove, pin, test, export, import
  doctor                  check ports, DNS, CAA, email, proxy, redirects, HSTS, trust, certificates, storage, clock
  cluster status          the nodes sharing a PostgreSQL store: heartbeat, version, mixed versions
  admin token ...         admin API and dashboard tokens: create (shown once), list, revoke
  config check|show       validate the configuration (start nothing), or show the effective settings and their sources
  store copy|rekey|migrate  copy a store to another (no reissuing); move the private keys to a new store key; migrate a PostgreSQL schema
  version                 print the version

every command takes --json; run certgate <command> --help for its options.
exit codes: 0 ok, 1 a problem was found, 2 usage or input error.
`;

type Command = (argv: string[], io: Io) => Promise<number>;

/** `help` renders the command's options from its settings table; without it, the usage line. */
type Loaded = { command: Command; usage: string; help?: () => string };

// Each command's module is imported only when that command runs: `decode` starts fast.
const decode = () => import('./commands/decode.ts');
const inspect = () => import('./commands/inspect.ts');
const trust = () => import('./commands/trust.ts');
const acme = () => import('./commands/acme.ts');
const serve = () => import('./commands/serve.ts');
const resources = () => import('./commands/resources.ts');
const configCmd = () => import('./commands/config.ts');
const doctorCmd = () => import('./commands/doctor.ts');
const storeCmd = () => import('./commands/store.ts');
const clusterCmd = () => import('./commands/cluster.ts');
const adminCmd = () => import('./commands/admin.ts');

const COMMANDS: Record<string, () => Promise<Loaded>> = {
  decode: () => decode().then((m) => ({ command: m.decode, usage: m.usage })),
  inspect: () => inspect().then((m) => ({ command: m.inspectCommand, usage: m.inspectUsage })),
  verify: () => inspect().then((m) => ({ command: m.verifyCommand, usage: m.verifyUsage })),
  trust: () => trust().then((m) => ({ command: m.trust, usage: m.usage })),
  issue: () => acme().then((m) => ({ command: m.issue, usage: m.issueUsage, help: m.issueHelp })),
  renew: () => acme().then((m) => ({ command: m.renew, usage: m.renewUsage, help: m.renewHelp })),
  certs: () => acme().then((m) => ({ command: m.certs, usage: m.certsUsage })),
  domains: () => acme().then((m) => ({ command: m.domains, usage: m.domainsUsage })),
  logs: () => acme().then((m) => ({ command: m.logs, usage: m.logsUsage })),
  serve: () => serve().then((m) => ({ command: m.serve, usage: m.serveUsage, help: m.serveHelp })),
  config: () => configCmd().then((m) => ({ command: m.config, usage: m.configUsage, help: m.configHelp })),
  doctor: () => doctorCmd().then((m) => ({ command: m.doctor, usage: m.doctorUsage, help: m.doctorHelp })),
  'local-ca': () => serve().then((m) => ({ command: m.localCaCommand, usage: m.localCaUsage })),
  resources: () => resources().then((m) => ({ command: m.resources, usage: m.usage })),
  store: () => storeCmd().then((m) => ({ command: m.store, usage: m.storeUsage, help: m.storeHelp })),
  cluster: () => clusterCmd().then((m) => ({ command: m.cluster, usage: m.clusterUsage, help: m.clusterHelp })),
  admin: () => adminCmd().then((m) => ({ command: m.admin, usage: m.usage })),
};

export function renderError(err: unknown, debug: boolean): string {
  if (err instanceof CertgateError) {
    // A file name or field can carry escape sequences: the terminal sees them escaped.
    return `error ${err.code}: ${escapeControl(err.message)}\n${err.fix ? `  fix: ${escapeControl(err.fix)}\n` : ''}${debug && err.stack ? `${err.stack}\n` : ''}`;
  }
  const e = err as Error;
  return `error E_INTERNAL: ${escapeControl(e?.message ?? String(err))}\n  fix: this is a bug in certgate; run again with --debug and report the output\n${debug && e?.stack ? `${e.stack}\n` : ''}`;
}

export function errorObject(err: unknown): { code: string; message: string; fix: string | null } {
  if (err instanceof CertgateError) return { code: err.code, message: err.message, fix: err.fix ?? null };
  return {
    code: 'E_INTERNAL',
    message: (err as Error)?.message ?? String(err),
    fix: 'this is a bug in certgate; run again with --debug and report the output',
  };
}

export async function run(argv: string[], io: Io): Promise<number> {
  const debug = argv.includes('--debug');
  const args = argv.filter((a) => a !== '--debug');
  const [name, ...rest] = args;
  try {
    if (!name || name === 'help' || name === '--help' || name === '-h') {
      io.out(HELP);
      return name ? 0 : 2;
    }
    if (name === 'version' || name === '--version' || name === '-v') {
      io.out(`certgate ${VERSION}\n`);
      return 0;
    }
    const load = COMMANDS[name];
    if (!load) throw new CertgateError('E_USAGE', `unknown command "${name}"`, `run certgate --help; commands: ${Object.keys(COMMANDS).join(', ')}`);
    const { command, usage, help } = await load();
    if (rest.includes('--help') || rest.includes('-h')) {
      io.out(help ? help() : `usage: ${usage}\n`);
      return 0;
    }
    return await command(rest, io);
  } catch (err) {
    // With --json, the error is a JSON object on standard output too, so a script reads one stream.
    if (args.includes('--json')) io.out(`${JSON.stringify({ error: errorObject(err) })}\n`);
    io.err(renderError(err, debug));
    return 2;
  }
}
