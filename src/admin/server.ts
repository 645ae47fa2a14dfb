/**
 * @module admin/server
 * The admin listener: the JSON API, /openapi.json, /metrics and the dashboard on their own
 * address (127.0.0.1:2020 by default, a Unix socket, or off), never on the edge's ports.
 *
 *   request → guard (Host, Origin, cross-site) → body limit → auth (token or session cookie,
 *   failures rate-limited per client) → API route | dashboard page
 *
 * A non-loopback TCP address is served over TLS only: the caller hands the certificate in, and
 * start-up says which. Tokens and keys never reach a response or a log line.
 */

import { rm } from 'node:fs/promises';
import { createServer as createHttp, type Server } from 'node:http';
import { createServer as createHttps } from 'node:https';
import { getRequestListener, type HttpBindings } from '@hono/node-server';
import type { Context, MiddlewareHandler } from 'hono';
import { bodyLimit } from 'hono/body-limit';
import { deleteCookie, getCookie, setCookie } from 'hono/cookie';
import { CertgateError } from '../errors.ts';
import { listenOn } from '../listen.ts';
import { type AdminEnv, apiRoutes, createAdminApp, errorBody } from './api.ts';
import { StateCache } from './certificates.ts';
import type { AdminContext } from './context.ts';
import { dashboardRoutes } from './dashboard.ts';
import { allowedHosts, checkRequest, FailureLimiter, type Listener } from './guard.ts';
import { type AdminAddress, parseAdminListen } from './listen.ts';
import { RecentEvents } from './recent.ts';
import { type AuthKit, SESSION_COOKIE, SESSION_MS, Sessions } from './session.ts';
import { AdminTokens } from './tokens.ts';

/** Bodies above this are refused before they are read whole (a trust upload is a few KiB). */
export const MAX_BODY_BYTES = 1024 * 1024;

export interface AdminServerOptions {
  /** `host:port`, `unix:/path`, or `off`. */
  listen: string;
  /** Required for a non-loopback TCP address. `what` is said at start-up ("the local CA", "app.example.com"). */
  tls?: { certPem: string; keyPem: string; what: string; names?: string[] } | null;
  /** Failed authentications a client may make per minute before it is refused for a while. */
  maxFailures?: number;
}

export interface AdminServer {
  /** `https://127.0.0.1:2020`, `unix:/run/certgate/admin.sock`. */
  readonly url: string;
  readonly address: AdminAddress;
  close(): Promise<void>;
}

function clientOf(c: Context): string {
  const env = c.env as HttpBindings | undefined;
  return env?.incoming?.socket?.remoteAddress ?? 'local';
}

function securityHeaders(): MiddlewareHandler {
  return async (c, next) => {
    await next();
    c.header('X-Content-Type-Options', 'nosniff');
    // same-origin, not no-referrer: under no-referrer Chromium sends `Origin: null` with a form post.
    c.header('Referrer-Policy', 'same-origin');
    c.header('X-Frame-Options', 'DENY');
    c.header('Cache-Control', 'no-store');
    c.header(
      'Content-Security-Policy',
      "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
    );
  };
}

const PUBLIC = new Set(['/login', '/openapi.json', '/assets/app.js', '/assets/app.css', '/favicon.ico']);

function wantsHtml(c: Context): boolean {
  return !c.req.path.startsWith('/api/') && c.req.path !== '/metrics';
}

/** The token (Authorization: Bearer) or the session cookie, checked against the live tokens. */
function authenticate(kit: AuthKit): MiddlewareHandler<AdminEnv> {
  return async (c, next) => {
    if (PUBLIC.has(c.req.path)) return next();
    const client = kit.clientOf(c);
    const wait = kit.limiter.blockedFor(client);
    if (wait > 0) {
      c.header('Retry-After', String(wait));
      return c.json(
        errorBody('E_ADMIN_RATE_LIMITED', `too many failed logins from this address; wait ${wait} s`, 'check the token: certgate admin token list'),
        429,
      );
    }
    const header = c.req.header('authorization');
    const cookie = getCookie(c, SESSION_COOKIE);
    let tokenId: string | null = null;
    if (header !== undefined) {
      const m = /^Bearer\s+(\S+)$/i.exec(header);
      tokenId = m ? await kit.tokens.verify(m[1] as string) : null;
    } else if (cookie !== undefined) {
      const s = kit.sessions.get(cookie);
      // A revoked token ends its sessions at their next request.
      if (s && (await kit.tokens.list()).some((t) => t.id === s.tokenId)) tokenId = s.tokenId;
      else kit.sessions.drop(cookie);
    }
    if (!tokenId) {
      if (header !== undefined || cookie !== undefined) kit.limiter.fail(client);
      if (cookie !== undefined) deleteCookie(c, SESSION_COOKIE, { path: '/' });
      if (wantsHtml(c)) return c.redirect('/login', 303);
      c.header('WWW-Authenticate', 'Bearer realm="certgate admin"');
      return c.json(
        errorBody(
          'E_ADMIN_AUTH',
          header !== undefined || cookie !== undefined ? 'the token is not valid (wrong, or revoked)' : 'this needs an admin token',
          'send Authorization: Bearer TOKEN; make one with certgate admin token create',
        ),
        401,
      );
    }
    c.set('tokenId', tokenId);
    return next();
  };
}

export function buildAdminApp(ctx: AdminContext, kit: AuthKit, listener: Listener, streams: Set<() => void>, names: readonly string[] = []) {
  const hosts = allowedHosts(listener, names);
  const app = createAdminApp();
  // Registered before the routes (hono runs middleware in order): every request passes here first.
  app.use('*', securityHeaders());
  app.use('*', async (c, next) => {
    const v = checkRequest(c.req.method, c.req.raw.headers, hosts);
    if (!v.ok) {
      ctx.log.warn({ method: c.req.method, path: c.req.path, code: v.code }, `admin: refused ${c.req.method} ${c.req.path}: ${v.message}`);
      return c.json(errorBody(v.code, v.message, v.fix), v.status);
    }
    return next();
  });
  app.use(
    '*',
    bodyLimit({
      maxSize: MAX_BODY_BYTES,
      onError: (c) =>
        c.json(
          errorBody(
            'E_ADMIN_BODY_TOO_LARGE',
            `the request body is larger than ${MAX_BODY_BYTES / 1024} KiB; nothing was read or stored`,
            'send a single certificate file',
          ),
          413,
        ),
    }),
  );
  app.use('*', authenticate(kit));
  app.use('*', async (c, next) => {
    const t0 = performance.now();
    await next();
    // Method, path and status only: never the query, a header or a body.
    ctx.log.debug({ method: c.req.method, path: c.req.path, status: c.res.status, ms: Math.round(performance.now() - t0) }, 'admin request');
  });
  apiRoutes(app, ctx, streams);
  dashboardRoutes(app, ctx, kit);
  app.post('/login', async (c) => {
    const form = await c.req.parseBody().catch(() => ({}) as Record<string, unknown>);
    const token = typeof form.token === 'string' ? form.token.trim() : '';
    const client = kit.clientOf(c);
    const wait = kit.limiter.blockedFor(client);
    if (wait > 0) return c.redirect(`/login?error=rate`, 303);
    const id = token ? await kit.tokens.verify(token) : null;
    if (!id) {
      kit.limiter.fail(client);
      ctx.log.warn({ client }, 'admin: a login with a wrong token');
      return c.redirect('/login?error=token', 303);
    }
    setCookie(c, SESSION_COOKIE, kit.sessions.create(id), { httpOnly: true, sameSite: 'Strict', secure: kit.secure, path: '/', maxAge: SESSION_MS / 1000 });
    ctx.log.info({ token: id }, `admin: signed in with token ${id}`);
    return c.redirect('/', 303);
  });
  app.post('/logout', (c) => {
    kit.sessions.drop(getCookie(c, SESSION_COOKIE));
    deleteCookie(c, SESSION_COOKIE, { path: '/' });
    return c.redirect('/login', 303);
  });
  app.doc31('/openapi.json', {
    openapi: '3.1.0',
    info: { title: 'certgate admin API', version: '1', description: 'Certificates, domains, trust store, resources, events, settings, doctor.' },
  });
  app.notFound((c) => c.json(errorBody('E_ADMIN_NOT_FOUND', `no route ${c.req.method} ${c.req.path}`, 'see /openapi.json for the routes'), 404));
  return app;
}

/**
 * Starts the admin listener.
 * @example await startAdmin(ctx, { listen: '127.0.0.1:2020' })
 */
export async function startAdmin(ctx: AdminContext, options: AdminServerOptions): Promise<AdminServer | null> {
  const address = parseAdminListen(options.listen);
  if (address.kind === 'off') return null;
  const tls = options.tls ?? null;
  if (address.kind === 'tcp' && !address.loopback && !tls)
    throw new CertgateError(
      'E_ADMIN_TLS',
      `the admin API would listen on ${address.host}:${address.port}, which is not loopback, without TLS: tokens would cross the network in clear`,
      'set admin.tls to local-ca (or to a managed domain whose certificate it should use), or listen on 127.0.0.1 / a unix: socket',
      { option: 'adminTls' },
    );
  const streams = new Set<() => void>();
  const ownStates = ctx.states ? null : new StateCache(ctx.store);
  if (ownStates) ctx = { ...ctx, states: ownStates };
  const kit: AuthKit = {
    tokens: new AdminTokens(ctx.store),
    sessions: new Sessions(),
    limiter: new FailureLimiter(options.maxFailures ?? 10),
    secure: Boolean(tls),
    recent: new RecentEvents(),
    clientOf,
  };
  const listener: Listener = { host: address.kind === 'tcp' ? address.host : null, port: address.kind === 'tcp' ? address.port : null, tls: Boolean(tls) };
  let app = buildAdminApp(ctx, kit, listener, streams, tls?.names ?? []);
  let handler = getRequestListener(app.fetch);
  const server: Server = tls
    ? createHttps({ cert: tls.certPem, key: tls.keyPem, minVersion: 'TLSv1.2' }, (req, res) => handler(req, res))
    : createHttp((req, res) => handler(req, res));
  server.headersTimeout = 10_000;
  server.requestTimeout = 60_000;
  const listen = async (): Promise<string> => {
    if (address.kind === 'unix') {
      await rm(address.path, { force: true });
      await new Promise<void>((resolve, reject) => {
        server.once('error', (err: NodeJS.ErrnoException) =>
          reject(
            new CertgateError(
              'E_LISTEN',
              `cannot listen on the admin socket ${address.path} (${err.code})`,
              'check that its directory exists and is writable',
              {
                cause: err,
              },
            ),
          ),
        );
        server.listen(address.path, () => resolve());
      });
      return `unix:${address.path}`;
    }
    if (address.kind === 'tcp') {
      const port = await listenOn(server, address.port, address.host, 'the admin API');
      if (address.port === 0) {
        // The Host check needs the real port.
        listener.port = port;
        app = buildAdminApp(ctx, kit, listener, streams, tls?.names ?? []);
        handler = getRequestListener(app.fetch);
      }
      const h = address.host.includes(':') ? `[${address.host}]` : address.host;
      return `${tls ? 'https' : 'http'}://${h}:${port}`;
    }
    throw new CertgateError('E_OPTION', 'the admin listener is off', 'this is a bug in certgate: report it');
  };
  let url: string;
  try {
    url = await listen();
  } catch (err) {
    kit.recent.close();
    ownStates?.close();
    throw err;
  }
  ctx.log.info(
    { url, tls: tls ? tls.what : null },
    `admin API and dashboard on ${url}${tls ? ` (TLS: ${tls.what})` : address.kind === 'unix' ? '' : ' (loopback only)'}; sign in with a token from certgate admin token create`,
  );
  return {
    url,
    address,
    async close() {
      for (const stop of [...streams]) stop();
      kit.recent.close();
      ownStates?.close();
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeIdleConnections();
      const t = setTimeout(() => server.closeAllConnections(), 2000);
      await closed;
      clearTimeout(t);
      if (address.kind === 'unix') await rm(address.path, { force: true });
    },
  };
}
