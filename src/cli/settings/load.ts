/**
 * @module cli/settings/load
 * From argv, the environment and the config file to one validated settings object: the
 * config file is found (--config, CERTGATE_CONFIG), read with the input limits, parsed, checked
 * for unknown fields, and every row resolved once.
 */
import { resolve as resolvePath } from 'node:path';
import YAML from 'yaml';
import { CertgateError } from '../../errors.ts';
import { readInput } from '../args.ts';
import type { Io } from '../io.ts';
import { SERVE_TABLE } from './rows.ts';
import { type ConfigDoc, type Context, describeRow, describeSource, type Resolved, resolve, type Source, type Table } from './table.ts';

const MAX_DEPTH = 32;

function depth(v: unknown, limit: number): number {
  // Iterative: a document nested 50,000 deep must not overflow the stack here either.
  let max = 0;
  const stack: Array<[unknown, number]> = [[v, 0]];
  while (stack.length) {
    const [cur, d] = stack.pop() as [unknown, number];
    if (d > max) max = d;
    if (max > limit) return max;
    if (cur !== null && typeof cur === 'object') for (const c of Object.values(cur)) stack.push([c, d + 1]);
  }
  return max;
}

/** Parses a config file's text (YAML, or JSON for `.json`), refusing what is not a plain object. */
export function parseConfigDoc(text: string, name: string): ConfigDoc {
  const json = name.endsWith('.json');
  let data: unknown;
  try {
    if (json) data = JSON.parse(text);
    else {
      const doc = YAML.parseDocument(text, { prettyErrors: true, uniqueKeys: true });
      const err = doc.errors[0];
      if (err) {
        const pos = err.linePos?.[0];
        throw new Error(`${pos ? `line ${pos.line}, column ${pos.col}: ` : ''}${err.message.split('\n')[0]}`);
      }
      data = doc.toJS({ maxAliasCount: 100 });
    }
  } catch (err) {
    const msg = (err as Error).message.split('\n')[0] ?? 'syntax error';
    throw new CertgateError(
      'E_OPTION',
      `${name}: not valid ${json ? 'JSON' : 'YAML'}: ${msg.replace(/[^\x20-\x7e]/g, '?').slice(0, 160)}`,
      'fix the syntax at that place',
    );
  }
  if (data === null || data === undefined) data = {};
  if (typeof data !== 'object' || Array.isArray(data))
    throw new CertgateError(
      'E_OPTION',
      `${name}: the configuration must be a map of fields (e.g. upstream: http://127.0.0.1:3000)`,
      'see the README for every field',
    );
  if (depth(data, MAX_DEPTH) > MAX_DEPTH)
    throw new CertgateError('E_OPTION', `${name}: nested deeper than ${MAX_DEPTH} levels`, 'a certgate configuration is at most three levels deep');
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
  for (const key of ['data', 'acmeCaRoot']) {
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
