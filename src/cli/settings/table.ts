/**
 * @module cli/settings/table
 * A setting is one row: its key, flag, environment variable, config-file path, kind, default
 * and help. One resolver reads every source the same way (defaults < file < environment <
 * flags), validates once, and remembers where each value came from. The same rows render
 * `--help`, the README's tables and the effective settings of `config show`.
 */
import { CertgateError } from '../../errors.ts';
import { closest } from '../../suggest.ts';
import { excerpt } from '../../text/excerpt.ts';
import type { Options } from '../args.ts';
import type { Kind } from './kinds.ts';

export interface Context {
  /** Running as root: privileged ports are the defaults. */
  root: boolean;
  command: string;
  cwd: string;
  /** The process environment, for defaults that follow non-certgate variables (HOME, XDG_DATA_HOME). */
  env: Record<string, string | undefined>;
}

export interface Row<T> {
  /** The flag without dashes (`https-port`); a boolean row also takes `--no-<flag>`. */
  flag?: string;
  env?: string;
  /** Dotted path in the config file (`listen.https`). */
  file?: string;
  kind: Kind<NonNullable<T>>;
  /** `null` is a value ("explicitly off"): `off`/`none` from text, `null` in the file. */
  nullable?: boolean;
  default: T | ((ctx: Context) => T);
  /** The default as help shows it, when it is computed. */
  defaultText?: string;
  help: string;
  /** Redacted in `config show`. */
  secret?: boolean;
  /** Reads the value out of a file value of another shape (`hsts: { maxAge }` means `hsts: true`). */
  fromFile?: (value: unknown) => unknown;
}

export function row<T>(r: Row<T>): Row<T> {
  return r;
}

// biome-ignore lint/suspicious/noExplicitAny: a table holds rows of every value type
export type Table = Record<string, Row<any>>;
export type SettingsOf<R extends Table> = { -readonly [K in keyof R]: R[K] extends Row<infer T> ? T : never };

export type Source = { from: 'default' } | { from: 'file'; file: string; path: string } | { from: 'env'; name: string } | { from: 'flag'; name: string };

export function describeSource(s: Source): string {
  if (s.from === 'default') return 'default';
  if (s.from === 'file') return `${s.file} ${s.path}`;
  if (s.from === 'env') return s.name;
  return `--${s.name}`;
}

export interface ConfigDoc {
  /** As the operator named it, for messages. */
  name: string;
  data: Record<string, unknown>;
}

export interface ResolveInput {
  flags: Record<string, unknown>;
  env: Record<string, string | undefined>;
  file?: ConfigDoc | null;
  /** The rows whose file paths make the file's known fields (default: the table resolved). */
  fileFields?: Table;
  context: Context;
}

/** The parseArgs options the rows need. */
export function flagOptions(table: Table): Options {
  const out: Options = {};
  for (const r of Object.values(table)) {
    if (!r.flag) continue;
    const isBool = r.kind.arg === '';
    out[r.flag] = { type: isBool ? 'boolean' : 'string' };
    if (isBool) out[`no-${r.flag}`] = { type: 'boolean' };
  }
  return out;
}

const OFF_WORDS = new Set(['off', 'none', 'null']);

function shown(v: unknown): string {
  return v === '' ? '""' : excerpt(v, 60);
}

function bad(source: Source, raw0: unknown, r: Row<unknown>): CertgateError {
  const where = describeSource(source);
  // A secret is never echoed, not even a malformed one.
  const raw = r.secret ? '(redacted)' : raw0;
  const expect = `${r.kind.expect}${r.nullable ? ', or off' : ''}`;
  const message =
    source.from === 'file'
      ? `${where}: ${typeof raw === 'string' ? `"${shown(raw)}"` : shown(raw)} is not ${expect}`
      : `${where}${source.from === 'flag' ? ' ' : '='}${shown(raw)}: not ${expect}`;
  return new CertgateError(source.from === 'file' ? 'E_OPTION' : 'E_USAGE', message, `give ${expect} (${r.help})`);
}

function check(r: Row<unknown>, value: unknown, source: Source, raw: unknown): unknown {
  if (value === null) {
    if (r.nullable) return null;
    throw bad(source, raw, r);
  }
  const parsed = r.kind.schema.safeParse(value);
  if (!parsed.success) throw bad(source, raw, r);
  return parsed.data;
}

/** The value at a dotted path; `undefined` when absent (also when a parent is not an object). */
function at(data: Record<string, unknown>, path: string): unknown {
  let cur: unknown = data;
  for (const part of path.split('.')) {
    if (cur === null || typeof cur !== 'object' || Array.isArray(cur)) return undefined;
    cur = (cur as Record<string, unknown>)[part];
  }
  return cur;
}

/** Refuses fields no row reads, with the closest known one. */
function checkFields(table: Table, doc: ConfigDoc): void {
  const paths = Object.values(table)
    .map((r) => r.file)
    .filter((p): p is string => Boolean(p));
  const leaves = new Set(paths);
  const containers = new Set(
    paths.flatMap((p) =>
      p
        .split('.')
        .slice(0, -1)
        .map((_, i, parts) => parts.slice(0, i + 1).join('.')),
    ),
  );
  const walk = (obj: Record<string, unknown>, prefix: string) => {
    for (const [k, v] of Object.entries(obj)) {
      const p = prefix ? `${prefix}.${k}` : k;
      if (leaves.has(p)) continue;
      if (containers.has(p)) {
        if (v !== null && typeof v === 'object' && !Array.isArray(v)) walk(v as Record<string, unknown>, p);
        continue;
      }
      const siblings = [...leaves, ...containers]
        .filter((x) => x.split('.').length === p.split('.').length && x.startsWith(prefix))
        .map((x) => x.split('.').pop() as string);
      const hint = closest(k, siblings);
      throw new CertgateError(
        'E_OPTION',
        `${doc.name}: ${excerpt(p, 100)}: unknown field${hint ? `; did you mean "${hint}"?` : ''}`,
        `remove it or correct its name; known fields here: ${[...new Set(siblings)].join(', ')}`,
      );
    }
  };
  walk(doc.data, '');
}

export interface Resolved<R extends Table> {
  settings: SettingsOf<R>;
  source: Record<keyof R, Source>;
}

/** defaults < file < environment < flags. `undefined` is "not given"; `null` is "explicitly off". */
export function resolve<R extends Table>(table: R, input: ResolveInput): Resolved<R> {
  if (input.file) checkFields(input.fileFields ?? table, input.file);
  const settings: Record<string, unknown> = {};
  const source: Record<string, Source> = {};
  for (const [key, r] of Object.entries(table)) {
    const flagOn = r.flag ? input.flags[r.flag] : undefined;
    const flagOff = r.flag ? input.flags[`no-${r.flag}`] : undefined;
    if (r.flag && flagOn !== undefined && flagOff !== undefined && r.kind.arg === '')
      throw new CertgateError('E_USAGE', `--${r.flag} and --no-${r.flag} both given`, `give one of them`);
    let value: unknown;
    let from: Source = { from: 'default' };
    if (r.flag && (flagOn !== undefined || flagOff !== undefined)) {
      from = { from: 'flag', name: flagOff !== undefined ? `no-${r.flag}` : r.flag };
      const raw = flagOff !== undefined ? false : flagOn;
      value = check(r, typeof raw === 'string' ? textValue(r, raw) : raw, from, raw);
    } else if (r.env && input.env[r.env] !== undefined && input.env[r.env] !== '') {
      // An empty variable is an unset one (compose files expand a missing ${VAR} to '').
      from = { from: 'env', name: r.env };
      const raw = input.env[r.env] as string;
      value = check(r, textValue(r, raw), from, raw);
    } else if (r.file && input.file && at(input.file.data, r.file) !== undefined) {
      from = { from: 'file', file: input.file.name, path: r.file };
      const raw = at(input.file.data, r.file);
      value = check(r, r.fromFile ? r.fromFile(raw) : raw, from, raw);
    } else {
      value = typeof r.default === 'function' ? (r.default as (c: Context) => unknown)(input.context) : r.default;
    }
    settings[key] = value;
    source[key] = from;
  }
  return { settings: settings as SettingsOf<R>, source: source as Record<keyof R, Source> };
}

function textValue(r: Row<unknown>, raw: string): unknown {
  if (r.nullable && OFF_WORDS.has(raw.trim().toLowerCase())) return null;
  return r.kind.fromText(raw);
}

/** `--email / CERTGATE_ACME_EMAIL / acme.email`: how an operator sets a row. */
export function describeRow(r: Row<unknown>): string {
  return [r.flag ? `--${r.flag}` : null, r.env ?? null, r.file ?? null].filter(Boolean).join(' / ');
}

function defaultText(r: Row<unknown>): string {
  if (r.defaultText !== undefined) return r.defaultText;
  if (typeof r.default === 'function') return '';
  if (r.default === undefined || r.default === null) return '';
  return Array.isArray(r.default) ? r.default.join(',') : String(r.default);
}

/** One line per option, for `--help`. */
export function renderHelp(usage: string, table: Table, extra: string[] = []): string {
  const lines = Object.values(table).map((r) => {
    const flag = r.flag ? `--${r.flag}${r.kind.arg ? ` ${r.kind.arg}` : ''}` : `(${r.file ?? ''})`;
    const d = defaultText(r);
    const where = [r.env, r.file].filter(Boolean).join(', ');
    return `  ${flag.padEnd(30)} ${r.help}${d ? ` [default: ${d}]` : ''}${where ? ` (${where})` : ''}`;
  });
  return `usage: ${usage}\n\noptions:\n${[...lines, ...extra].join('\n')}\n`;
}

/** The README's table of a command's settings (a test keeps the README equal to it). */
export function renderMarkdown(table: Table): string {
  const esc = (s: string) => s.replace(/\|/g, '\\|');
  const head = '| flag | variable | config file | default | meaning |\n|---|---|---|---|---|\n';
  return (
    head +
    Object.values(table)
      .map((r) => {
        const flag = r.flag ? `\`--${r.flag}${r.kind.arg ? ` ${esc(r.kind.arg)}` : ''}\`${r.kind.arg === '' ? `, \`--no-${r.flag}\`` : ''}` : '';
        const d = defaultText(r);
        return `| ${flag} | ${r.env ? `\`${r.env}\`` : ''} | ${r.file ? `\`${r.file}\`` : ''} | ${d ? esc(d) : ''} | ${esc(r.help)} |`;
      })
      .join('\n') +
    '\n'
  );
}
