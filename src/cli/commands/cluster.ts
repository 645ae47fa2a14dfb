/**
 * @module cli/commands/cluster
 * `certgate cluster status [--json]`: the nodes sharing a PostgreSQL store, their heartbeat and
 * version, mixed versions flagged. `certgate store migrate [--json]` (hooked under `store` by
 * storeMigrate): the store's tables brought to this binary's schema, under the schema lock.
 * Exit codes: 0 ok, 1 a problem found (mixed versions, a stale node), 2 usage, connection or schema error.
 */
import pg from 'pg';
import { CertgateError } from '../../errors.ts';
import { pgTarget } from '../../store/pg/connection.ts';
import { classifyPgError, migrate, SCHEMA_VERSION } from '../../store/pg/index.ts';
import { clusterStatus } from '../../store/pg/nodes.ts';
import { parse } from '../args.ts';
import { palette } from '../color.ts';
import type { Io } from '../io.ts';
import { loadSettings, withSource } from '../settings/load.ts';
import { CONFIG_ROW, SERVER_ROWS } from '../settings/rows.ts';
import { flagOptions, renderHelp } from '../settings/table.ts';

export const clusterUsage = 'certgate cluster status [--json] [--store URL] [--store-ca FILE]';
export const storeMigrateUsage = 'certgate store migrate [--json] [--store URL] [--store-ca FILE]';

const STORE_TABLE = { config: CONFIG_ROW, store: SERVER_ROWS.store, storeCa: SERVER_ROWS.storeCa };
const FLAGS = { ...flagOptions(STORE_TABLE), json: { type: 'boolean' as const } };

export const clusterHelp = () => renderHelp(clusterUsage, STORE_TABLE, ['  --json                         JSON output (errors too)']);
export const storeMigrateHelp = () => renderHelp(storeMigrateUsage, STORE_TABLE, ['  --json                         JSON output (errors too)']);

async function withPool<T>(values: Record<string, unknown>, io: Io, command: string, fn: (pool: pg.Pool, display: string) => Promise<T>): Promise<T> {
  const { settings, source } = await loadSettings(STORE_TABLE, values, io, command);
  if (!settings.store)
    throw new CertgateError(
      'E_USAGE',
      `${command} needs a PostgreSQL store`,
      'pass --store postgres://USER:PASSWORD@HOST:5432/DATABASE (or set CERTGATE_STORE)',
    );
  let target: ReturnType<typeof pgTarget>;
  try {
    target = pgTarget(settings.store, settings.storeCa ? { caFile: settings.storeCa } : {});
  } catch (err) {
    throw withSource(err, STORE_TABLE, source);
  }
  const pool = new pg.Pool({ ...target.config, max: 2 });
  pool.on('error', () => {});
  try {
    return await fn(pool, target.display);
  } catch (err) {
    throw classifyPgError(err, target);
  } finally {
    await pool.end().catch(() => {});
  }
}

export async function cluster(argv: string[], io: Io): Promise<number> {
  const { values, positionals } = parse(argv, FLAGS, clusterUsage);
  if (positionals[0] !== 'status' || positionals.length > 1)
    throw new CertgateError(
      'E_USAGE',
      positionals[0] ? `unknown cluster subcommand "${positionals[0]}"` : 'cluster needs a subcommand',
      `usage: ${clusterUsage}`,
    );
  return withPool(values, io, 'cluster', async (pool, display) => {
    const s = await clusterStatus(pool);
    const problem = s.mixedVersions || s.nodes.some((n) => n.stale);
    if (values.json) {
      io.out(`${JSON.stringify({ store: display, ...s }, null, 2)}\n`);
      return problem ? 1 : 0;
    }
    const c = palette(io);
    io.out(`store ${display}: ${s.nodes.length} node${s.nodes.length === 1 ? '' : 's'}\n`);
    for (const n of s.nodes)
      io.out(
        `  ${n.id.padEnd(32)} ${n.version.padEnd(10)} heartbeat ${n.ageSeconds}s ago${n.stale ? ` ${c.red('stale')}` : ''}  (${n.host} pid ${n.pid}, since ${n.startedAt})\n`,
      );
    if (s.mixedVersions)
      io.out(`${c.red('!')} mixed versions: ${s.versions.join(', ')}; run one certgate version on every node (upgrade them all, then restart)\n`);
    return problem ? 1 : 0;
  });
}

export async function storeMigrate(argv: string[], io: Io): Promise<number> {
  const { values, positionals } = parse(argv, FLAGS, storeMigrateUsage);
  if (positionals.length) throw new CertgateError('E_USAGE', `unexpected argument "${positionals[0]}"`, `usage: ${storeMigrateUsage}`);
  return withPool(values, io, 'store migrate', async (pool, display) => {
    const r = await migrate(pool);
    if (values.json) io.out(`${JSON.stringify({ store: display, from: r.from, to: r.to, applied: r.applied, schemaVersion: SCHEMA_VERSION }, null, 2)}\n`);
    else
      io.out(
        r.applied.length
          ? `${palette(io).green('✓')} store ${display}: schema ${r.from} → ${r.to} (applied ${r.applied.join(', ')})\n`
          : `${palette(io).green('✓')} store ${display}: schema version ${r.to}, up to date\n`,
      );
    return 0;
  });
}
