/**
 * @module admin/api
 * The JSON API: every route declared once with zod schemas that both validate the request
 * (unknown fields refused: the schemas are strict) and generate /openapi.json. Handlers call
 * the modules the CLI calls (repository, registry, manager, trust, profiles); nothing here
 * re-implements them.
 */
import diagnosticsChannel from 'node:diagnostics_channel';
import { createRoute, OpenAPIHono, z } from '@hono/zod-openapi';
import type { Context } from 'hono';
import { streamSSE } from 'hono/streaming';
import { CertgateError } from '../errors.ts';
import { EVENT_CHANNEL } from '../events.ts';
import { checkIssuable } from '../manager/policy.ts';
import { getResource, loadResources, removeResource, saveResource, toDocument } from '../profiles/registry.ts';
import { resourceSchema, validateResource } from '../profiles/schema.ts';
import { SECRET_SETTINGS } from '../runtime/settings.ts';
import type { CertEvent } from '../store/store.ts';
import { CERT_STATES, certificateDetail, certificateRows, pageOf } from './certificates.ts';
import type { AdminContext } from './context.ts';
import { pinNamed, testNamed } from './resources.ts';
import { listTrust, removeTrust, uploadTrust } from './trust.ts';

export type AdminEnv = { Variables: { tokenId: string } };

const ErrorBody = z
  .object({ error: z.object({ code: z.string(), message: z.string(), fix: z.string().nullable() }) })
  .openapi('Error', { description: 'Every refusal: a stable code, the message, and the fix.' });

const errors = {
  400: { description: 'The request is malformed (unknown fields, wrong types)', content: { 'application/json': { schema: ErrorBody } } },
  401: { description: 'No valid token or session', content: { 'application/json': { schema: ErrorBody } } },
  404: { description: 'Not found', content: { 'application/json': { schema: ErrorBody } } },
  422: { description: 'Understood, and refused (the reason and the fix)', content: { 'application/json': { schema: ErrorBody } } },
} as const;

/** A CertgateError code, as an HTTP status. */
export function statusFor(code: string): 400 | 404 | 409 | 413 | 422 | 500 | 502 | 503 {
  if (code === 'E_ADMIN_BODY_TOO_LARGE' || code === 'E_INPUT_TOO_LARGE') return 413;
  if (code.endsWith('_NOT_FOUND')) return 404;
  if (code === 'E_RESOURCE_EXISTS' || code === 'E_ADMIN_CONFLICT' || code === 'E_LOCK_TIMEOUT') return 409;
  if (code.startsWith('E_ACME_') || code === 'E_ATTEMPTS_EXHAUSTED') return 502;
  if (code === 'E_ADMIN_UNAVAILABLE') return 503;
  if (code === 'E_USAGE' || code === 'E_ADMIN_INVALID') return 400;
  if (code === 'E_INTERNAL') return 500;
  return 422;
}

export function errorBody(code: string, message: string, fix: string | null): z.infer<typeof ErrorBody> {
  return { error: { code, message, fix } };
}

const Name = z
  .string()
  .min(1)
  .max(253)
  .openapi({ param: { name: 'name', in: 'path' }, example: 'app.example.com' });
const ResourceName = z
  .string()
  .regex(/^[a-z0-9][a-z0-9._-]{0,62}$/)
  .openapi({ param: { name: 'name', in: 'path' }, example: 'orders-db' });

const CertRow = z
  .object({
    name: z.string(),
    state: z.enum(CERT_STATES),
    summary: z.string(),
    notBefore: z.string().nullable(),
    notAfter: z.string().nullable(),
    renewFrom: z.string().nullable(),
    renewalWindow: z.enum(['ari', 'third', 'fixed']).nullable(),
    lifeLeft: z.number().nullable(),
    attempts: z.number().int(),
    lastError: z.object({ code: z.string(), message: z.string(), at: z.string() }).nullable(),
    nextAttemptAt: z.string().nullable(),
  })
  .openapi('CertificateRow');

const CertPage = z
  .object({
    total: z.number().int(),
    page: z.number().int(),
    perPage: z.number().int(),
    counts: z.record(z.string(), z.number().int()),
    items: z.array(CertRow),
  })
  .openapi('CertificatePage');

const CertDetail = CertRow.extend({
  names: z.array(z.string()),
  issuer: z.string().nullable(),
  keyType: z.string().nullable(),
  directory: z.string().nullable(),
  renewalWhy: z.string().nullable(),
  ari: z.object({ start: z.string(), end: z.string(), explanationUrl: z.string().nullable() }).nullable(),
  chain: z.array(z.object({ subject: z.string(), issuer: z.string(), notBefore: z.string(), notAfter: z.string(), sha256: z.string(), kind: z.string() })),
  lastFailure: z
    .object({ at: z.string(), code: z.string().nullable(), message: z.string(), fix: z.string().nullable(), problem: z.unknown() })
    .nullable()
    .openapi({ description: "The last failure: the CA's problem document as it sent it, the message in plain words, and the fix" }),
  events: z.array(z.object({ at: z.string(), type: z.string(), message: z.string() })),
}).openapi('CertificateDetail');

const TrustVerdict = z
  .object({
    file: z.string().nullable(),
    subject: z.string(),
    sha256: z.string(),
    kind: z.string(),
    notAfter: z.string(),
    verdict: z.enum(['added', 'would-add', 'skipped', 'refused', 'trusted', 'expired', 'leaf', 'unreadable']),
    code: z.string(),
    reason: z.string(),
    fix: z.string().nullable(),
    warnings: z.array(z.string()),
  })
  .openapi('TrustVerdict');

const Layer = z.object({
  layer: z.string(),
  status: z.enum(['ok', 'warn', 'fail', 'skipped']),
  ms: z.number().nullable(),
  message: z.string(),
  fix: z.string().nullable(),
  code: z.string().optional(),
  findings: z.array(z.object({ code: z.string(), severity: z.string(), message: z.string(), fix: z.string() }).passthrough()).optional(),
});

const TestResult = z
  .object({
    resource: z.string(),
    kind: z.string(),
    target: z.string(),
    mode: z.string(),
    status: z.string(),
    warning: z.string().nullable(),
    layers: z.array(Layer),
    presented: z.object({ subject: z.string(), sha256: z.string(), selfSigned: z.boolean() }).nullable(),
  })
  .openapi('ResourceTestResult');

const EventSchema = z
  .object({ at: z.string(), name: z.string(), type: z.string(), message: z.string(), data: z.record(z.string(), z.unknown()).optional() })
  .openapi('Event');

const json = <T extends z.ZodType>(schema: T, description: string) => ({ description, content: { 'application/json': { schema } } });
const body = <T extends z.ZodType>(schema: T) => ({ body: { required: true, content: { 'application/json': { schema } } } });
const security: Array<Record<string, string[]>> = [{ bearer: [] }, { session: [] }];

/** A URL's user:password (an upstream given as http://user:pass@app:3000) is not shown. */
function redact(value: unknown): unknown {
  if (typeof value === 'string') return value.replace(/\/\/[^/@\s]+@/g, '//***@');
  if (Array.isArray(value)) return value.map(redact);
  if (value && typeof value === 'object') return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, redact(v)]));
  return value;
}

/** The effective settings with their sources: from the CLI's provider, else the running settings. */
export async function settingsView(ctx: Pick<AdminContext, 'settings' | 'current'>): Promise<{ settings: Record<string, { value: unknown; source: string }> }> {
  const view = ctx.settings
    ? await ctx.settings()
    : { settings: Object.fromEntries(Object.entries(ctx.current()).map(([k, v]) => [k, { value: v, source: 'embedder' }])) };
  // A store key, an alerts secret or a webhook URL (often its own credential) is never shown.
  const shown = (k: string, v: unknown) => (SECRET_SETTINGS.has(k) && v !== undefined && v !== null ? '(redacted)' : redact(v));
  return { settings: Object.fromEntries(Object.entries(view.settings).map(([k, v]) => [k, { value: shown(k, v.value), source: v.source }])) };
}

/** Turns any thrown error into the API's error body; an unexpected one is logged, not shown. */
export function sendError(c: Context, err: unknown, ctx: Pick<AdminContext, 'log'>): Response {
  if (err instanceof CertgateError) return c.json(errorBody(err.code, err.message, err.fix ?? null), statusFor(err.code));
  ctx.log.error({ err: (err as Error).message }, `admin API: ${c.req.method} ${c.req.path} failed`);
  return c.json(errorBody('E_INTERNAL', 'the admin API failed on this request (see the server log)', 'try again; report it if it persists'), 500);
}

function streamEvents(c: Context, ctx: AdminContext, streams: Set<() => void>): Response {
  const only = c.req.query('name');
  return streamSSE(c, async (stream) => {
    const queue: CertEvent[] = [];
    let wake: (() => void) | null = null;
    let open = true;
    const listener = (m: unknown) => {
      const e = m as CertEvent;
      if (only && e.name !== only) return;
      if (queue.length < 1000) queue.push(e);
      wake?.();
    };
    const stop = () => {
      open = false;
      wake?.();
    };
    streams.add(stop);
    diagnosticsChannel.subscribe(EVENT_CHANNEL, listener);
    stream.onAbort(stop);
    try {
      await stream.writeSSE({ event: 'ready', data: '{}' });
      while (open && !stream.aborted) {
        const next = queue.shift();
        if (next) {
          await stream.writeSSE({ event: 'cert', data: JSON.stringify({ at: next.at, name: next.name, type: next.type, message: next.message }) });
          continue;
        }
        // A comment line every 15 s keeps proxies from closing an idle stream.
        await new Promise<void>((resolve) => {
          const t = setTimeout(resolve, 15_000);
          wake = () => {
            clearTimeout(t);
            resolve();
          };
        });
        wake = null;
        if (open && !queue.length && !stream.aborted) await stream.write(': keep-alive\n\n');
      }
    } finally {
      diagnosticsChannel.unsubscribe(EVENT_CHANNEL, listener);
      streams.delete(stop);
      ctx.log.debug('admin: an event stream closed');
    }
  });
}

/** The app the routes live on; a request that fails its schema gets one error body. */
export function createAdminApp(): OpenAPIHono<AdminEnv> {
  return new OpenAPIHono<AdminEnv>({
    defaultHook: (result, c) => {
      if (result.success) return;
      const issue = result.error.issues[0];
      const where = issue?.path.length ? issue.path.join('.') : 'the request';
      const unknown = issue?.code === 'unrecognized_keys' ? ` (unknown: ${(issue as { keys?: string[] }).keys?.join(', ')})` : '';
      return c.json(
        errorBody('E_ADMIN_INVALID', `${where}: ${issue?.message ?? 'invalid'}${unknown}`, 'send only the fields /openapi.json documents for this route'),
        400,
      );
    },
  });
}

/** Adds the JSON API's routes (register the guards on `app` first: hono runs them in order). */
export function apiRoutes(app: OpenAPIHono<AdminEnv>, ctx: AdminContext, streams: Set<() => void>): OpenAPIHono<AdminEnv> {
  app.openAPIRegistry.registerComponent('securitySchemes', 'bearer', {
    type: 'http',
    scheme: 'bearer',
    description: 'an admin token (certgate admin token create)',
  });
  app.openAPIRegistry.registerComponent('securitySchemes', 'session', { type: 'apiKey', in: 'cookie', name: 'certgate_session' });
  app.onError((err, c) => sendError(c, err, ctx));

  // certificates
  app.openapi(
    createRoute({
      method: 'get',
      path: '/api/certificates',
      summary: 'Certificates, paginated and filtered',
      security,
      request: {
        query: z
          .object({
            page: z.coerce.number().int().min(1).max(1_000_000).default(1),
            perPage: z.coerce.number().int().min(1).max(500).default(50),
            state: z.enum(CERT_STATES).optional(),
            q: z.string().max(253).optional().openapi({ description: 'a part of the name' }),
            sort: z.enum(['name', 'notAfter']).default('name'),
          })
          .strict(),
      },
      responses: { 200: json(CertPage, 'One page of certificates, with counts per state'), ...errors },
    }),
    async (c) => {
      const q = c.req.valid('query');
      return c.json(pageOf(await certificateRows(ctx.store, Date.now(), ctx.states), q), 200);
    },
  );
  app.openapi(
    createRoute({
      method: 'get',
      path: '/api/certificates/{name}',
      summary: 'One certificate: chain, expiry, renewal window and why, attempts, last failure, next try',
      security,
      request: { params: z.object({ name: Name }) },
      responses: { 200: json(CertDetail, 'The certificate'), ...errors },
    }),
    async (c) => {
      const name = checkIssuable(c.req.valid('param').name, { allowIp: true });
      const d = await certificateDetail(ctx.store, name);
      if (!d) throw new CertgateError('E_CERT_NOT_FOUND', `nothing is known about ${name}`, `add it: POST /api/domains {"name":"${name}"}`);
      return c.json(d, 200);
    },
  );
  app.openapi(
    createRoute({
      method: 'post',
      path: '/api/certificates/{name}/renew',
      summary: 'Obtain the certificate now (force), even past the attempts limit',
      security,
      request: { params: z.object({ name: Name }) },
      responses: {
        200: json(z.object({ name: z.string(), issued: z.boolean(), notAfter: z.string(), ms: z.number() }), 'Obtained'),
        502: json(ErrorBody, 'The CA refused: its reason in words, and the fix'),
        503: json(ErrorBody, 'ACME is off (development mode, or the terms not agreed)'),
        ...errors,
      },
    }),
    async (c) => {
      const name = checkIssuable(c.req.valid('param').name, { allowIp: ctx.allowIp });
      if (!ctx.manager)
        throw new CertgateError(
          'E_ADMIN_UNAVAILABLE',
          'ACME is off here: certificates come from the local CA',
          'set mode production, an email and agree to the terms',
        );
      const decision = await ctx.registry.decide(name);
      if (!decision.allowed) throw new CertgateError('E_DOMAIN_UNREGISTERED', `${name} is not allowed: ${decision.reason}`, `add it first: POST /api/domains`);
      const existing = await ctx.store.getBundle(name);
      const r = await ctx.manager.obtain(name, { force: true, renew: Boolean(existing), reason: 'admin API' });
      await ctx.refresh([name]);
      return c.json({ name, issued: r.issued, notAfter: r.bundle.meta.notAfter, ms: Math.round(r.ms) }, 200);
    },
  );

  // domains
  const DomainList = z
    .object({
      main: z.string().nullable(),
      mainSource: z.string().nullable(),
      domains: z.array(
        z.object({
          name: z.string(),
          role: z.enum(['main', 'custom']),
          addedAt: z.string().nullable(),
          state: z.string().nullable(),
          summary: z.string().nullable(),
        }),
      ),
    })
    .openapi('DomainList');
  app.openapi(
    createRoute({
      method: 'get',
      path: '/api/domains',
      summary: 'The main and custom domains, each with its certificate state',
      security,
      responses: { 200: json(DomainList, 'Domains'), ...errors },
    }),
    async (c) => {
      const l = await ctx.registry.list();
      const rows = new Map((await certificateRows(ctx.store, Date.now(), ctx.states)).map((r) => [r.name, r]));
      const one = (name: string, role: 'main' | 'custom', addedAt: string | null) => ({
        name,
        role,
        addedAt,
        state: rows.get(name)?.state ?? null,
        summary: rows.get(name)?.summary ?? null,
      });
      return c.json(
        {
          main: l.main,
          mainSource: l.mainSource ?? null,
          domains: [...(l.main ? [one(l.main, 'main', null)] : []), ...l.custom.filter((d) => d.name !== l.main).map((d) => one(d.name, 'custom', d.addedAt))],
        },
        200,
      );
    },
  );
  app.openapi(
    createRoute({
      method: 'post',
      path: '/api/domains',
      summary: 'Add a custom domain',
      security,
      request: body(z.object({ name: z.string().min(1).max(253) }).strict()),
      responses: { 200: json(z.object({ name: z.string(), added: z.boolean() }), 'Added (or already there)'), ...errors },
    }),
    async (c) => {
      const before = new Set((await ctx.registry.list()).custom.map((d) => d.name));
      const name = await ctx.registry.add(c.req.valid('json').name);
      return c.json({ name, added: !before.has(name) }, 200);
    },
  );
  app.openapi(
    createRoute({
      method: 'delete',
      path: '/api/domains/{name}',
      summary: 'Remove a custom domain (its certificate stays until it expires)',
      security,
      request: { params: z.object({ name: Name }) },
      responses: { 200: json(z.object({ name: z.string(), removed: z.boolean() }), 'Removed (or was not there)'), ...errors },
    }),
    async (c) => {
      const before = new Set((await ctx.registry.list()).custom.map((d) => d.name));
      const name = await ctx.registry.remove(c.req.valid('param').name);
      return c.json({ name, removed: before.has(name) }, 200);
    },
  );

  // trust store
  app.openapi(
    createRoute({
      method: 'get',
      path: '/api/trust',
      summary: 'The ca-certs store: every certificate with its verdict, and unreadable files',
      security,
      responses: { 200: json(z.object({ dir: z.string(), entries: z.array(TrustVerdict) }), 'The store'), ...errors },
    }),
    async (c) => c.json(await listTrust(ctx.dirs.caCerts), 200),
  );
  app.openapi(
    createRoute({
      method: 'post',
      path: '/api/trust',
      summary: 'Upload a CA certificate, judged as `trust add` judges it (a leaf or a key is refused; nothing half-stored)',
      security,
      request: body(
        z
          .object({
            filename: z.string().max(255).optional(),
            content: z.string().min(1).openapi({ description: 'PEM text, or base64 of DER / PKCS#7 with encoding base64' }),
            encoding: z.enum(['pem', 'base64']).default('pem'),
            dryRun: z.boolean().default(false).openapi({ description: 'judge only: store nothing' }),
          })
          .strict(),
      ),
      responses: {
        200: json(z.object({ added: z.number().int(), verdicts: z.array(TrustVerdict) }), 'Judged; `added` certificates were stored'),
        413: json(ErrorBody, 'Too large'),
        ...errors,
      },
    }),
    async (c) => {
      const b = c.req.valid('json');
      const bytes = b.encoding === 'base64' ? Buffer.from(b.content, 'base64') : Buffer.from(b.content, 'utf8');
      const source = (b.filename ?? 'upload').replace(/[^\w. -]/g, '_');
      const r = await uploadTrust(ctx.dirs.caCerts, bytes, source, { dryRun: b.dryRun });
      ctx.log.info({ added: r.added, refused: r.verdicts.filter((v) => v.verdict === 'refused').length }, `admin: trust upload ${source}`);
      return c.json(r, 200);
    },
  );
  app.openapi(
    createRoute({
      method: 'delete',
      path: '/api/trust/{selector}',
      summary: 'Remove from ca-certs by file name, SHA-256 fingerprint (8+ hex digits) or CN',
      security,
      request: {
        params: z.object({
          selector: z
            .string()
            .min(1)
            .max(255)
            .openapi({ param: { name: 'selector', in: 'path' } }),
        }),
      },
      responses: { 200: json(z.object({ removed: z.array(z.string()) }), 'Removed'), ...errors },
    }),
    async (c) => c.json({ removed: await removeTrust(ctx.dirs.caCerts, c.req.valid('param').selector) }, 200),
  );

  // resources
  const ResourceDoc = resourceSchema.openapi('Resource', { description: 'A resource document, as `resources export` writes it (secrets by reference)' });
  app.openapi(
    createRoute({
      method: 'get',
      path: '/api/resources',
      summary: 'Outbound resources and any unreadable resource files',
      security,
      responses: {
        200: json(
          z.object({
            resources: z.array(z.object({ name: z.string(), kind: z.string(), host: z.string(), port: z.number(), mode: z.string() })),
            problems: z.array(z.object({ code: z.string(), message: z.string(), fix: z.string() }).passthrough()),
          }),
          'Resources',
        ),
        ...errors,
      },
    }),
    async (c) => {
      const { resources, problems } = await loadResources(ctx.dirs.resources);
      return c.json({ resources: resources.map((r) => ({ name: r.name, kind: r.kind, host: r.host, port: r.port, mode: r.tls.mode })), problems }, 200);
    },
  );
  app.openapi(
    createRoute({
      method: 'get',
      path: '/api/resources/{name}',
      summary: 'One resource document',
      security,
      request: { params: z.object({ name: ResourceName }) },
      responses: { 200: json(z.record(z.string(), z.unknown()), 'The resource'), ...errors },
    }),
    async (c) => c.json(toDocument(await getResource(ctx.dirs.resources, c.req.valid('param').name)), 200),
  );
  app.openapi(
    createRoute({
      method: 'put',
      path: '/api/resources/{name}',
      summary: 'Create or replace a resource',
      security,
      request: { params: z.object({ name: ResourceName }), ...body(ResourceDoc) },
      responses: { 200: json(z.object({ name: z.string(), created: z.boolean() }), 'Stored'), ...errors },
    }),
    async (c) => {
      const { name } = c.req.valid('param');
      const doc = c.req.valid('json') as Record<string, unknown>;
      if (doc.name !== undefined && doc.name !== name)
        throw new CertgateError(
          'E_RESOURCE_INVALID',
          `the body names "${String(doc.name)}", the path "${name}"`,
          'leave name out of the body, or make them agree',
        );
      const r = validateResource({ ...doc, name }, `PUT /api/resources/${name}`, name);
      const existed = (await loadResources(ctx.dirs.resources)).resources.some((x) => x.name === name);
      await saveResource(ctx.dirs.resources, r, { replace: true });
      return c.json({ name, created: !existed }, 200);
    },
  );
  app.openapi(
    createRoute({
      method: 'delete',
      path: '/api/resources/{name}',
      summary: 'Remove a resource',
      security,
      request: { params: z.object({ name: ResourceName }) },
      responses: { 200: json(z.object({ name: z.string(), removed: z.literal(true) }), 'Removed'), ...errors },
    }),
    async (c) => {
      const { name } = c.req.valid('param');
      await removeResource(ctx.dirs.resources, name);
      return c.json({ name, removed: true as const }, 200);
    },
  );
  const timeout = z
    .object({ timeoutMs: z.number().int().min(100).max(60_000).default(10_000) })
    .strict()
    .default({ timeoutMs: 10_000 });
  app.openapi(
    createRoute({
      method: 'post',
      path: '/api/resources/{name}/test',
      summary: 'The layered connection test (DNS, TCP, TLS, auth, topology), each layer with its verdict and fix',
      security,
      request: { params: z.object({ name: ResourceName }), body: { required: false, content: { 'application/json': { schema: timeout } } } },
      responses: { 200: json(TestResult, 'The result (a failing layer is a 200 with status fail)'), ...errors },
    }),
    async (c) => {
      const { name } = c.req.valid('param');
      const { timeoutMs } = (c.req.valid('json') as { timeoutMs?: number } | undefined) ?? {};
      return c.json(await testNamed({ ...ctx.dirs, env: ctx.env }, name, timeoutMs ?? 10_000), 200);
    },
  );
  app.openapi(
    createRoute({
      method: 'post',
      path: '/api/resources/{name}/pin',
      summary: 'Pin the certificate the server presents now (mode pinned); refused when it is not the one expected',
      security,
      request: {
        params: z.object({ name: ResourceName }),
        ...body(z.object({ sha256: z.string().min(8).max(128).optional(), timeoutMs: z.number().int().min(100).max(60_000).default(10_000) }).strict()),
      },
      responses: {
        200: json(z.object({ name: z.string(), pinned: z.object({ sha256: z.string(), subject: z.string() }) }), 'Pinned'),
        409: json(ErrorBody, 'The server presents another certificate now'),
        ...errors,
      },
    }),
    async (c) => {
      const { name } = c.req.valid('param');
      const b = c.req.valid('json');
      const pinned = await pinNamed({ ...ctx.dirs, env: ctx.env }, name, b.sha256, b.timeoutMs);
      ctx.log.info({ resource: name, sha256: pinned.sha256 }, `admin: ${name} pinned`);
      return c.json({ name, pinned }, 200);
    },
  );

  // events
  app.openapi(
    createRoute({
      method: 'get',
      path: '/api/events',
      summary: 'Recorded certificate events, newest last',
      security,
      request: {
        query: z.object({ name: z.string().max(253).optional(), limit: z.coerce.number().int().min(1).max(5000).default(200) }).strict(),
      },
      responses: { 200: json(z.object({ events: z.array(EventSchema) }), 'Events'), ...errors },
    }),
    async (c) => {
      const { name, limit } = c.req.valid('query');
      const events = await ctx.store.readEvents(name ? checkIssuable(name, { allowIp: true }) : undefined);
      return c.json({ events: events.slice(-limit) as z.infer<typeof EventSchema>[] }, 200);
    },
  );
  app.openapi(
    createRoute({
      method: 'get',
      path: '/api/events/stream',
      summary: 'Live certificate events (Server-Sent Events: `event: cert`, data an Event)',
      security,
      request: { query: z.object({ name: z.string().max(253).optional() }).strict() },
      responses: { 200: { description: 'An event stream', content: { 'text/event-stream': { schema: z.string() } } }, ...errors },
    }),
    (c) => streamEvents(c, ctx, streams) as never,
  );

  // settings, doctor
  app.openapi(
    createRoute({
      method: 'get',
      path: '/api/settings',
      summary: 'The effective settings, each with its source',
      security,
      responses: { 200: json(z.object({ settings: z.record(z.string(), z.object({ value: z.unknown(), source: z.string() })) }), 'Settings'), ...errors },
    }),
    async (c) => {
      return c.json(await settingsView(ctx), 200);
    },
  );
  app.openapi(
    createRoute({
      method: 'post',
      path: '/api/settings/reload',
      summary: 'Read the settings again and apply what can change while running (as SIGHUP does)',
      security,
      responses: {
        200: json(z.object({ restart: z.array(z.string()) }), 'Reloaded; `restart` names what takes effect at the next restart'),
        503: json(ErrorBody, 'No reload here'),
        ...errors,
      },
    }),
    async (c) => {
      if (!ctx.reload) throw new CertgateError('E_ADMIN_UNAVAILABLE', 'this server was not started with a way to reload', 'send SIGHUP to certgate serve');
      return c.json(await ctx.reload(), 200);
    },
  );
  app.openapi(
    createRoute({
      method: 'get',
      path: '/api/cluster',
      summary: 'the nodes sharing the PostgreSQL store: heartbeat, version, and whether versions are mixed',
      security,
      responses: {
        200: json(
          z.object({
            nodes: z.array(
              z.object({
                id: z.string(),
                version: z.string(),
                host: z.string(),
                pid: z.number(),
                startedAt: z.string(),
                heartbeatAt: z.string(),
                ageSeconds: z.number(),
                stale: z.boolean(),
              }),
            ),
            versions: z.array(z.string()),
            mixedVersions: z.boolean(),
          }),
          'The nodes',
        ),
        503: json(ErrorBody, 'Not a cluster'),
        ...errors,
      },
    }),
    async (c) => {
      if (!ctx.cluster)
        throw new CertgateError(
          'E_ADMIN_UNAVAILABLE',
          'this server is not on a PostgreSQL store: it is a cluster of one',
          'set store (--store postgres://...) to share a store',
        );
      const status = await ctx.cluster();
      return c.json(
        {
          ...status,
          nodes: status.nodes.map(({ id, version, host, pid, startedAt, heartbeatAt, ageSeconds, stale }) => ({
            id,
            version,
            host,
            pid,
            startedAt,
            heartbeatAt,
            ageSeconds,
            stale,
          })),
        },
        200,
      );
    },
  );
  app.openapi(
    createRoute({
      method: 'get',
      path: '/api/doctor',
      summary: "certgate doctor's checks, each with its verdict and fix",
      security,
      responses: {
        200: json(
          z.object({
            ok: z.boolean(),
            checks: z.array(z.object({ id: z.string(), status: z.string(), title: z.string(), detail: z.string(), fix: z.string().nullable() })),
          }),
          'The report',
        ),
        503: json(ErrorBody, 'No doctor here'),
        ...errors,
      },
    }),
    async (c) => {
      if (!ctx.doctor) throw new CertgateError('E_ADMIN_UNAVAILABLE', 'doctor is not available in this server', 'run certgate doctor');
      return c.json(await ctx.doctor(), 200);
    },
  );
  app.openapi(
    createRoute({
      method: 'get',
      path: '/metrics',
      summary: 'Prometheus metrics (same token rules as the API)',
      security,
      responses: {
        200: { description: 'The exposition text', content: { 'text/plain': { schema: z.string() } } },
        503: json(ErrorBody, 'No metrics here'),
        ...errors,
      },
    }),
    async (c) => {
      if (!ctx.metrics) throw new CertgateError('E_ADMIN_UNAVAILABLE', 'metrics are not available in this server', 'start certgate serve with metrics on');
      return c.body(await ctx.metrics.text(), 200, { 'content-type': ctx.metrics.contentType }) as never;
    },
  );
  return app;
}
