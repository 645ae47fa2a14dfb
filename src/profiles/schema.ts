/**
 * @module profiles/schema
 * A resource: a named outbound endpoint and its TLS profile. Files of resources are safe to
 * keep in source control: CA certificates and pins inline, secrets only by reference.
 */
import { z } from 'zod';
import { CertgateError } from '../errors.ts';
import { excerpt } from '../text/excerpt.ts';

export const KINDS = ['https', 'postgres', 'mongodb', 'mysql', 'redis'] as const;
export type ResourceKind = (typeof KINDS)[number];
export const MODES = ['full', 'verify-ca', 'pinned', 'skip'] as const;
export type TlsMode = (typeof MODES)[number];

export const DEFAULT_PORT: Record<ResourceKind, number> = { https: 443, postgres: 5432, mongodb: 27017, mysql: 3306, redis: 6379 };

/** A secret is never inline: it names a file or an environment variable. */
const secretRef = z.union([z.object({ file: z.string().min(1) }).strict(), z.object({ env: z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/) }).strict()]);
export type SecretRef = z.infer<typeof secretRef>;

const pem = z.string().refine((s) => s.includes('-----BEGIN CERTIFICATE-----'), { message: 'expected PEM text with -----BEGIN CERTIFICATE-----' });
const pemOrFile = z.union([pem, z.object({ file: z.string().min(1) }).strict()]);

const tlsSchema = z
  .object({
    mode: z.enum(MODES).default('full'),
    /** Extra CA certificates for this resource (PEM, inline). */
    ca: z.union([pem, z.array(pem)]).optional(),
    /** Also trust ca-certs and Node's bundled roots (default true; off for pinned). */
    useTrustStore: z.boolean().default(true),
    /** pinned: the exact certificate the server presents (PEM, inline). */
    pinnedCert: pem.optional(),
    /** pinned: SPKI SHA-256 pins, `sha256//base64`. */
    pins: z.array(z.string().regex(/^sha256\/\/[A-Za-z0-9+/]{43}=$/, 'expected sha256//<44 base64 characters>')).optional(),
    clientCert: pemOrFile.optional(),
    clientKey: secretRef.optional(),
    clientKeyPassphrase: secretRef.optional(),
    servername: z.string().min(1).optional(),
  })
  .strict();

export const resourceSchema = z
  .object({
    name: z
      .string()
      .regex(/^[a-z0-9][a-z0-9._-]{0,62}$/, 'lower-case letters, digits, dot, dash and underscore; at most 63 characters')
      .optional(),
    kind: z.enum(KINDS),
    host: z.string().min(1).max(253).optional(),
    port: z.number().int().min(1).max(65535).optional(),
    /** https: the URL to call (host and port come from it). */
    url: z.string().url().optional(),
    database: z.string().min(1).optional(),
    user: z.string().min(1).optional(),
    password: secretRef.optional(),
    /** mongodb: the replica set the deployment is expected to run (checked by resources test). */
    replicaSet: z.string().min(1).optional(),
    tls: tlsSchema.default({ mode: 'full', useTrustStore: true }),
  })
  .strict();

export type ResourceInput = z.input<typeof resourceSchema>;
export type Resource = z.output<typeof resourceSchema> & { name: string; host: string; port: number };

const FIELDS: Record<string, string[]> = {
  '': Object.keys(resourceSchema.shape),
  tls: Object.keys(tlsSchema.shape),
};

function distance(a: string, b: string): number {
  const d = Array.from({ length: a.length + 1 }, (_, i) => [i, ...Array(b.length).fill(0)]) as number[][];
  for (let j = 1; j <= b.length; j++) (d[0] as number[])[j] = j;
  for (let i = 1; i <= a.length; i++)
    for (let j = 1; j <= b.length; j++) {
      const row = d[i] as number[];
      const prev = d[i - 1] as number[];
      row[j] = Math.min((prev[j] as number) + 1, (row[j - 1] as number) + 1, (prev[j - 1] as number) + (a[i - 1] === b[j - 1] ? 0 : 1));
    }
  return (d[a.length] as number[])[b.length] as number;
}

/** Names people bring from other tools, and the field that does their job here. */
const HINTS: Record<string, string> = {
  verify: 'mode',
  verfy: 'mode',
  sslmode: 'mode',
  rejectunauthorized: 'mode',
  insecure: 'mode',
  verifymode: 'mode',
  cafile: 'ca',
  tlscafile: 'ca',
  cert: 'clientCert',
  key: 'clientKey',
  sni: 'servername',
};

function suggest(key: string, path: string): string {
  const hint = HINTS[key.toLowerCase().replace(/[^a-z]/g, '')];
  if (hint && path === 'tls') return `; did you mean "${hint}"?${hint === 'mode' ? ' (full, verify-ca, pinned, skip)' : ''}`;
  const options = FIELDS[path] ?? [];
  const best = options.map((o) => [o, distance(key.toLowerCase(), o.toLowerCase())] as const).sort((x, y) => x[1] - y[1])[0];
  return best && best[1] <= 3 ? `; did you mean "${best[0]}"?` : `; known fields: ${options.join(', ')}`;
}

function describe(value: unknown): string {
  if (typeof value === 'string') return `"${excerpt(value, 40)}"`;
  if (value === undefined) return 'nothing';
  return excerpt(value, 40);
}

/** A URL with a password in it (`postgres://user:secret@host/db`): as inline as a password gets. */
function urlPassword(value: unknown): boolean {
  if (typeof value !== 'string') return false;
  try {
    return new URL(value).password !== '';
  } catch {
    return /^[a-z][a-z0-9+.-]*:\/\/[^/@\s]*:[^/@\s]*@/i.test(value);
  }
}

/** Refuses inline secrets before the schema speaks, so the message says the real rule. */
function inlineSecret(input: Record<string, unknown>): string | null {
  const tls = (input.tls ?? {}) as Record<string, unknown>;
  if (typeof tls.clientKey === 'string') return 'tls.clientKey: a private key is never inline; reference it: { file: /run/secrets/client.key } or { env: VAR }';
  if (typeof tls.clientKeyPassphrase === 'string') return 'tls.clientKeyPassphrase: never inline; reference it: { env: VAR } or { file: PATH }';
  if (typeof input.password === 'string') return 'password: never inline; reference it: { env: VAR } or { file: PATH }';
  for (const key of ['url', 'host'] as const)
    if (urlPassword(input[key]))
      return `${key}: holds a password (user:password@); remove it and reference the password: password: { env: VAR } or { file: PATH }`;
  return null;
}

/**
 * Validates a parsed resource file. `source` names the file in every message.
 * @example validateResource(yaml.parse(text), 'resources/orders-db.yaml', 'orders-db')
 */
export function validateResource(input: unknown, source: string, fallbackName: string): Resource {
  if (typeof input !== 'object' || input === null || Array.isArray(input)) {
    throw new CertgateError(
      'E_RESOURCE_INVALID',
      `${source}: expected a mapping of fields (kind, host, tls, ...), got ${Array.isArray(input) ? 'a list' : describe(input)}`,
      'see the resource file example in the README',
    );
  }
  const secret = inlineSecret(input as Record<string, unknown>);
  if (secret)
    throw new CertgateError(
      'E_RESOURCE_INVALID',
      `${source}: ${secret}`,
      /^(url|host):/.test(secret)
        ? 'keep the password out of the URL: password: { env: VAR } or { file: PATH } in the file, --password-env VAR or --password-file PATH on the command line'
        : 'resource files are meant for source control: keep secrets out of them',
    );
  const result = resourceSchema.safeParse(input, { reportInput: true });
  if (!result.success) {
    const issue = result.error.issues[0] as z.core.$ZodIssue & { keys?: string[]; values?: unknown[]; input?: unknown; expected?: string };
    // A path and a key name are input too: a pasted key used as a field name stays out of the message.
    const path = excerpt(issue.path.join('.'), 100);
    let message: string;
    if (issue.code === 'unrecognized_keys') {
      const key = issue.keys?.[0] ?? '?';
      message = `${path ? `${path}.` : ''}${excerpt(key, 100)}: unknown field${suggest(key, path)}`;
    } else if (issue.code === 'invalid_value') {
      message = `${path}: expected one of ${(issue.values ?? []).map((v) => JSON.stringify(v)).join(', ')}; got ${describe(issue.input)}`;
    } else if (issue.code === 'invalid_type') {
      message = `${path || '(top)'}: expected ${issue.expected}; got ${issue.input === undefined ? 'nothing (the field is required)' : describe(issue.input)}`;
    } else if (issue.code === 'invalid_union') {
      message = `${path}: expected a PEM string or { file: PATH } / { env: VAR }; got ${describe(issue.input)}`;
    } else {
      message = `${path}: ${issue.message}`;
    }
    throw new CertgateError('E_RESOURCE_INVALID', `${source}: ${message}`, 'fix the field and run certgate resources show NAME to check');
  }
  const r = result.data;
  let host = r.host;
  let port = r.port;
  if (r.kind === 'https') {
    if (!r.url && !host)
      throw new CertgateError('E_RESOURCE_INVALID', `${source}: an https resource needs url (or host)`, 'add url: https://api.internal/health');
    if (r.url) {
      const u = new URL(r.url);
      if (u.protocol !== 'https:')
        throw new CertgateError('E_RESOURCE_INVALID', `${source}: url: expected an https:// URL; got "${r.url}"`, 'TLS profiles apply to https:// URLs');
      host ??= u.hostname.replace(/^\[|\]$/g, '');
      port ??= u.port ? Number(u.port) : 443;
    }
  }
  if (!host)
    throw new CertgateError('E_RESOURCE_INVALID', `${source}: host: expected a host name or IP; got nothing (the field is required)`, 'add host: db.internal');
  const tls = r.tls;
  if (tls.mode === 'pinned' && !tls.pinnedCert && !tls.pins?.length) {
    throw new CertgateError(
      'E_RESOURCE_INVALID',
      `${source}: tls.mode pinned needs tls.pinnedCert (or tls.pins)`,
      `fetch it: certgate resources pin ${r.name ?? fallbackName} --from HOST:PORT`,
    );
  }
  if (tls.mode === 'pinned' && !tls.pinnedCert && r.kind !== 'https') {
    throw new CertgateError(
      'E_RESOURCE_INVALID',
      `${source}: ${r.kind} drivers need tls.pinnedCert for pinned mode (SPKI pins alone work for https)`,
      `certgate resources pin ${r.name ?? fallbackName} --from HOST:PORT`,
    );
  }
  if ((tls.clientCert === undefined) !== (tls.clientKey === undefined)) {
    throw new CertgateError('E_RESOURCE_INVALID', `${source}: tls.clientCert and tls.clientKey go together`, 'give both for mutual TLS, or neither');
  }
  const name = r.name ?? fallbackName;
  if (!/^[a-z0-9][a-z0-9._-]{0,62}$/.test(name)) {
    throw new CertgateError(
      'E_RESOURCE_INVALID',
      `${source}: name: "${name}" is not a valid resource name`,
      'lower-case letters, digits, dot, dash and underscore; at most 63 characters',
    );
  }
  return { ...r, name, host, port: port ?? DEFAULT_PORT[r.kind] };
}
