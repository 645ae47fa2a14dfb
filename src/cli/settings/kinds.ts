/**
 * @module cli/settings/kinds
 * What a setting's value may be: one schema for values from the config file (typed by YAML or
 * JSON), and the coercion of text from a flag or an environment variable into that schema.
 */
import { isIP } from 'node:net';
import { z } from 'zod';

export interface Kind<T> {
  /** What a good value looks like, for help and errors: "a port (0-65535)". */
  expect: string;
  /** The argument name in help: `--https-port N`. */
  arg: string;
  /** Checks a value (from the file, or text already coerced) and gives the setting's value. */
  schema: z.ZodType<T>;
  /** Text from a flag or variable, as the schema wants it; unknown text is passed on for the schema to refuse. */
  fromText: (text: string) => unknown;
}

const BOOL_WORDS: Record<string, boolean> = { true: true, false: false, '1': true, '0': false, yes: true, no: false, on: true, off: false };

const asNumber = (text: string): unknown => (/^\s*-?\d+(\.\d+)?\s*$/.test(text) ? Number(text) : text);

export const bool: Kind<boolean> = {
  expect: 'true or false (also 1/0, yes/no, on/off)',
  arg: '',
  schema: z.boolean(),
  fromText: (text) => BOOL_WORDS[text.trim().toLowerCase()] ?? text,
};

export const port: Kind<number> = {
  expect: 'a port (0-65535; 0 picks a free one)',
  arg: 'N',
  schema: z.number().int().min(0).max(65535),
  fromText: asNumber,
};

export function int(min: number, max: number): Kind<number> {
  return { expect: `a whole number from ${min} to ${max}`, arg: 'N', schema: z.number().int().min(min).max(max), fromText: asNumber };
}

export const text: Kind<string> = { expect: 'a non-empty text', arg: 'TEXT', schema: z.string().trim().min(1), fromText: (t) => t };

export function path(arg = 'FILE'): Kind<string> {
  return { expect: 'a file or directory path', arg, schema: z.string().min(1), fromText: (t) => t };
}

export function oneOf<const V extends string>(values: readonly V[]): Kind<V> {
  return {
    expect: `one of ${values.join(', ')}`,
    arg: values.join('|').length <= 24 ? values.join('|') : 'TYPE',
    schema: z.enum(values as unknown as [V, ...V[]]),
    fromText: (t) => t.trim(),
  };
}

export function listOf<T>(item: Kind<T>, arg: string): Kind<T[]> {
  return {
    expect: `a comma-separated list of ${item.expect}`,
    arg,
    schema: z.array(item.schema).min(1),
    fromText: (t) =>
      t
        .split(',')
        .map((s) => s.trim())
        .filter(Boolean)
        .map(item.fromText),
  };
}

/**
 * A URL of the given schemes (an upstream is http://; the ask endpoint may be https://).
 * `origin`: scheme, host and port only: a path would be silently ignored by the proxy.
 */
export function urlOf(schemes: Array<'http' | 'https'>, options: { origin?: boolean } = {}): Kind<string> {
  return {
    expect: `${schemes.map((p) => `an ${p}://`).join(' or ')} URL${options.origin ? ' without a path (http://127.0.0.1:3000)' : ''}`,
    arg: 'URL',
    schema: z.string().refine((s) => {
      try {
        const u = new URL(s);
        if (options.origin && (u.pathname !== '/' || u.search || u.hash || u.username)) return false;
        return schemes.includes(u.protocol.slice(0, -1) as 'http') && u.hostname !== '';
      } catch {
        return false;
      }
    }),
    fromText: (t) => t.trim(),
  };
}

/** A DNS name (app.example.com, *.example.com) or an IP address. */
export const hostName: Kind<string> = {
  expect: 'a host name (app.example.com) or an IP address',
  arg: 'NAME',
  schema: z
    .string()
    .refine((s) => isIP(s) !== 0 || /^(\*\.)?(?=.{1,253}$)[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?(\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)*\.?$/i.test(s)),
  fromText: (t) => t.trim(),
};

/** An IP address or a CIDR block (10.0.0.0/8, fd00::/8). */
export const cidr: Kind<string> = {
  expect: 'an IP address or CIDR block (10.0.0.5, 10.0.0.0/8, fd00::/8)',
  arg: 'CIDR',
  schema: z.string().refine((s) => {
    const [ip, bits, extra] = s.split('/');
    const v = isIP(ip ?? '');
    if (!v || extra !== undefined) return false;
    if (bits === undefined) return true;
    return /^\d{1,3}$/.test(bits) && Number(bits) <= (v === 4 ? 32 : 128);
  }),
  fromText: (t) => t.trim(),
};

/** A hostname or IP literal to listen on, checked before Node's resolver sees it. */
export const listenHost: Kind<string> = {
  expect: 'an IP address (127.0.0.1, ::1, 0.0.0.0) or a host name',
  arg: 'ADDR',
  schema: z.string().refine((s) => {
    if (/^[\d.]+$/.test(s)) return z.ipv4().safeParse(s).success;
    if (s.includes(':')) return z.ipv6().safeParse(s.replace(/^\[|\]$/g, '')).success;
    return /^(?=.{1,253}$)[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?(\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)*$/i.test(s);
  }),
  fromText: (t) => t.trim(),
};

const UNIT_MS = { ms: 1, s: 1000, m: 60_000, h: 3600_000, d: 86_400_000 } as const;

/** Milliseconds, parsed from `24h`, `30m`, `90s`, `2d`, `500ms`; a bare number is seconds. */
export function parseDurationMs(value: unknown): number | null {
  if (typeof value === 'number') return Number.isFinite(value) ? value * 1000 : null;
  if (typeof value !== 'string') return null;
  const m = /^(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)?$/.exec(value.trim());
  if (!m) return null;
  return Number(m[1]) * UNIT_MS[(m[2] ?? 's') as keyof typeof UNIT_MS];
}

function say(ms: number): string {
  for (const [unit, n] of [
    ['d', 86_400_000],
    ['h', 3600_000],
    ['m', 60_000],
    ['s', 1000],
  ] as const)
    if (ms >= n && ms % n === 0) return `${ms / n}${unit}`;
  return `${ms}ms`;
}

/** A duration within bounds (every duration has them: a timer cannot wait 30 days in one go). */
export function duration(minMs: number, maxMs: number): Kind<number> {
  return {
    expect: `a duration from ${say(minMs)} to ${say(maxMs)} (e.g. 90s, 30m, 24h, 2d; a number is seconds)`,
    arg: 'DURATION',
    schema: z.unknown().transform((v, ctx) => {
      const ms = parseDurationMs(v);
      if (ms === null || ms < minMs || ms > maxMs) {
        ctx.addIssue({ code: 'custom', message: 'bad duration' });
        return z.NEVER;
      }
      return ms;
    }) as unknown as z.ZodType<number>,
    fromText: (t) => t,
  };
}

export const workers: Kind<'auto' | number> = {
  expect: 'auto (one per core) or a number of processes from 1 to 256',
  arg: 'N|auto',
  schema: z.union([z.literal('auto'), z.number().int().min(1).max(256)]),
  fromText: (t) => (t.trim() === 'auto' ? 'auto' : asNumber(t)),
};

/** A map of host names to upstream URLs (config file only). */
export const routes: Kind<Record<string, string>> = {
  expect: 'a map of host names to http:// URLs',
  arg: '',
  schema: z.record(
    z.string().regex(/^(\*\.)?[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?(\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)*$/i, 'a host name'),
    urlOf(['http'], { origin: true }).schema,
  ),
  fromText: (t) => {
    // `--route api.example.com=http://127.0.0.1:4000,www.example.com=http://127.0.0.1:5000`
    const out: Record<string, string> = {};
    for (const pair of t.split(',').map((s) => s.trim())) {
      const i = pair.indexOf('=');
      if (i <= 0) return t;
      out[pair.slice(0, i).trim()] = pair.slice(i + 1).trim();
    }
    return out;
  },
};
