/**
 * @module cli/settings/load
 * From argv, the environment and the config file to one validated settings object: the
 * config file is found (--config, CERTGATE_CONFIG), read with the input limits, parsed, checked
 * for unknown fields, and every row resolved once.
 */
import { resolve as resolvePath } from 'node:path';
import { CertgateError } from '../../errors.ts';
import { type DataPaths, pathsUnder } from '../../paths.ts';
import { parseDoc } from '../../text/parse-doc.ts';
import { readInput } from '../args.ts';
import type { Io } from '../io.ts';
import { DATA_TABLE, SERVE_TABLE } from './rows.ts';
import { type ConfigDoc, type Context, describeRow, describeSource, type Resolved, resolve, type Source, type Table } from './table.ts';

/** Parses a config file's text (YAML, or JSON for `.json`), refusing what is not a plain object. */
export function parseConfigDoc(text: string, name: string): ConfigDoc {
  let data = parseDoc(text, { source: name, code: 'E_OPTION' });
  if (data === null || data === undefined) data = {};
  if (typeof data !== 'object' || Array.isArray(data))
    throw new CertgateError(
      'E_OPTION',
      `${name}: the configuration must be a map of fields (e.g. upstream: http://127.0.0.1:3000)`,
      'see the README for every field',
    );
  return { name, data: data as Record<string, unknown> };
}

export async function readConfigDoc(file: string, io: Io): Promise<ConfigDoc> {
  let bytes: Buffer;
  try {
    bytes = await readInput(io, file);
  } catch (err) {
    const e = err as CertgateError;
    throw new CertgateError(e.code ?? 'E_FILE_READ', `config ${file}: ${e.message}`, 'check --config / CERTGATE_CONFIG');
  }
  return parseConfigDoc(bytes.toString('utf8'), file);
}

export interface Loaded<R extends Table> extends Resolved<R> {
  file: ConfigDoc | null;
  /** Where the config file was named, if at all. */
  configFrom: string | null;
}

export function contextFor(io: Io, command: string): Context {
  return { root: typeof process.getuid === 'function' && process.getuid() === 0, command, cwd: io.cwd, env: io.env };
}

/**
 * Resolves a command's settings: defaults < config file < CERTGATE_* < flags. Paths are made
 * absolute against the working directory.
 */
export async function loadSettings<R extends Table>(table: R, flags: Record<string, unknown>, io: Io, command: string): Promise<Loaded<R>> {
  const configPath = (flags.config as string | undefined) ?? ('config' in table ? io.env.CERTGATE_CONFIG : undefined);
  const configFrom = flags.config !== undefined ? '--config' : configPath !== undefined ? 'CERTGATE_CONFIG' : null;
  const file = configPath ? await readConfigDoc(configPath, io) : null;
  // One file format for every command: a field another command reads is not unknown here.
  const resolved = resolve(table, { flags, env: io.env, file, fileFields: SERVE_TABLE, context: contextFor(io, command) });
  const s = resolved.settings as Record<string, unknown>;
  for (const key of ['data', 'acmeCaRoot', 'storeKeyFile', 'storeKeyOldFile', 'storeCa']) {
    if (typeof s[key] === 'string') s[key] = resolvePath(io.cwd, s[key] as string);
  }
  if (file && typeof s.config === 'string') s.config = resolvePath(io.cwd, s.config as string);
  return { ...resolved, file, configFrom };
}

/** Says which setting a library error is about, in the operator's terms. */
export function withSource<R extends Table>(err: unknown, table: R, source?: Record<keyof R, Source>): unknown {
  if (!(err instanceof CertgateError) || !err.option || !(err.option in table)) return err;
  const r = table[err.option] as R[keyof R];
  const from = source?.[err.option as keyof R];
  const where = from && from.from !== 'default' ? describeSource(from) : describeRow(r);
  return new CertgateError(err.code, `${where}: ${err.message}`, err.fix ?? `set ${describeRow(r)}`, { cause: err });
}

/** The data directory of a command that takes only `--data` (trust, resources, local-ca): the same row as serve's. */
export function dataPathsFor(flags: Record<string, unknown>, io: Io): DataPaths {
  const { settings } = resolve(DATA_TABLE, { flags: { data: flags.data }, env: io.env, context: contextFor(io, 'data') });
  return pathsUnder(resolvePath(io.cwd, settings.data));
}
