/**
 * @module cli/commands/store
 * `certgate store copy|rekey|migrate`: the store as a whole. `copy` moves an installation between
 * stores (any pair of backends) without reissuing anything; `rekey` moves every private key to
 * a new store key (from none, to none); `migrate` brings a PostgreSQL store's schema up to date
 * (cluster.ts).
 */
import { CertgateError } from '../../errors.ts';
import { copyStore } from '../../store/copy.ts';
import { keyringFrom } from '../../store/crypt.ts';
import { openStorage } from '../../store/open.ts';
import { checkRekeyPlan, rekeyStore } from '../../store/rekey.ts';
import { Repository } from '../../store/repository.ts';
import { parse } from '../args.ts';
import type { Io } from '../io.ts';
import { loadSettings, withSource } from '../settings/load.ts';
import { STORE_TABLE } from '../settings/rows.ts';
import { flagOptions, renderHelp } from '../settings/table.ts';

export const storeUsage = `certgate store copy|rekey|migrate [options]
  copy --from FROM --to TO [--store-ca FILE] [--force] [--json]   copy a store (a data directory or a postgres:// URL) to another, then verify
  rekey [--store-key-file FILE] [--store-key-old-file FILE] [--decrypt] [--json]
                                                 move every private key to CERTGATE_STORE_KEY (from CERTGATE_STORE_KEY_OLD)
  migrate [--store URL] [--store-ca FILE] [--json]   bring a PostgreSQL store's tables to this version's schema`;

export const storeHelp = () =>
  renderHelp(storeUsage, STORE_TABLE, [
    '  --from FROM                    copy: the source store: a data directory, file:// or postgres:// URL',
    '  --to TO                        copy: the target store (empty, unless --force)',
    '  --store-ca FILE                copy: the CA bundle that verifies a PostgreSQL end (default CERTGATE_STORE_CA)',
    '  --force                        copy: make a non-empty target an exact copy of the source',
    '  --decrypt                      rekey: store the keys plain (no CERTGATE_STORE_KEY), opening them with the old key',
    '  --json                         JSON output (errors too)',
  ]);

type Sub = (argv: string[], io: Io) => Promise<number>;

async function copy(argv: string[], io: Io): Promise<number> {
  const { values, positionals } = parse(
    argv,
    { from: { type: 'string' }, to: { type: 'string' }, 'store-ca': { type: 'string' }, force: { type: 'boolean' }, json: { type: 'boolean' } },
    storeUsage,
  );
  if (positionals.length) throw new CertgateError('E_USAGE', `unexpected argument "${positionals[0]}"`, `usage: ${storeUsage}`);
  const from = values.from as string | undefined;
  const to = values.to as string | undefined;
  if (!from || !to)
    throw new CertgateError('E_USAGE', 'store copy needs --from and --to', 'e.g. certgate store copy --from /var/lib/certgate --to /srv/certgate');
  // The CA bundle of a PostgreSQL end (verify-full off loopback), as serve takes it.
  const ca = (values['store-ca'] as string | undefined) ?? (io.env.CERTGATE_STORE_CA || undefined);
  const opts = { cwd: io.cwd, ...(ca ? { caFile: ca } : {}) };
  const src = await openStorage(from, opts);
  try {
    const dst = await openStorage(to, opts);
    try {
      if (src.describe === dst.describe)
        throw new CertgateError('E_USAGE', `--from and --to are the same store (${src.describe})`, 'give two different stores');
      const report = await copyStore(src.storage, dst.storage, { force: values.force === true, locker: dst.locker, from: src.describe, to: dst.describe });
      const total = Object.values(report.keys).reduce((a, b) => a + b, 0);
      if (total === 0 && !values.force) {
        // Nothing at the source is most likely a typo in --from.
        throw new CertgateError(
          'E_STORE',
          `${src.describe} holds no store (no certificates, accounts, state, events or documents)`,
          'check --from: it names the data directory (or URL) of the store to copy',
        );
      }
      if (values.json) io.out(`${JSON.stringify({ from: src.describe, to: dst.describe, ...report }, null, 2)}\n`);
      else {
        io.out(
          `copied ${report.certificates} certificate${report.certificates === 1 ? '' : 's'}, ${total} keys (${report.bytes} bytes) from ${src.describe} to ${dst.describe}` +
            `${report.removed ? `; removed ${report.removed} keys the source does not have` : ''}\n`,
        );
        for (const [p, n] of Object.entries(report.keys)) io.out(`  ${p.padEnd(14)} ${n}\n`);
        io.out(
          report.verified
            ? `verified: the target reads back identical (sha256 ${report.digest})\n`
            : `NOT verified: ${report.differences.length} keys differ\n`,
        );
        for (const d of report.differences.slice(0, 20)) io.out(`  ${d.problem.padEnd(10)} ${d.key}\n`);
        if (!report.verified) io.out('  a node wrote to one of the stores during the copy: stop it and copy again with --force\n');
      }
      return report.verified ? 0 : 1;
    } finally {
      await dst.close();
    }
  } finally {
    await src.close();
  }
}

async function rekey(argv: string[], io: Io): Promise<number> {
  const { values, positionals } = parse(argv, { ...flagOptions(STORE_TABLE), decrypt: { type: 'boolean' }, json: { type: 'boolean' } }, storeUsage);
  if (positionals.length) throw new CertgateError('E_USAGE', `unexpected argument "${positionals[0]}"`, `usage: ${storeUsage}`);
  const { settings, source } = await loadSettings(STORE_TABLE, values, io, 'store');
  let ring: ReturnType<typeof keyringFrom>;
  try {
    ring = keyringFrom({ key: settings.storeKey, keyFile: settings.storeKeyFile, oldKey: settings.storeKeyOld, oldKeyFile: settings.storeKeyOldFile });
  } catch (err) {
    throw withSource(err, STORE_TABLE, source);
  }
  const to = ring.current;
  const old = ring.ids.filter((id) => id !== to?.id);
  // The old key's bytes are in the ring; rekeyStore takes the keys themselves.
  const fromKeys = keyringFrom({ key: settings.storeKeyOld, keyFile: settings.storeKeyOldFile }).current;
  checkRekeyPlan(to, fromKeys ? [fromKeys] : [], values.decrypt === true);
  const opened = await openStorage(settings.store ?? settings.data, { cwd: io.cwd, ...(settings.storeCa ? { caFile: settings.storeCa } : {}) });
  try {
    const repository = new Repository(opened.storage);
    const report = await rekeyStore({ repository, locker: opened.locker, from: fromKeys ? [fromKeys] : [], to });
    if (values.json) io.out(`${JSON.stringify({ store: opened.describe, from: old, ...report }, null, 2)}\n`);
    else {
      const line = (what: string, t: { total: number; rewritten: number; unchanged: number }) =>
        io.out(`  ${what.padEnd(13)} ${t.total} (${t.rewritten} rewritten, ${t.unchanged} already ${to ? `under ${to.id}` : 'plain'})\n`);
      io.out(`rekeyed ${opened.describe}: every private key is now ${to ? `encrypted with key id ${to.id}` : 'stored plain'}\n`);
      line('certificates', report.certificates);
      line('accounts', report.accounts);
      if (report.tickets.total) line('ticket keys', report.tickets);
      if (report.remaining)
        io.out(`  ${report.remaining} secrets were written under another key meanwhile: give every node the new key, then run certgate store rekey again\n`);
    }
    return report.remaining ? 1 : 0;
  } finally {
    await opened.close();
  }
}

/** The store subcommands. */
const SUBCOMMANDS: Record<string, Sub> = {
  copy,
  rekey,
  migrate: (argv, io) => import('./cluster.ts').then((m) => m.storeMigrate(argv, io)),
};

export async function store(argv: string[], io: Io): Promise<number> {
  const [sub, ...rest] = argv;
  const run = sub ? SUBCOMMANDS[sub] : undefined;
  if (!run)
    throw new CertgateError(
      'E_USAGE',
      sub ? `unknown store command "${sub}"` : 'store needs a command',
      `usage: ${storeUsage.split('\n')[0]}; commands: ${Object.keys(SUBCOMMANDS).join(', ')}`,
    );
  return run(rest, io);
}
