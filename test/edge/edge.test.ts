/**
 * The edge on loopback: local CA for localhost, HTTP/2, the redirect, HSTS, the proxy with its
 * forwarded headers, WebSocket, behind a real TLS-terminating proxy, bad input, a certificate
 * swapped under load, and the drain on close.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { request as httpRequest } from 'node:http';
import { connect as http2Connect } from 'node:http2';
import { createServer as createHttpsServer, request as httpsRequest } from 'node:https';
import { connect as netConnect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { connect as tlsConnect } from 'node:tls';
import { promisify } from 'node:util';
import { run } from '../../src/cli/run.ts';
import type { AccessEntry } from '../../src/edge/access-log.ts';
import { decodeCertificate } from '../../src/pki/certificate.ts';
import { parseCertificates } from '../../src/pki/parse.ts';
import { cleanEnv } from '../helpers/env.ts';
import { fakeIo } from '../helpers/io.ts';
import { tempDir } from '../helpers/tmp.ts';
import { startEdge, startUpstream, waitFor } from './helpers.ts';

const exec = promisify(execFile);

function get(
  port: number,
  path: string,
  options: { ca?: string; servername?: string; headers?: Record<string, string>; http?: boolean; localAddress?: string } = {},
) {
  return new Promise<{ status: number; headers: Record<string, string | string[] | undefined>; body: string; serial?: string }>((resolve, reject) => {
    const fn = options.http ? httpRequest : httpsRequest;
    const req = fn(
      {
        host: '127.0.0.1',
        port,
        path,
        ...(options.http ? {} : { ca: options.ca, servername: options.servername ?? 'localhost', agent: false }),
        headers: { host: options.servername ?? 'localhost', ...options.headers },
        ...(options.localAddress ? { localAddress: options.localAddress } : {}),
      },
      (res) => {
        let body = '';
        res.on('data', (d) => {
          body += d;
        });
        res.on('end', () => {
          resolve({ status: res.statusCode ?? 0, headers: res.headers, body, ...(serial ? { serial } : {}) });
        });
      },
    );
    // Read the certificate when the handshake completes: by the end of the response the socket may be gone.
    let serial: string | undefined;
    req.on('socket', (socket) => {
      socket.once('secureConnect', () => {
        serial = (socket as unknown as { getPeerCertificate(): { serialNumber?: string } }).getPeerCertificate().serialNumber;
      });
    });
    req.on('error', reject);
    req.end();
  });
}

test('localhost over HTTPS from the local CA, verified by Node and by curl --cacert; HTTP/2; the demo page without an upstream', {
  timeout: 60_000,
}, async (t) => {
  const dir = tempDir(t);
  const e = await startEdge(dir);
  t.after(() => e.edge.close());
  const r = await get(e.https, '/', { ca: e.caPem });
  assert.equal(r.status, 200);
  assert.match(r.body, /certgate is serving HTTPS for localhost/);
  assert.equal(r.headers['strict-transport-security'], undefined, 'never HSTS on localhost');
  const caFile = `${dir}/local-ca/root.pem`;
  const curl = await exec('curl', ['-s', '--cacert', caFile, '--resolve', `localhost:${e.https}:127.0.0.1`, `https://localhost:${e.https}/`]);
  assert.match(curl.stdout, /certgate is serving HTTPS/);
  const session = http2Connect(`https://127.0.0.1:${e.https}`, { ca: e.caPem, servername: 'localhost' });
  t.after(() => session.close());
  const h2 = await new Promise<{ status: number; body: string }>((resolve, reject) => {
    const s = session.request({ ':path': '/' });
    let body = '';
    let status = 0;
    s.on('response', (h) => {
      status = Number(h[':status']);
    });
    s.on('data', (d) => {
      body += d;
    });
    s.on('end', () => resolve({ status, body }));
    s.on('error', reject);
  });
  assert.equal(h2.status, 200);
  assert.match(h2.body, /HTTP\/2 over HTTPS/);
});

test('port 80: an exact 308 to https, HTTP-01 answers, and HSTS only on public names over HTTPS', { timeout: 60_000 }, async (t) => {
  const dir = tempDir(t);
  const e = await startEdge(dir, { hsts: { maxAge: 31536000, includeSubDomains: true, preload: false } });
  t.after(() => e.edge.close());
  const r = await get(e.http, '/a/b?c=1', { http: true, servername: 'app.example.com' });
  assert.equal(r.status, 308);
  assert.equal(r.headers.location, `https://app.example.com:${e.https}/a/b?c=1`);
  assert.equal(r.headers['strict-transport-security'], undefined, 'never HSTS on plain HTTP');
  e.answers.http.set('tok123', 'tok123.thumbprint');
  const acme = await get(e.http, '/.well-known/acme-challenge/tok123', { http: true, servername: 'app.example.com' });
  assert.equal(acme.status, 200);
  assert.equal(acme.body, 'tok123.thumbprint');
  // A public name with a certificate in the cache gets HSTS, exactly as configured.
  const bundle = await e.localCa.issue(['app.example.com']);
  e.edge.update('app.example.com', bundle);
  const secure = await get(e.https, '/', { ca: e.caPem, servername: 'app.example.com' });
  assert.equal(secure.headers['strict-transport-security'], 'max-age=31536000; includeSubDomains');
});

test('the proxy: forwarded headers set (and client-sent ones replaced), WebSocket echo, 502 when the app is down', { timeout: 60_000 }, async (t) => {
  const dir = tempDir(t);
  const app = await startUpstream();
  t.after(() => app.close());
  const e = await startEdge(dir, { upstream: app.url });
  t.after(() => e.edge.close());
  const r = await get(e.https, '/hello?x=1', { ca: e.caPem, headers: { 'x-forwarded-for': '6.6.6.6', 'x-forwarded-proto': 'http' } });
  assert.equal(r.status, 200);
  const seen = JSON.parse(r.body);
  assert.equal(seen.url, '/hello?x=1');
  assert.equal(seen.headers['x-forwarded-for'], '127.0.0.1', 'a client cannot forge its address');
  assert.equal(seen.headers['x-forwarded-proto'], 'https');
  assert.equal(seen.headers['x-forwarded-host'], 'localhost');
  assert.equal(seen.headers.forwarded, 'for=127.0.0.1;proto=https;host="localhost"');
  // WebSocket: the upgrade goes through and bytes flow both ways.
  const echoed = await new Promise<string>((resolve, reject) => {
    const s = tlsConnect({ port: e.https, host: '127.0.0.1', servername: 'localhost', ca: [e.caPem], ALPNProtocols: ['http/1.1'] }, () => {
      s.write(
        'GET /ws HTTP/1.1\r\nHost: localhost\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n',
      );
    });
    let got = '';
    s.on('data', (d) => {
      got += d;
      if (got.includes('\r\n\r\n') && !got.includes('echo:')) s.write('ping');
      if (got.includes('echo:ping')) {
        s.destroy();
        resolve(got);
      }
    });
    s.on('error', reject);
  });
  assert.match(echoed, /^HTTP\/1\.1 101 Switching Protocols/);
  assert.match(echoed, /echo:ping/);
  assert.equal(app.seen.at(-1)?.headers['x-forwarded-proto'], 'https');
  // The client went away: the edge must close its side to the app too (no leaked upstream sockets).
  const gone = Date.now() + 2000;
  while (app.upgraded.size && Date.now() < gone) await new Promise((r) => setTimeout(r, 20));
  assert.equal(app.upgraded.size, 0, 'the upstream WebSocket connection was closed');
  await app.close();
  const down = await get(e.https, '/', { ca: e.caPem });
  assert.equal(down.status, 502);
  assert.match(down.body, /502 Bad Gateway/);
});

test('behind a TLS-terminating load balancer: no redirect loop, the scheme and client from trusted hops only', { timeout: 60_000 }, async (t) => {
  const dir = tempDir(t);
  const app = await startUpstream();
  t.after(() => app.close());
  const e = await startEdge(dir, { httpsPort: null, upstream: app.url, behindProxy: { trustedProxies: ['127.0.0.2'] } });
  t.after(() => e.edge.close());
  // The load balancer: a real TLS-terminating proxy (Node) on 127.0.0.2 → the edge over plain HTTP.
  const lbCert = await e.localCa.issue(['app.example.com']);
  const lb = createHttpsServer({ cert: lbCert.certPem, key: lbCert.keyPem }, (req, res) => {
    const up = httpRequest(
      {
        host: '127.0.0.1',
        port: e.http,
        path: req.url,
        method: req.method,
        localAddress: '127.0.0.2',
        headers: { ...req.headers, 'x-forwarded-proto': 'https', 'x-forwarded-for': '203.0.113.7' },
      },
      (r) => {
        res.writeHead(r.statusCode ?? 502, r.headers);
        r.pipe(res);
      },
    );
    req.pipe(up);
  });
  await new Promise<void>((r) => lb.listen(0, '127.0.0.1', r));
  t.after(() => new Promise((r) => lb.close(r)));
  const lbPort = (lb.address() as { port: number }).port;
  const r = await get(lbPort, '/dashboard', { ca: e.caPem, servername: 'app.example.com' });
  assert.equal(r.status, 200, 'no redirect: the original scheme was https');
  const seen = JSON.parse(r.body);
  assert.equal(seen.headers['x-forwarded-proto'], 'https');
  assert.equal(seen.headers['x-forwarded-for'], '203.0.113.7, 127.0.0.2', 'the chain from the trusted hop, then the hop itself');
  assert.equal(seen.headers['x-real-ip'], '203.0.113.7');
  // Anyone else claiming https is not believed: plain http gets the redirect... and no HTTPS port exists here, so it is served as http.
  const direct = await get(e.http, '/', { http: true, servername: 'app.example.com', headers: { 'x-forwarded-proto': 'https', 'x-forwarded-for': '1.2.3.4' } });
  const directSeen = JSON.parse(direct.body);
  assert.equal(directSeen.headers['x-forwarded-proto'], 'http', 'forwarded headers from an untrusted peer are ignored');
  assert.equal(directSeen.headers['x-forwarded-for'], '127.0.0.1');
});

// Bad input, one behaviour per test, against one edge shared by them (started on first use).
let hostile: Promise<Awaited<ReturnType<typeof startEdge>>> | null = null;
let closeHostile = async () => {};
// Registered at load time, so that it runs once, after every test of this file.
test.after(() => closeHostile());
function hostileEdge(): Promise<Awaited<ReturnType<typeof startEdge>>> {
  hostile ??= (async () => {
    const dir = mkdtempSync(join(tmpdir(), 'certgate-hostile-'));
    const app = await startUpstream();
    const e = await startEdge(dir, { upstream: app.url });
    closeHostile = async () => {
      await e.edge.close();
      await app.close();
      rmSync(dir, { recursive: true, force: true });
    };
    return e;
  })();
  return hostile;
}

/** Bytes sent raw to the HTTP port; what came back before the server closed (or 2 s). */
async function raw(payload: string): Promise<string> {
  const e = await hostileEdge();
  return new Promise<string>((resolve) => {
    const s = netConnect({ port: e.http, host: '127.0.0.1' }, () => s.write(payload));
    let got = '';
    s.on('data', (d) => {
      got += d;
    });
    s.on('close', () => resolve(got));
    s.on('error', () => resolve(got));
    setTimeout(() => s.destroy(), 2000);
  });
}

/** A TLS handshake with this SNI: "connected as CN" or the error code. */
async function attempt(sni: string): Promise<string> {
  const e = await hostileEdge();
  return new Promise<string>((resolve) => {
    const s = tlsConnect({ port: e.https, host: '127.0.0.1', servername: sni, rejectUnauthorized: false }, () => {
      const cn = String(s.getPeerCertificate().subject?.CN);
      s.destroy();
      resolve(`connected as ${cn}`);
    });
    s.on('error', (err) => resolve((err as NodeJS.ErrnoException).code ?? 'error'));
  });
}

test('bad input: a malformed Host header is a 400', async () => {
  assert.match(await raw('GET / HTTP/1.1\r\nHost: bad host!\r\n\r\n'), /^HTTP\/1\.1 400/);
});

test('bad input: Content-Length with Transfer-Encoding (smuggling) is a 400', async () => {
  assert.match(await raw('POST / HTTP/1.1\r\nHost: a.example.com\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n'), /^HTTP\/1\.1 400/);
});

test('bad input: headers over the limit are a 431', async () => {
  assert.match(await raw(`GET / HTTP/1.1\r\nHost: a.example.com\r\nX-Big: ${'a'.repeat(70_000)}\r\n\r\n`), /^HTTP\/1\.1 431/);
});

for (const sni of ['bad_name!.example.com', '..', 'a..b.example.com'])
  test(`bad input: a garbage SNI (${sni}) gets no certificate`, async () => {
    assert.doesNotMatch(await attempt(sni), /^connected/);
  });

test('bad input: an SNI over 255 bytes cannot be sent, so the handshake gets the no-SNI default, never a certificate for that name', async () => {
  for (const sni of ['a'.repeat(63).concat('.').repeat(20), `${'l.'.repeat(1000)}com`])
    assert.equal(await attempt(sni), 'connected as localhost', sni.slice(0, 20));
});

test("bad input: a stored pair whose key is another certificate's fails only its own handshake", async () => {
  const e = await hostileEdge();
  const [one, two] = [await e.localCa.issue(['mismatch.example.com']), await e.localCa.issue(['other.example.com'])];
  e.edge.update('mismatch.example.com', { ...one, keyPem: two.keyPem });
  assert.doesNotMatch(await attempt('mismatch.example.com'), /^connected/);
  assert.equal((await get(e.https, '/', { ca: e.caPem })).status, 200, 'still serving');
});

test('bad input: a busy port is E_PORT_IN_USE with its fix', async () => {
  const e = await hostileEdge();
  const { Edge } = await import('../../src/edge/edge.ts');
  const busy = new Edge({ httpsPort: e.https, httpPort: 0, host: '127.0.0.1', upstream: null, cache: e.cache, localCa: e.localCa, answers: e.answers });
  await assert.rejects(
    busy.start(),
    (err: Error & { code?: string; fix?: string }) => err.code === 'E_PORT_IN_USE' && /port \d+ \(HTTPS\) is in use/.test(err.message) && Boolean(err.fix),
  );
});

test('a renewed certificate is served on the next handshake, under load, with no failed request', { timeout: 60_000 }, async (t) => {
  const dir = tempDir(t);
  const e = await startEdge(dir);
  t.after(() => e.edge.close());
  const first = await e.localCa.issue(['swap.example.com']);
  e.edge.update('swap.example.com', first);
  // Node prints serials without leading zeros, the decoder with them: compare them the same way.
  const norm = (serial: string | undefined) =>
    serial
      ?.toUpperCase()
      .replace(/[^0-9A-F]/g, '')
      .replace(/^0+/, '');
  const serialOf = (pem: string) => norm(decodeCertificate(parseCertificates(Buffer.from(pem))[0]?.der ?? Buffer.alloc(0)).info.serialNumber);
  const second = await e.localCa.issue(['swap.example.com']);
  const results: Array<{ status: number; serial?: string }> = [];
  const deadline = Date.now() + 20_000;
  let swapped = false;
  const worker = async () => {
    for (let i = 0; i < 40 && Date.now() < deadline; i++) {
      results.push(await get(e.https, '/', { ca: e.caPem, servername: 'swap.example.com' }));
      if (results.length >= 60 && !swapped) {
        swapped = true;
        e.edge.update('swap.example.com', second);
      }
    }
  };
  await Promise.all([worker(), worker(), worker(), worker()]);
  assert.equal(results.length, 160, `${results.length} requests`);
  assert.ok(
    results.every((r) => r.status === 200),
    'no failed request',
  );
  const serials = new Set(results.map((r) => norm(r.serial)));
  assert.ok(
    serials.has(serialOf(first.certPem)) && serials.has(serialOf(second.certPem)),
    `both certificates were served: saw ${[...serials].join(', ')}; first ${serialOf(first.certPem)}, second ${serialOf(second.certPem)}`,
  );
  assert.equal(norm(results.at(-1)?.serial), serialOf(second.certPem), 'the new one from then on');
});

test('close drains: a request in flight finishes, new connections are refused', { timeout: 60_000 }, async (t) => {
  const dir = tempDir(t);
  const app = await startUpstream();
  t.after(() => app.close());
  const e = await startEdge(dir, { upstream: app.url });
  const slow = get(e.https, '/slow', { ca: e.caPem });
  await new Promise((r) => setTimeout(r, 50));
  const closing = e.edge.close();
  const r = await slow;
  assert.equal(r.status, 200, 'the request in flight completed');
  await closing;
  await assert.rejects(get(e.https, '/', { ca: e.caPem }), /ECONNREFUSED/);
});

/** The certificate a client that sends no SNI gets (Node sends none for an IP address). */
function noSniCertificate(port: number, ca: string): Promise<{ cn: string; authorized: boolean; error?: string }> {
  return new Promise((resolve, reject) => {
    const s = tlsConnect({ port, host: '127.0.0.1', ca, rejectUnauthorized: false }, () => {
      const cn = String(s.getPeerCertificate().subject?.CN);
      resolve({ cn, authorized: s.authorized, ...(s.authorizationError ? { error: String(s.authorizationError) } : {}) });
      s.destroy();
    });
    s.on('error', reject);
  });
}

test('a client without SNI gets the default certificate: local CA for localhost and the loopback IPs, or the defaultSni name', {
  timeout: 60_000,
}, async (t) => {
  const dir = tempDir(t);
  const e = await startEdge(dir);
  t.after(() => e.edge.close());
  const local = await noSniCertificate(e.https, e.caPem);
  assert.deepEqual(local, { cn: 'localhost', authorized: true }, 'valid for https://127.0.0.1 with the local CA trusted');
  const curl = await exec('curl', ['-s', '--cacert', `${dir}/local-ca/root.pem`, `https://127.0.0.1:${e.https}/`]);
  assert.match(curl.stdout, /certgate is serving HTTPS for 127\.0\.0\.1/);
  // With defaultSni naming a stored certificate, that one; it follows renewals too.
  e.edge.update('app.example.com', await e.localCa.issue(['app.example.com']));
  await e.edge.reconfigure({ defaultSni: 'app.example.com' });
  assert.equal((await noSniCertificate(e.https, e.caPem)).cn, 'app.example.com');
  const renewed = await e.localCa.issue(['app.example.com', 'www.app.example.com']);
  e.edge.update('app.example.com', renewed);
  const after = await new Promise<string[]>((resolve, reject) => {
    const s = tlsConnect({ port: e.https, host: '127.0.0.1', ca: e.caPem, checkServerIdentity: () => undefined }, () => {
      resolve(String(s.getPeerCertificate().subjectaltname).split(', '));
      s.destroy();
    });
    s.on('error', reject);
  });
  assert.deepEqual(after, ['DNS:app.example.com', 'DNS:www.app.example.com'], 'the renewed certificate, without a restart');
  // With SNI the default pair is served without a context switch; after the renewal it is the new pair too.
  for (const servername of ['app.example.com', 'www.app.example.com']) {
    const sans = await new Promise<string>((resolve, reject) => {
      const s = tlsConnect({ port: e.https, host: '127.0.0.1', servername, ca: e.caPem }, () => {
        resolve(String(s.getPeerCertificate().subjectaltname));
        s.destroy();
      });
      s.on('error', reject);
    });
    assert.equal(sans, 'DNS:app.example.com, DNS:www.app.example.com', servername);
  }
});

test('reconfigure: upstreams, routes, redirect and trusted proxies change while running; invalid settings leave the running ones', {
  timeout: 60_000,
}, async (t) => {
  const dir = tempDir(t);
  const [a, b] = [await startUpstream(), await startUpstream()];
  t.after(() => Promise.all([a.close(), b.close()]));
  const e = await startEdge(dir, { upstream: a.url });
  t.after(() => e.edge.close());
  await get(e.https, '/one', { ca: e.caPem });
  assert.equal(a.seen.length, 1);
  await e.edge.reconfigure({ upstream: b.url, routes: { 'api.localhost': a.url }, redirect: false });
  await get(e.https, '/two', { ca: e.caPem });
  assert.equal(b.seen.at(-1)?.url, '/two', 'the new default upstream');
  await get(e.https, '/three', { ca: e.caPem, servername: 'api.localhost' });
  assert.equal(a.seen.at(-1)?.url, '/three', 'the new route');
  const plain = await get(e.http, '/', { http: true, servername: 'localhost' });
  assert.equal(plain.status, 200, 'redirect switched off');
  await assert.rejects(e.edge.reconfigure({ upstream: 'ftp://nope', redirect: true }), /E_OPTION|not an http:\/\/ URL/);
  await assert.rejects(e.edge.reconfigure({ behindProxy: { trustedProxies: ['10.0.0.0/99'] } }), /not an address or CIDR/);
  await get(e.https, '/four', { ca: e.caPem });
  assert.equal(b.seen.at(-1)?.url, '/four', 'a rejected change leaves the running settings');
  assert.equal((await get(e.http, '/', { http: true, servername: 'localhost' })).status, 200, 'including the redirect setting');
});

test('slow clients: a request whose headers never finish is cut off at the header deadline, over HTTP and HTTPS', { timeout: 30_000 }, async (t) => {
  const dir = tempDir(t);
  const e = await startEdge(dir, { headersTimeoutMs: 1000 });
  t.after(() => e.edge.close());
  const trickle = (socket: import('node:net').Socket) =>
    new Promise<string>((resolve) => {
      let got = '';
      socket.on('data', (d) => {
        got += d;
      });
      socket.on('close', () => resolve(got));
      socket.on('error', () => resolve(got));
      // Never finishes its headers; a guard closes it if the server never does.
      const guard = setTimeout(() => {
        socket.destroy();
        resolve('still open');
      }, 15_000);
      socket.on('close', () => clearTimeout(guard));
    });
  const plain = netConnect({ port: e.http, host: '127.0.0.1' }, () => plain.write('GET / HTTP/1.1\r\nHost: a.example.com\r\nX-Slow: 1'));
  const secure = tlsConnect({ port: e.https, host: '127.0.0.1', servername: 'localhost', ca: e.caPem }, () =>
    secure.write('GET / HTTP/1.1\r\nHost: localhost\r\nX-Slow: 1'),
  );
  const [p, s] = await Promise.all([trickle(plain), trickle(secure)]);
  assert.notEqual(p, 'still open', 'the HTTP port closed it');
  assert.notEqual(s, 'still open', 'the HTTPS port closed it');
  assert.match(p, /^HTTP\/1\.1 408 Request Timeout\r\n/, `the plain request is answered 408 before the close: ${JSON.stringify(p)}`);
});

test('access log: one entry per request with client, host, path, protocol, status, body bytes and upstream', { timeout: 30_000 }, async (t) => {
  const dir = tempDir(t);
  const app = await startUpstream();
  t.after(() => app.close());
  const entries: AccessEntry[] = [];
  const e = await startEdge(dir, { upstream: app.url, routes: { 'page.localhost': 'http://127.0.0.1:1' }, accessLog: (x) => entries.push(x) });
  t.after(() => e.edge.close());
  const proxied = await get(e.https, '/app?x=1', { ca: e.caPem });
  const redirect = await get(e.http, '/r', { http: true, servername: 'app.example.com' });
  const down = await get(e.https, '/', { ca: e.caPem, servername: 'page.localhost' });
  const session = http2Connect(`https://127.0.0.1:${e.https}`, { ca: e.caPem, servername: 'localhost' });
  t.after(() => session.close());
  const h2body = await new Promise<string>((resolve, reject) => {
    const s = session.request({ ':path': '/h2' });
    let body = '';
    s.on('data', (d) => {
      body += d;
    });
    s.on('end', () => resolve(body));
    s.on('error', reject);
  });
  await waitFor(() => entries.length === 4, 'four entries');
  const [a, b, c, d] = entries as [AccessEntry, AccessEntry, AccessEntry, AccessEntry];
  assert.deepEqual(
    { client: a.client, method: a.method, host: a.host, path: a.path, protocol: a.protocol, status: a.status, bytes: a.bytes },
    { client: '127.0.0.1', method: 'GET', host: 'localhost', path: '/app?x=1', protocol: 'https/1.1', status: 200, bytes: Buffer.byteLength(proxied.body) },
  );
  assert.equal(a.upstream, new URL(app.url).host);
  assert.deepEqual([b.protocol, b.status, b.host], ['http/1.1', 308, 'app.example.com']);
  assert.equal(redirect.status, 308);
  assert.deepEqual([c.status, c.bytes], [502, Buffer.byteLength(down.body)]);
  assert.deepEqual([d.protocol, d.path, d.status, d.bytes], ['https/2.0', '/h2', 200, Buffer.byteLength(h2body)]);
});

test('local-ca env: the printed NODE_EXTRA_CA_CERTS makes a plain Node client trust the edge, with nothing else changed', { timeout: 30_000 }, async (t) => {
  const dir = tempDir(t);
  const e = await startEdge(dir);
  t.after(() => e.edge.close());
  const io = fakeIo({ cwd: dir, env: {} });
  assert.equal(await run(['local-ca', 'env', '--data', dir], io), 0);
  const path = /^export NODE_EXTRA_CA_CERTS='(.+)'$/m.exec(io.stdout)?.[1];
  assert.equal(path, `${dir}/local-ca/root.pem`);
  assert.match(io.stdout, /certgate trust add/);
  const script = `require('https').get('https://localhost:${e.https}/', { lookup: (h, o, cb) => o.all ? cb(null, [{ address: '127.0.0.1', family: 4 }]) : cb(null, '127.0.0.1', 4) }, (r) => { console.log(r.statusCode); r.resume(); }).on('error', (err) => { console.log(err.code); });`;
  const clean = cleanEnv();
  const without = await exec(process.execPath, ['-e', script], { env: clean });
  assert.equal(without.stdout.trim(), 'UNABLE_TO_VERIFY_LEAF_SIGNATURE', 'not trusted by default (the leaf alone is sent; its root is not known)');
  const withIt = await exec(process.execPath, ['-e', script], { env: { ...clean, NODE_EXTRA_CA_CERTS: path as string } });
  assert.equal(withIt.stdout.trim(), '200');
  // A data directory that cannot hold the CA: one line, exit 2, what to do.
  writeFileSync(join(dir, 'a-file'), '');
  const bad = fakeIo({ cwd: dir, env: {} });
  assert.equal(await run(['local-ca', 'env', '--data', join(dir, 'a-file', 'data')], bad), 2);
  assert.match(bad.stderr, /^error E_STORE: the local CA cannot be kept in .*a-file\/data\/local-ca: ENOTDIR\n {2}fix: make the data directory writable/);
});
