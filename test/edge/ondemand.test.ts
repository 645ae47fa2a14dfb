/**
 * On-demand certificates against Pebble: a fresh registered name gets a valid chain at its
 * first handshake (checked by Node and by openssl s_client); unregistered and random names are
 * refused fast without asking the CA; and `certgate serve` runs from the CLI and stops on signal.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { request as httpsRequest } from 'node:https';
import { join } from 'node:path';
import { test } from 'node:test';
import { connect as tlsConnect } from 'node:tls';
import { promisify } from 'node:util';
import { run } from '../../src/cli/run.ts';
import { DomainRegistry } from '../../src/manager/registry.ts';
import { name, rig } from '../acme/helpers.ts';
import { fakeIo } from '../helpers/io.ts';
import { startPebble } from '../helpers/pebble.ts';
import { tempDir } from '../helpers/tmp.ts';
import { startEdge } from './helpers.ts';

const exec = promisify(execFile);
const pebble = await startPebble();
test.after(() => pebble.close());

function handshake(
  port: number,
  servername: string,
  ca: string[],
): Promise<{ ok: boolean; code?: string; authorized?: boolean; subject?: string; ms: number }> {
  const t0 = performance.now();
  return new Promise((resolve) => {
    const s = tlsConnect({ port, host: '127.0.0.1', servername, ca, rejectUnauthorized: false }, () => {
      const cert = s.getPeerCertificate();
      resolve({ ok: true, authorized: s.authorized, subject: String(cert.subject?.CN), ms: performance.now() - t0 });
      s.destroy();
    });
    s.on('error', (err) => resolve({ ok: false, code: (err as NodeJS.ErrnoException).code, ms: performance.now() - t0 }));
  });
}

test('a registered name gets a valid certificate at its first handshake; the rest are refused fast', { timeout: 60_000 }, async (t) => {
  const r = await rig(pebble, { responder: false });
  t.after(() => r.close());
  const main = name('ondemand');
  const registry = new DomainRegistry({ store: r.store, mainDomain: main });
  // The edge answers HTTP-01 itself: its HTTP port is where Pebble validates.
  const e = await startEdge(r.root, { httpPort: pebble.httpPort, registry, manager: r.manager, answers: r.answers });
  t.after(() => e.edge.close());
  const root = await pebble.issuingRoot();
  const first = await handshake(e.https, main, [root]);
  assert.equal(first.ok, true);
  assert.equal(first.authorized, true, 'a valid chain on the first handshake, not a warning');
  assert.equal(first.subject, main);
  writeFileSync(join(r.root, 'pebble-root.pem'), root);
  const s = await exec(
    'openssl',
    ['s_client', '-connect', `127.0.0.1:${e.https}`, '-servername', main, '-CAfile', join(r.root, 'pebble-root.pem'), '-verify_return_error', '-brief'],
    { timeout: 10_000 },
  ).catch((err) => err as { stdout: string; stderr: string });
  assert.match(`${s.stdout}${s.stderr}`, /Verification: OK/);
  // An unregistered name: refused without contacting the CA, quickly.
  const stranger = name('stranger');
  const refused = await handshake(e.https, stranger, [root]);
  assert.equal(refused.ok, false);
  // Asked again: answered from memory, the registry is not consulted a second time.
  let decisions = 0;
  const decide = registry.decide.bind(registry);
  registry.decide = (...args: Parameters<typeof registry.decide>) => {
    decisions++;
    return decide(...args);
  };
  const again = await handshake(e.https, stranger, [root]);
  assert.equal(again.ok, false);
  assert.equal(decisions, 0, 'refused from memory');
  assert.equal((await r.store.readEvents(stranger)).length, 0, 'the CA was never asked');
  // A flood of random SNI issues nothing and keeps memory bounded.
  const before = process.memoryUsage().heapUsed;
  for (let i = 0; i < 200; i++) await handshake(e.https, `r${i}-${Math.random().toString(36).slice(2)}.example.org`, [root]);
  const events = await r.store.readEvents();
  assert.deepEqual([...new Set(events.map((ev) => ev.name))], [main], 'only the registered name was ever issued');
  assert.ok(process.memoryUsage().heapUsed - before < 50 * 1024 * 1024, 'memory stays bounded');
});

/** GET / over HTTPS with the given SNI, trusting `ca`; the page and who issued the certificate. */
function visit(
  port: number,
  servername: string,
  ca: string[],
  localAddress = '127.0.0.1',
): Promise<{ status: number; body: string; headers: Record<string, unknown>; issuer: string; authorized: boolean }> {
  return new Promise((resolve, reject) => {
    const req = httpsRequest(
      { host: '127.0.0.1', port, path: '/', servername, ca, rejectUnauthorized: false, agent: false, localAddress, headers: { host: servername } },
      (res) => {
        const sock = res.socket as import('node:tls').TLSSocket;
        const issuer = String(sock.getPeerCertificate().issuer?.O ?? sock.getPeerCertificate().issuer?.CN);
        const authorized = sock.authorized;
        let body = '';
        res.on('data', (d) => {
          body += d;
        });
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body, headers: res.headers, issuer, authorized }));
      },
    );
    req.on('error', reject);
    req.end();
  });
}

test('a pending name gets a "certificate on its way" page, then its real certificate; a client over its budget is told so, others are not', {
  timeout: 60_000,
}, async (t) => {
  const r = await rig(pebble, { responder: false });
  t.after(() => r.close());
  const registry = new DomainRegistry({ store: r.store });
  const [a, b, c] = [name('pend'), name('pend'), name('pend')];
  for (const n of [a, b, c]) await registry.add(n);
  // The first handshake waits 1 ms, not the issuance: the visitor gets the stand-in at once.
  const e = await startEdge(r.root, {
    httpPort: pebble.httpPort,
    registry,
    manager: r.manager,
    answers: r.answers,
    onDemandTimeoutMs: 1,
    onDemandPerClient: 2,
  });
  t.after(() => e.edge.close());
  const root = await pebble.issuingRoot();
  const first = await visit(e.https, a, [root, e.caPem]);
  assert.equal(first.status, 503);
  assert.match(first.body, /Certificate on its way/);
  assert.match(first.body, /http-equiv="refresh" content="5"/);
  assert.equal(first.headers['retry-after'], '5');
  assert.equal(first.headers.connection, 'close', 'the stand-in connection is not reused: the reload makes a new handshake');
  assert.match(first.issuer, /certgate development CA/, 'the stand-in comes from the local CA, for that name');
  // The issuance went on in the background: soon the real certificate is served.
  let real = first;
  const deadline = Date.now() + 30_000;
  while (Date.now() < deadline && /certgate/.test(real.issuer)) {
    await new Promise((res) => setTimeout(res, 200));
    real = await visit(e.https, a, [root]);
  }
  assert.equal(real.authorized, true, 'the CA-issued certificate, valid');
  assert.equal(real.status, 200);
  // Budget: 2 new names per client address per 10 minutes. b uses the second; c is refused for this client...
  await visit(e.https, b, [root, e.caPem]);
  const over = await visit(e.https, c, [root, e.caPem]);
  assert.equal(over.status, 503);
  assert.match(over.body, /too many new names were asked for from your address/);
  assert.equal((await r.store.readEvents(c)).filter((ev) => ev.type === 'cert_obtaining').length, 0, 'the CA was not asked for c');
  // ...but not for another client.
  const other = await visit(e.https, c, [root, e.caPem], '127.0.0.3');
  assert.doesNotMatch(other.body, /too many/);
});

test('a name whose issuance fails gets an explaining page, and is not retried on every handshake', { timeout: 60_000 }, async (t) => {
  const r = await rig(pebble, { responder: false, maxAttempts: 5, backoffMs: 600_000 });
  t.after(() => r.close());
  const registry = new DomainRegistry({ store: r.store });
  const broken = name('broken');
  await registry.add(broken);
  // The edge's HTTP port is not where Pebble validates: HTTP-01 fails.
  const e = await startEdge(r.root, { registry, manager: r.manager, answers: r.answers });
  t.after(() => e.edge.close());
  const page = await visit(e.https, broken, [e.caPem]);
  assert.equal(page.status, 503);
  assert.match(page.body, /could not obtain a certificate for/);
  assert.match(page.body, new RegExp(`certgate logs ${broken.replace(/\./g, '\\.')}`));
  assert.equal(page.authorized, true, 'the stand-in is valid for the name under the local CA: trusted clients read the page');
  assert.equal(page.headers['retry-after'], '300');
  await visit(e.https, broken, [e.caPem]);
  await visit(e.https, broken, [e.caPem]);
  const orders = (await r.store.readEvents(broken)).filter((ev) => ev.type === 'cert_obtaining');
  assert.equal(orders.length, 1, 'one attempt, then the backoff holds');
  assert.equal((await r.store.getState(broken)).attempts, 1);
});

test('no main domain configured: a first visit claims it only if its certificate can be obtained', { timeout: 60_000 }, async (t) => {
  const r = await rig(pebble, { responder: false });
  t.after(() => r.close());
  const registry = new DomainRegistry({ store: r.store });
  const root = await pebble.issuingRoot();
  // A scanner's name: validation cannot succeed (the edge's HTTP port is not where Pebble looks).
  const scanner = name('scanner');
  const failing = await startEdge(r.root, { registry, manager: r.manager, answers: r.answers });
  const first = await visit(failing.https, scanner, [failing.caPem]);
  await failing.edge.close();
  assert.equal(first.status, 503);
  assert.equal((await registry.list()).main, null, 'given up again');
  const events = (await r.store.readEvents(scanner)).map((ev) => ev.type);
  assert.deepEqual(
    events.filter((ev) => ev.startsWith('main_domain')),
    ['main_domain_set', 'main_domain_released'],
  );
  // The operator's real first visit then becomes the main domain, with a valid certificate.
  const real = name('real');
  const working = await startEdge(r.root, { httpPort: pebble.httpPort, registry, manager: r.manager, answers: r.answers });
  t.after(() => working.edge.close());
  const ok = await handshake(working.https, real, [root]);
  assert.equal(ok.authorized, true);
  assert.equal((await registry.list()).main, real);
});

test('certgate serve from the CLI: localhost on the local CA, stops gracefully on signal', { timeout: 60_000 }, async (t) => {
  const dir = tempDir(t);
  const stop = new AbortController();
  const io = fakeIo({ cwd: dir, env: { CERTGATE_DATA: join(dir, 'data'), PATH: process.env.PATH ?? '' } });
  io.signal = stop.signal;
  const { createServer } = await import('node:net');
  const free = async () => {
    const srv = createServer();
    await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
    const port = (srv.address() as { port: number }).port;
    await new Promise((r) => srv.close(r));
    return port;
  };
  const [https, http] = [await free(), await free()];
  const running = run(['serve', '--https-port', String(https), '--http-port', String(http), '--host', '127.0.0.1'], io);
  const deadline = Date.now() + 10_000;
  while (!io.stderr.includes('local CA') && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
  assert.match(io.stderr, new RegExp(`https://localhost:${https}/`));
  const ca = await (async () => {
    const x = fakeIo({ cwd: dir, env: { CERTGATE_DATA: join(dir, 'data') } });
    await run(['local-ca', 'export'], x);
    return x.stdout;
  })();
  const hs = await handshake(https, 'localhost', [ca]);
  assert.equal(hs.authorized, true);
  stop.abort();
  assert.equal(await running, 0);
  assert.match(io.stderr, /stopping: draining connections/);
  const after = await handshake(https, 'localhost', [ca]);
  assert.equal(after.ok, false);
});

// Each bad setting is refused before anything starts, with the place it came from.
for (const [what, file, args, expected] of [
  ['a wrong type in the file', 'hsts:\n  maxAge: forever\n', [], /^error E_OPTION: c\.yaml hsts\.maxAge: "forever" is not a whole number/],
  [
    'an unknown field, with the closest one',
    'upstrem: http://127.0.0.1:3000\n',
    [],
    /^error E_OPTION: c\.yaml: upstrem: unknown field; did you mean "upstream"\?/,
  ],
  ['a value outside the choices', 'mode: staging\n', [], /^error E_OPTION: c\.yaml mode: "staging" is not one of production, development/],
  ['a bad duration', 'onDemand: { wait: forever }\n', [], /^error E_OPTION: c\.yaml onDemand\.wait: "forever" is not a duration/],
  ['an upstream that is not http://', null, ['--upstream', 'ftp://x'], /^error E_USAGE: --upstream ftp:\/\/x: not an http:\/\/ URL/],
  ['zero workers', null, ['--workers', '0'], /^error E_USAGE: --workers 0: not auto \(one per core\) or a number of processes/],
  ['workers as a word', null, ['--workers', 'many'], /^error E_USAGE: --workers many: not auto/],
  [
    'a trusted proxy that is not a CIDR',
    null,
    ['--behind-proxy', '10.0.0.0/33'],
    /^error E_USAGE: --behind-proxy 10\.0\.0\.0\/33: not a comma-separated list of an IP address or CIDR block/,
  ],
] as const) {
  test(`serve refuses ${what}, exit 2`, async (t) => {
    const dir = tempDir(t);
    if (file) writeFileSync(join(dir, 'c.yaml'), file);
    const io = fakeIo({ cwd: dir, env: { CERTGATE_DATA: join(dir, 'data') } });
    assert.equal(await run(['serve', '--https-port', '0', '--http-port', '0', ...(file ? ['--config', 'c.yaml'] : []), ...args], io), 2);
    assert.match(io.stderr, expected);
  });
}
