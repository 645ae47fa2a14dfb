/**
 * @module cli/commands/admin
 * `certgate admin token create|list|revoke`: the tokens that open the admin API and the
 * dashboard. A token is printed once, at creation; the store keeps only its SHA-256.
 */
import { AdminTokens } from '../../admin/tokens.ts';
import { CertgateError } from '../../errors.ts';
import { openStorage } from '../../store/open.ts';
import { Repository } from '../../store/repository.ts';
import { parse } from '../args.ts';
import type { Io } from '../io.ts';
import { loadSettings, withSource } from '../settings/load.ts';
import { ACME_ROWS, CONFIG_ROW } from '../settings/rows.ts';
import { flagOptions } from '../settings/table.ts';

/** Where the tokens are: the store serve uses (the data directory, or the PostgreSQL store). */
const TABLE = { config: CONFIG_ROW, data: ACME_ROWS.data, store: ACME_ROWS.store, storeCa: ACME_ROWS.storeCa };

export const usage = `certgate admin token <command> [--data DIR | --store URL [--store-ca FILE]]
  create [--label TEXT] [--json]   make a token; it is shown once (--json: {"token": ..., "id": ...})
  list [--json]                    the tokens' ids, labels and creation times (never the tokens)
  revoke ID [--json]               the token stops working at once, and so do its dashboard sessions`;

export async function admin(argv: string[], io: Io): Promise<number> {
  const [what, sub, ...rest] = argv;
  if (what !== 'token' || !sub) throw new CertgateError('E_USAGE', what ? `unknown admin command "${what}"` : 'admin needs a command', `usage: ${usage}`);
  const { values, positionals } = parse(rest, { ...flagOptions(TABLE), json: { type: 'boolean' }, label: { type: 'string' } }, usage);
  const { settings } = await loadSettings(TABLE, values, io, 'admin');
  const opened = await openStorage(settings.store ?? settings.data, { cwd: io.cwd, ...(settings.storeCa ? { caFile: settings.storeCa } : {}) }).catch((err) => {
    throw withSource(err, TABLE);
  });
  try {
    return await tokenCommand(
      sub,
      positionals,
      Boolean(values.json),
      (values.label as string | undefined) ?? 'admin',
      new AdminTokens(new Repository(opened.storage)),
      io,
    );
  } finally {
    await opened.close();
  }
}

async function tokenCommand(sub: string, positionals: string[], json: boolean, label: string, tokens: AdminTokens, io: Io): Promise<number> {
  if (sub === 'create' && positionals.length === 0) {
    const { token, info } = await tokens.create(label);
    if (json) io.out(`${JSON.stringify({ token, id: info.id, label: info.label, createdAt: info.createdAt })}\n`);
    else
      io.out(
        `${token}\n\n` +
          `  id ${info.id} (${info.label}). This is the only time the token is shown: keep it in a password manager.\n` +
          '  Sign in to the dashboard with it, or send it as Authorization: Bearer TOKEN.\n' +
          `  Revoke it with: certgate admin token revoke ${info.id}\n`,
      );
    return 0;
  }
  if (sub === 'list' && positionals.length === 0) {
    const list = await tokens.list();
    if (json) io.out(`${JSON.stringify({ tokens: list }, null, 2)}\n`);
    else if (!list.length) io.out('no admin tokens: certgate admin token create\n');
    else for (const t of list) io.out(`${t.id}  ${t.createdAt.slice(0, 19).replace('T', ' ')}  ${t.label}\n`);
    return 0;
  }
  if (sub === 'revoke' && positionals.length === 1) {
    const gone = await tokens.revoke(positionals[0] as string);
    if (json) io.out(`${JSON.stringify({ revoked: gone })}\n`);
    else io.out(`revoked ${gone.id} (${gone.label})\n`);
    return 0;
  }
  throw new CertgateError('E_USAGE', `bad admin token command "${[sub, ...positionals].join(' ')}"`, `usage: ${usage}`);
}
