/**
 * @module cli/commands/config
 * `certgate config check` (like `caddy validate`: resolve, validate, probe the ports and the
 * data directory, start nothing) and `certgate config show` (the effective settings, each with
 * where it came from).
 */
import { constants } from 'node:fs';
import { access, stat } from 'node:fs/promises';
import { dirname } from 'node:path';
import { CertCache } from '../../cache/cache.ts';
import { Edge } from '../../edge/edge.ts';
import { CertgateError } from '../../errors.ts';
import { LocalCa } from '../../localca/local-ca.ts';
import { createAcmeEngines } from '../../runtime/acme.ts';
import { edgeSettings } from '../../runtime/server.ts';
import { parse } from '../args.ts';
import { palette } from '../color.ts';
import type { Io } from '../io.ts';
import { loadSettings, withSource } from '../settings/load.ts';
import { SERVE_TABLE } from '../settings/rows.ts';
import { describeRow, describeSource, flagOptions, renderHelp } from '../settings/table.ts';
import { checkPorts } from './serve.ts';

export const configUsage = 'certgate config check|show [--config FILE] [--json] [serve options]';
export const configHelp = () =>
  renderHelp(configUsage, SERVE_TABLE, [
    '  check                          resolve and validate every setting, probe the ports and the data directory; start nothing',
    '  show                           the effective settings and where each came from',
  ]);

/** The nearest directory that exists must be writable for the data directory to be made or used. */
async function checkDataDir(dir: string): Promise<string> {
  let cur = dir;
  for (;;) {
    try {
      const st = await stat(cur);
      if (!st.isDirectory()) throw new CertgateError('E_STORE', `${cur} is not a directory`, 'point --data / CERTGATE_DATA at a directory', { option: 'data' });
      break;
    } catch (err) {
      if (err instanceof CertgateError) throw err;
      const parent = dirname(cur);
      if (parent === cur) break;
      cur = parent;
    }
  }
  try {
    await access(cur, constants.W_OK);
  } catch {
    throw new CertgateError('E_STORE', `${cur} is not writable`, 'give certgate a writable data directory (--data / CERTGATE_DATA)', { option: 'data' });
  }
  return cur === dir ? `${dir} (writable)` : `${dir} (will be created under ${cur})`;
}

/** A URL's password (the store's postgres://user:secret@...) is never shown. */
function withoutPassword(v: unknown): unknown {
  return typeof v === 'string' ? v.replace(/^([a-z][a-z0-9+.-]*:\/\/[^:@/\s]*:)[^@/\s]+@/i, '$1****@') : v;
}

export async function config(argv: string[], io: Io): Promise<number> {
  const [sub, ...rest] = argv;
  const { values } = parse(rest, { ...flagOptions(SERVE_TABLE), json: { type: 'boolean' } }, configUsage);
  if (sub !== 'check' && sub !== 'show')
    throw new CertgateError('E_USAGE', sub ? `unknown config command "${sub}"` : 'config needs a command', `usage: ${configUsage}`);
  const loaded = await loadSettings(SERVE_TABLE, values, io, 'serve');
  const { settings, source } = loaded;
  if (sub === 'show') {
    const rows = Object.entries(SERVE_TABLE).map(([key, r]) => {
      const v = (settings as Record<string, unknown>)[key];
      return {
        key,
        value: r.secret && v !== undefined ? '(redacted)' : withoutPassword(v),
        source: describeSource(source[key as keyof typeof SERVE_TABLE]),
        set: describeRow(r),
      };
    });
    if (values.json)
      io.out(
        `${JSON.stringify({ config: loaded.file?.name ?? null, settings: Object.fromEntries(rows.map((r) => [r.key, { value: r.value ?? null, source: r.source }])) }, null, 2)}\n`,
      );
    else {
      const c = palette(io);
      for (const r of rows)
        io.out(`${r.key.padEnd(22)} ${JSON.stringify(r.value ?? null).padEnd(36)} ${r.source === 'default' ? c.dim('default') : r.source}\n`);
    }
    return 0;
  }
  const { config: _c, workers: _w, ...server } = settings;
  const checks: string[] = [];
  try {
    const engines = createAcmeEngines(server, { warn: (m) => io.err(`warning: ${m}\n`) });
    // The constructors validate: upstreams, routes, trusted proxies, the main domain, the ask URL.
    new Edge({
      ...edgeSettings(server),
      httpsPort: server.behindProxy && !server.behindProxyTls ? null : server.httpsPort,
      httpPort: server.httpPort,
      cache: new CertCache(),
      localCa: new LocalCa({ dir: `${server.data}/local-ca` }),
      answers: engines.answers,
    });
    if (server.mode === 'production' && server.acmeAgreeTos) {
      const issuer = engines.issuer();
      checks.push(`ACME: ${issuer.directory}${server.acmeEmail ? ` as ${server.acmeEmail}` : ''}`);
    } else checks.push(server.mode === 'development' ? 'ACME: off (development mode: the local CA only)' : 'ACME: off (no --agree-tos): the local CA only');
    checks.push(`data: ${await checkDataDir(server.data)}`);
    if (server.store) {
      // Probed without migrating: config check writes nothing. The store key is checked against
      // a PostgreSQL store's rows at start, once its schema is in place.
      await engines.close();
      const { probePgStore } = await import('../../store/pg/index.ts');
      checks.push(`store: ${await probePgStore(server.store, server.storeCa ? { caFile: server.storeCa } : {})}`);
    } else {
      // The store key opens what the store holds (key ids only; nothing is decrypted or written).
      const keys = await engines.store.checkSecrets();
      const sealed = Object.entries(keys.sealed).map(([id, n]) => `${n} under key ${id}`);
      checks.push(
        `store keys: ${[keys.plain ? `${keys.plain} plain` : null, ...sealed].filter(Boolean).join(', ') || 'none yet'}${engines.store.keyring.current ? `; new keys are encrypted with key ${engines.store.keyring.current.id}` : ''}`,
      );
    }
    await checkPorts(server);
    checks.push(
      `ports: ${[server.httpsPort !== null ? `https ${server.httpsPort}` : null, server.httpPort !== null ? `http ${server.httpPort}` : null].filter(Boolean).join(', ')} free`,
    );
  } catch (err) {
    throw withSource(err, SERVE_TABLE, source);
  }
  if (values.json) io.out(`${JSON.stringify({ ok: true, config: loaded.file?.name ?? null, checks }, null, 2)}\n`);
  else io.out(`${palette(io).green('✓')} configuration ${loaded.file ? `${loaded.file.name} ` : ''}is valid\n${checks.map((x) => `  ${x}\n`).join('')}`);
  return 0;
}
