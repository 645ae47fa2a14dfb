/**
 * @module edge/config
 * `certgate serve` configuration: one file (YAML or JSON), then CERTGATE_* variables, then
 * flags, validated once with the field path, what was expected and what was found.
 */
import { z } from 'zod';
import { CertgateError } from '../errors.ts';
import { parseDoc } from '../text/parse-doc.ts';

const duration = z.union([z.number().positive(), z.string().regex(/^\d+(\.\d+)?\s*(ms|s|m|h|d)?$/, 'a duration like 24h, 30m or 90s')]);

export const serveSchema = z
  .object({
    mode: z.enum(['production', 'development']).default('production'),
    data: z.string().min(1).optional(),
    listen: z
      .object({
        https: z.number().int().min(0).max(65535).nullable().optional(),
        http: z.number().int().min(0).max(65535).nullable().optional(),
        host: z.string().min(1).optional(),
      })
      .strict()
      .default({}),
    upstream: z.string().url().nullable().optional(),
    routes: z.record(z.string(), z.string().url()).default({}),
    redirect: z.boolean().default(true),
    hsts: z
      .union([
        z.literal(false),
        z
          .object({
            maxAge: z.number().int().min(0).default(31_536_000),
            includeSubDomains: z.boolean().default(false),
            preload: z.boolean().default(false),
          })
          .strict(),
      ])
      .default({ maxAge: 31_536_000, includeSubDomains: false, preload: false }),
    behindProxy: z
      .object({ trustedProxies: z.array(z.string().min(1)).min(1), tls: z.boolean().default(false) })
      .strict()
      .nullable()
      .optional(),
    defaultSni: z.string().min(1).optional(),
    accessLog: z.boolean().default(false),
    workers: z.union([z.literal('auto'), z.number().int().min(1).max(256)]).optional(),
    onDemand: z
      .object({
        perMinute: z.number().int().min(0).default(30),
        perClient: z.number().int().min(0).default(10),
        wait: duration.default('20s'),
      })
      .strict()
      .default({ perMinute: 30, perClient: 10, wait: '20s' }),
    domain: z.string().min(1).optional(),
    ask: z.string().url().optional(),
    maintenanceInterval: duration.optional(),
    acme: z
      .object({
        directory: z.string().min(1).optional(),
        email: z.string().min(1).optional(),
        agreeToTerms: z.boolean().optional(),
        caRoot: z.string().min(1).optional(),
        challenges: z
          .array(z.enum(['http-01', 'tls-alpn-01', 'dns-01']))
          .min(1)
          .optional(),
        dnsHook: z.string().min(1).optional(),
        keyType: z.enum(['ec-p256', 'ec-p384', 'rsa-2048', 'rsa-3072', 'rsa-4096']).optional(),
      })
      .strict()
      .default({}),
  })
  .strict();

export type ServeConfig = z.output<typeof serveSchema>;

export function validateServeConfig(input: unknown, source: string): ServeConfig {
  const r = serveSchema.safeParse(input ?? {}, { reportInput: true });
  if (r.success) {
    return r.data;
  }
  type Issue = z.core.$ZodIssue & { keys?: string[]; values?: unknown[]; input?: unknown; expected?: string; errors?: Issue[][] };
  let issue = r.error.issues[0] as Issue;
  // A union (hsts: false | {...}) reports "invalid input" at its root: show the branch that got furthest.
  while (issue.code === 'invalid_union' && issue.errors?.length) {
    const deeper = issue.errors.flat().find((i) => i.path.length > 0);
    if (!deeper) break;
    issue = { ...deeper, path: [...issue.path, ...deeper.path] } as Issue;
  }
  const path = issue.path.join('.');
  const got = issue.input === undefined ? 'nothing' : JSON.stringify(issue.input)?.slice(0, 60);
  let message: string;
  if (issue.code === 'unrecognized_keys') message = `${path ? `${path}.` : ''}${issue.keys?.[0]}: unknown field`;
  else if (issue.code === 'invalid_value') message = `${path}: expected one of ${(issue.values ?? []).map((v) => JSON.stringify(v)).join(', ')}; got ${got}`;
  else if (issue.code === 'invalid_type') message = `${path || '(top)'}: expected ${issue.expected}; got ${got}`;
  else message = `${path}: ${issue.message}; got ${got}`;
  throw new CertgateError('E_OPTION', `${source}: ${message}`, 'fix the configuration; see the README for every field');
}

export function parseConfigText(text: string, source: string): ServeConfig {
  return validateServeConfig(parseDoc(text, { source, code: 'E_OPTION' }), source);
}
