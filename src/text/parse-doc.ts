/**
 * @module text/parse-doc
 * YAML and JSON documents from users (resource files, the serve config), parsed safely: a
 * size cap, a nesting cap (a file nested 50,000 deep must not overflow the stack), YAML's
 * alias limit (no billion laughs), and syntax errors with line and column but without
 * echoing the input.
 */
import YAML from 'yaml';
import { CertgateError, type ErrorCode } from '../errors.ts';
import { MAX_INPUT_BYTES } from '../pki/limits.ts';
import { excerpt } from './excerpt.ts';

/** Deeper than any real config or resource file (they nest 3 or 4 levels). */
export const MAX_DOC_DEPTH = 64;

export interface ParseDocOptions {
  /** Names the file in every message. */
  source: string;
  /** The code for syntax errors, e.g. E_RESOURCE_INVALID, E_OPTION. */
  code: ErrorCode;
  /** Default: json for a `.json` source, else yaml. */
  format?: 'json' | 'yaml';
  maxBytes?: number;
  maxDepth?: number;
}

function tooDeep(source: string, maxDepth: number): CertgateError {
  return new CertgateError(
    'E_INPUT_TOO_DEEP',
    `${source} nests deeper than ${maxDepth} levels`,
    'a certgate file needs a few levels; check that this is the file you meant',
  );
}

/** Flow nesting ([ and {) outside quoted strings, in one pass, before any parser recurses. */
function flowDepth(text: string): number {
  let depth = 0;
  let worst = 0;
  let quote = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (quote) {
      if (c === 0x5c && quote === 0x22)
        i++; // backslash escape in "..."
      else if (c === quote) quote = 0;
    } else if (c === 0x22 || c === 0x27) quote = c;
    else if (c === 0x5b || c === 0x7b) worst = Math.max(worst, ++depth);
    else if ((c === 0x5d || c === 0x7d) && depth > 0) depth--;
  }
  return worst;
}

/**
 * A bound on YAML block nesting, in one pass: each nested block level sits at least one column
 * further right (compact `- - x` included), so the widest run of indentation and indicators
 * bounds the depth. It must be checked before parsing: yaml recurses per level, and V8 can
 * die outright (not throw) when the stack runs out inside a regexp compilation.
 */
function blockColumns(text: string): number {
  let worst = 0;
  let run = 0;
  let atStart = true;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === 0x0a) {
      atStart = true;
      run = 0;
    } else if (atStart && (c === 0x20 || c === 0x09 || c === 0x2d || c === 0x3f || c === 0x3a)) {
      if (++run > worst) worst = run; // space, tab, - ? :
    } else atStart = false;
  }
  return worst;
}

/** The nesting of a parsed value, with an explicit stack: the check itself cannot overflow. */
function valueDepth(value: unknown, limit: number): number {
  const stack: Array<[unknown, number]> = [[value, 1]];
  let worst = 0;
  const seen = new Set<object>();
  while (stack.length) {
    const [v, d] = stack.pop() as [unknown, number];
    if (v === null || typeof v !== 'object' || seen.has(v)) continue;
    seen.add(v);
    worst = Math.max(worst, d);
    if (worst > limit) return worst;
    for (const child of Array.isArray(v) ? v : Object.values(v)) stack.push([child, d + 1]);
  }
  return worst;
}

function lineCol(text: string, pos: number): { line: number; col: number } {
  let line = 1;
  let last = -1;
  for (let i = 0; i < pos && i < text.length; i++)
    if (text.charCodeAt(i) === 0x0a) {
      line++;
      last = i;
    }
  return { line, col: pos - last };
}

function parseJson(text: string, o: Required<ParseDocOptions>): unknown {
  try {
    return JSON.parse(text);
  } catch (err) {
    if (err instanceof RangeError) throw tooDeep(o.source, o.maxDepth);
    const msg = (err as Error).message;
    // V8 quotes the input in its message ("…" is not valid JSON): keep only its reason.
    const reason = msg.replace(/,? ".*" is not valid JSON$/s, '').replace(/ (in|after) JSON at position \d+.*$/s, '');
    const pos = /at position (\d+)/.exec(msg);
    const at = pos ? lineCol(text, Number(pos[1])) : null;
    throw new CertgateError(
      o.code,
      `${o.source}: not valid JSON${at ? ` at line ${at.line}, column ${at.col}` : ''}: ${excerpt(reason)}`,
      'fix the syntax (commas, quotes, brackets)',
    );
  }
}

function yamlError(err: YAML.YAMLError, o: Required<ParseDocOptions>): CertgateError {
  // yaml turns its own stack overflow (block nesting thousands deep) into a parse error.
  if (/Maximum call stack/.test(err.message)) return tooDeep(o.source, o.maxDepth);
  const at = err.linePos?.[0];
  const reason = err.message.split('\n')[0]?.replace(/ at line \d+, column \d+:?$/, '') ?? 'syntax error';
  return new CertgateError(
    o.code,
    `${o.source}: not valid YAML${at ? ` at line ${at.line}, column ${at.col}` : ''}: ${excerpt(reason)}`,
    'fix the syntax (indentation, quotes, a colon after each key)',
  );
}

function parseYaml(text: string, o: Required<ParseDocOptions>): unknown[] {
  try {
    return YAML.parseAllDocuments(text, { prettyErrors: true, uniqueKeys: true, logLevel: 'error' }).map((d) => {
      if (d.errors.length) throw yamlError(d.errors[0] as YAML.YAMLError, o);
      return d.toJS({ maxAliasCount: 100 });
    });
  } catch (err) {
    if (err instanceof CertgateError) throw err;
    if (err instanceof RangeError) throw tooDeep(o.source, o.maxDepth); // block nesting deep enough to overflow the stack
    if (err instanceof YAML.YAMLError) throw yamlError(err, o);
    // toJS refuses excessive alias expansion with a ReferenceError
    throw new CertgateError(o.code, `${o.source}: ${excerpt((err as Error).message, 80)}`, 'use fewer YAML aliases (*name)');
  }
}

function options(o: ParseDocOptions): Required<ParseDocOptions> {
  return {
    format: o.format ?? (o.source.toLowerCase().endsWith('.json') ? 'json' : 'yaml'),
    maxBytes: o.maxBytes ?? MAX_INPUT_BYTES,
    maxDepth: o.maxDepth ?? MAX_DOC_DEPTH,
    ...o,
  } as Required<ParseDocOptions>;
}

/**
 * Every document in the text: YAML may hold several (`---`), JSON holds one.
 * @example parseDocs(text, { source: 'import.yaml', code: 'E_RESOURCE_INVALID' })
 */
export function parseDocs(text: string, opts: ParseDocOptions): unknown[] {
  const o = options(opts);
  if (Buffer.byteLength(text) > o.maxBytes) {
    throw new CertgateError('E_INPUT_TOO_LARGE', `${o.source} is over ${o.maxBytes} bytes`, 'check that this is the file you meant');
  }
  if (flowDepth(text) > o.maxDepth) throw tooDeep(o.source, o.maxDepth);
  if (o.format === 'yaml' && blockColumns(text) > 4 * o.maxDepth) throw tooDeep(o.source, o.maxDepth);
  const docs = o.format === 'json' ? [parseJson(text, o)] : parseYaml(text, o);
  for (const d of docs) if (valueDepth(d, o.maxDepth) > o.maxDepth) throw tooDeep(o.source, o.maxDepth);
  return docs;
}

/** One document (an empty YAML file is null). */
export function parseDoc(text: string, opts: ParseDocOptions): unknown {
  const docs = parseDocs(text, opts);
  if (docs.length > 1) {
    throw new CertgateError(
      opts.code,
      `${opts.source} holds ${docs.length} YAML documents; one was expected`,
      'keep one document per file (remove the --- lines)',
    );
  }
  return docs[0] ?? null;
}
