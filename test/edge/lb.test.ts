/**
 * Behind a real load balancer: Debian's nginx terminates TLS on 127.0.0.2 and forwards to the
 * edge, over plain HTTP or over TLS with the edge's internal (local-CA) certificate. The
 * scheme and client come from the trusted hop only, https visitors are never redirected (no
 * loop), plain http visitors are, and HSTS follows the visitor's scheme.
 */
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { request as httpRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { join } from 'node:path';
import { type TestContext, test } from 'node:test';
import { freePort } from '../helpers/daemons.ts';
import { startNginx } from '../helpers/nginx.ts';
import { requirePackages } from '../helpers/require.ts';
import { tempDir } from '../helpers/tmp.ts';
import { startEdge, startUpstream } from './helpers.ts';

const skip = requirePackages('nginx');

function fetchVia(
  port: number,
  options: { tls: boolean; host: string; ca?: string; localAddress?: string; path?: string; headers?: Record<string, string>; target?: string },
): Promise<{ status: number; headers: Record<string, string | string[] | undefined>; body: string }> {
  return new Promise((resolve, reject) => {
    const fn = options.tls ? httpsRequest : httpRequest;
    const req = fn(
      {
        host: options.target ?? '127.0.0.2',
        port,
        path: options.path ?? '/',
        headers: { host: options.host, ...options.headers },
        localAddress: options.localAddress ?? '127.0.0.9',
        ...(options.tls ? { ca: options.ca, servername: options.host, agent: false } : {}),
      },
      (res) => {
        let body = '';
        res.on('data', (d) => {
          body += d;
        });
        res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
      },
    );
    req.on('error', reject);
    req.end();
  });
}

/** nginx's two listeners in front: TLS with the site's certificate, and plain HTTP. */
function frontServers(dir: string, tlsPort: number, httpPort: number, backend: string, extra = ''): string {
  const forward = `proxy_set_header Host $host; proxy_set_header X-Forwarded-Proto $scheme; proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for; proxy_bind 127.0.0.2; proxy_http_version 1.1; ${extra}`;
  return `  server {\n    listen 127.0.0.2:${tlsPort} ssl;\n    ssl_certificate ${dir}/site.pem;\n    ssl_certificate_key ${dir}/site.key;\n    location / { proxy_pass ${backend}; ${forward} }\n  }\n  server {\n    listen 127.0.0.2:${httpPort};\n    location / { proxy_pass ${backend}; ${forward} }\n  }\n`;
}

/** nginx in front of the edge with a local-CA certificate for app.example.com, and the edge's CA as edge-ca.pem for TLS to it. */
async function startFront(
  t: TestContext,
  e: Awaited<ReturnType<typeof startEdge>>,
  backend: string,
  extra: (dir: string) => string = () => '',
): Promise<{ tlsPort: number; httpPort: number }> {
  const site = await e.localCa.issue(['app.example.com']);
  const [tlsPort, httpPort] = [await freePort(), await freePort()];
  const nginx = await startNginx(
    (d) => {
      writeFileSync(join(d, 'site.pem'), site.certPem);
      writeFileSync(join(d, 'site.key'), site.keyPem, { mode: 0o600 });
      writeFileSync(join(d, 'edge-ca.pem'), e.caPem);
      return frontServers(d, tlsPort, httpPort, backend, extra(d));
    },
    [tlsPort, httpPort],
  );
  t.after(() => nginx.close());
  return { tlsPort, httpPort };
}

test('nginx terminates TLS and forwards plain HTTP: no redirect loop, X-Forwarded-Proto https, the client from the trusted hop, HSTS', {
  skip,
  timeout: 60_000,
}, async (t) => {
  const dir = tempDir(t);
  const app = await startUpstream();
  t.after(() => app.close());
  const logs: string[] = [];
  const e = await startEdge(dir, {
    httpsPort: null,
    upstream: app.url,
    behindProxy: { trustedProxies: ['127.0.0.2'] },
    hsts: { maxAge: 600, includeSubDomains: false, preload: false },
    log: (ev) => logs.push(ev.msg),
  });
  t.after(() => e.edge.close());
  const { tlsPort, httpPort } = await startFront(t, e, `http://127.0.0.1:${e.http}`);

  const secure = await fetchVia(tlsPort, { tls: true, host: 'app.example.com', ca: e.caPem, path: '/dashboard' });
  assert.equal(secure.status, 200, 'served, not redirected: the visitor came over https');
  const seen = JSON.parse(secure.body);
  assert.equal(seen.url, '/dashboard');
  assert.equal(seen.headers['x-forwarded-proto'], 'https');
  assert.equal(seen.headers['x-real-ip'], '127.0.0.9', 'the visitor, as nginx saw it');
  assert.equal(seen.headers['x-forwarded-for'], '127.0.0.9, 127.0.0.2');
  assert.equal(seen.headers.host, 'app.example.com');
  assert.equal(secure.headers['strict-transport-security'], 'max-age=600', 'HSTS for an https visitor of a public name');

  const plain = await fetchVia(httpPort, { tls: false, host: 'app.example.com', path: '/x?y=1' });
  assert.equal(plain.status, 308, 'a plain-http visitor (X-Forwarded-Proto http from the trusted hop) is sent to https');
  assert.equal(plain.headers.location, 'https://app.example.com/x?y=1', 'to the public port, not the edge port');
  assert.equal(plain.headers['strict-transport-security'], undefined);

  // Someone reaching the edge directly with forged headers is neither believed nor redirected.
  const forged = await fetchVia(e.http, {
    tls: false,
    target: '127.0.0.1',
    host: 'app.example.com',
    localAddress: '127.0.0.1',
    headers: { 'x-forwarded-proto': 'https', 'x-forwarded-for': '198.51.100.1' },
  });
  assert.equal(forged.status, 200, 'not redirected either: that peer might be a misconfigured load balancer');
  const forgedSeen = JSON.parse(forged.body);
  assert.equal(forgedSeen.headers['x-forwarded-proto'], 'http');
  assert.equal(forgedSeen.headers['x-forwarded-for'], '127.0.0.1');
  assert.ok(
    logs.some((m) => /ignored X-Forwarded-\* headers from 127\.0\.0\.1: not a trusted proxy/.test(m)),
    'the operator is told once, in case that peer is their load balancer',
  );
});

test('TLS between nginx and the edge: nginx verifies the internal certificate (local CA) and the forwarded headers are trusted', {
  skip,
  timeout: 60_000,
}, async (t) => {
  const dir = tempDir(t);
  const app = await startUpstream();
  t.after(() => app.close());
  const e = await startEdge(dir, { upstream: app.url, behindProxy: { trustedProxies: ['127.0.0.2'] } });
  t.after(() => e.edge.close());
  const { tlsPort, httpPort } = await startFront(
    t,
    e,
    `https://127.0.0.1:${e.https}`,
    (d) => `proxy_ssl_verify on; proxy_ssl_trusted_certificate ${d}/edge-ca.pem; proxy_ssl_server_name on; proxy_ssl_name certgate.internal;`,
  );
  const r = await fetchVia(tlsPort, { tls: true, host: 'app.example.com', ca: e.caPem });
  assert.equal(r.status, 200, 'nginx verified the edge certificate (a failed verification is a 502)');
  const seen = JSON.parse(r.body);
  assert.equal(seen.headers['x-forwarded-proto'], 'https');
  assert.equal(seen.headers['x-real-ip'], '127.0.0.9');
  // The plain-http listener of nginx, also over TLS to the edge: the visitor's scheme wins.
  const plain = await fetchVia(httpPort, { tls: false, host: 'app.example.com' });
  assert.equal(plain.status, 308);
  assert.equal(plain.headers.location, 'https://app.example.com/');
});
