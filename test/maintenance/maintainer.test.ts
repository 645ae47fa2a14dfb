/**
 * Renewal with a moved clock against Pebble: windows, attempts and --force, budget, rate-limit
 * buckets, badNonce storms, and ARI through a small renewalInfo responder of our own (Pebble
 * 2.4 has no ARI).
 */
import assert from 'node:assert/strict';
import { createServer } from 'node:https';
import { test } from 'node:test';
import { request } from 'undici';
import { ariCertId } from '../../src/acme/ari.ts';
import { dueAt, Maintainer } from '../../src/maintenance/maintainer.ts';
import { decodeCertificate } from '../../src/pki/certificate.ts';
import { createCertificate } from '../../src/pki/generate.ts';
import { parseCertificates } from '../../src/pki/parse.ts';
import { TokenBuckets } from '../../src/ratelimit.ts';
import { certMeta } from '../../src/store/meta.ts';
import { name, rig } from '../acme/helpers.ts';
import { startPebble } from '../helpers/pebble.ts';

const DAY = 86_400_000;
const pebble = await startPebble();
test.after(() => pebble.close());

/** Stores a certificate generated now (not from the CA), valid from notBefore to notAfter. */
async function storeGenerated(store: import('../../src/store/fs.ts').FsStore, host: string, notBefore: Date, notAfter: Date): Promise<void> {
  const c = await createCertificate({ subject: `CN=${host}`, dns: [host], notBefore, notAfter });
  await store.putBundle(host, {
    certPem: c.certPem,
    keyPem: c.keyPem,
    meta: certMeta(c.certPem, { name: host, names: [host], directory: pebble.directoryUrl, keyType: 'ec-p256', issuedAt: notBefore }),
  });
}

test('renewal windows: the last third of the lifetime (30 of 90 days, 2 of 6), a fixed renewBefore, or ARI', () => {
  const e = (days: number) => ({
    name: 'x.example.com',
    notBefore: '2026-01-01T00:00:00.000Z',
    notAfter: new Date(Date.parse('2026-01-01T00:00:00Z') + days * DAY).toISOString(),
    serialNumber: 'AB',
    ariStart: null,
    ariEnd: null,
  });
  assert.equal(new Date(dueAt(e(90)).at).toISOString(), '2026-03-02T00:00:00.000Z');
  assert.equal(new Date(dueAt(e(6)).at).toISOString(), '2026-01-05T00:00:00.000Z');
  assert.equal(new Date(dueAt(e(90), 7 * DAY).at).toISOString(), '2026-03-25T00:00:00.000Z');
  const ari = dueAt({ ...e(90), ariStart: '2026-02-01T00:00:00.000Z', ariEnd: '2026-02-02T00:00:00.000Z' });
  assert.equal(ari.window, 'ari');
  assert.ok(ari.at >= Date.parse('2026-02-01T00:00:00Z') && ari.at <= Date.parse('2026-02-02T00:00:00Z'));
});

test('a moved clock renews what is due, ordered by expiry, and nothing else', async (t) => {
  const r = await rig(pebble);
  t.after(() => r.close());
  const a = name('renew-a');
  const first = await r.manager.obtain(a);
  const m = new Maintainer({ store: r.store, manager: r.manager, clock: () => r.clock.now });
  const quiet = await m.runCycle();
  assert.equal(quiet.due, 0);
  assert.deepEqual(quiet.renewed, []);
  const life = Date.parse(first.bundle.meta.notAfter) - Date.parse(first.bundle.meta.notBefore);
  r.clock.advance((2 / 3) * life + DAY);
  const dry = await m.runCycle({ dryRun: true });
  assert.deepEqual(dry.renewed, [a]);
  assert.equal((await r.store.getBundle(a))?.meta.serialNumber, first.bundle.meta.serialNumber, 'a dry run changes nothing');
  const cycle = await m.runCycle();
  assert.deepEqual(cycle.renewed, [a]);
  const renewed = await r.store.getBundle(a);
  assert.notEqual(renewed?.meta.serialNumber, first.bundle.meta.serialNumber);
  const types = (await r.store.readEvents(a)).map((e) => e.type);
  assert.deepEqual(types.slice(-3), ['renewal_due', 'cert_obtaining', 'cert_obtained']);
});

test('failures back off, stop after 5 attempts, and issue --force resets the count', async (t) => {
  const r = await rig(pebble, { responder: false, backoffMs: 3600_000 });
  t.after(() => r.close());
  const host = name('flaky');
  // A certificate already due, so maintenance tries to renew it with no responder running.
  await storeGenerated(r.store, host, new Date(r.clock.now.getTime() - 80 * DAY), new Date(r.clock.now.getTime() + 10 * DAY));
  const m = new Maintainer({ store: r.store, manager: r.manager, clock: () => r.clock.now });
  for (let attempt = 1; attempt <= 5; attempt++) {
    const report = await m.runCycle();
    assert.equal(report.failed.length, 1, `attempt ${attempt}`);
    const state = await r.store.getState(host);
    assert.equal(state.attempts, attempt);
    if (attempt < 5) {
      const again = await m.runCycle();
      assert.match(again.deferred[0]?.why ?? '', /backing off until/);
      r.clock.advance(3600_000 * 2 ** (attempt - 1) + 1000);
    }
  }
  const state = await r.store.getState(host);
  assert.equal(state.flagged, true);
  const after = await m.runCycle();
  assert.match(after.deferred[0]?.why ?? '', /stopped after 5 failed attempts; run certgate issue .* --force/);
  assert.ok((await r.store.readEvents(host)).some((e) => e.type === 'attempts_exhausted'));
  await assert.rejects(r.manager.obtain(host, { renew: true }), /no longer retried automatically/);
  // The cause is fixed (a responder runs); --force issues past the limit and resets the count.
  const { startStandaloneResponder } = await import('../../src/acme/challenges.ts');
  const responder = await startStandaloneResponder(r.answers, { httpPort: pebble.httpPort, host: '127.0.0.1' });
  t.after(() => responder.close());
  const forced = await r.manager.obtain(host, { force: true });
  assert.equal(forced.issued, true);
  assert.deepEqual(await r.store.getState(host), { attempts: 0, lastError: null, nextAttemptAt: null, flagged: false });
  assert.ok((await r.store.readEvents(host)).some((e) => e.type === 'attempts_reset'));
});

test('the budget per cycle: the soonest expiry first, the rest deferred', async (t) => {
  const r = await rig(pebble);
  t.after(() => r.close());
  const names = [name('b1'), name('b2'), name('b3')];
  for (const [i, n] of names.entries()) {
    await storeGenerated(r.store, n, new Date(r.clock.now.getTime() - 80 * DAY), new Date(r.clock.now.getTime() + (10 - i) * DAY));
  }
  const m = new Maintainer({ store: r.store, manager: r.manager, clock: () => r.clock.now, budget: 2 });
  const report = await m.runCycle();
  assert.equal(report.due, 3);
  assert.deepEqual(report.renewed.sort(), [names[1], names[2]].sort(), 'the two that expire first');
  assert.deepEqual(report.deferred, [{ name: names[0], why: "over this cycle's budget of 2" }]);
});

test('rate-limit buckets refill with time and keep a share for new domains', async (t) => {
  let now = new Date('2026-01-01T00:00:00Z');
  const b = new TokenBuckets({ capacity: 10, periodMs: 10 * 3600_000 }, () => now);
  for (let i = 0; i < 8; i++) assert.equal(b.take('acct', 2), true);
  assert.equal(b.take('acct', 2), false, 'two kept in reserve');
  assert.equal(b.take('acct'), true);
  now = new Date(now.getTime() + 3600_000);
  assert.equal(b.available('acct'), 2);
  const r = await rig(pebble);
  t.after(() => r.close());
  const n1 = name('limited');
  await storeGenerated(r.store, n1, new Date(r.clock.now.getTime() - 80 * DAY), new Date(r.clock.now.getTime() + 5 * DAY));
  const tight = new Maintainer({
    store: r.store,
    manager: r.manager,
    clock: () => r.clock.now,
    limits: {
      ordersPerAccount: { capacity: 300, periodMs: 3 * 3600_000 },
      certsPerDomain: { capacity: 0.5, periodMs: 7 * DAY },
      failuresPerName: { capacity: 5, periodMs: 3600_000 },
    },
  });
  const report = await tight.runCycle();
  assert.match(report.deferred[0]?.why ?? '', /certificates for example\.com near the CA's weekly limit/);
});

test('badNonce storms: a CA rejecting half of all nonces still issues', async (t) => {
  const stormy = await startPebble({ nonceReject: 50 });
  t.after(() => stormy.close());
  const r = await rig(stormy);
  t.after(() => r.close());
  const result = await r.manager.obtain(name('nonce'));
  assert.equal(result.issued, true);
});

test("ARI: the CA's window is fetched, makes the certificate due, and the renewal sends replaces", async (t) => {
  // A directory shim: Pebble's directory plus renewalInfo, served over HTTPS with a test CA.
  const tlsCa = await createCertificate({ subject: 'CN=ARI shim CA', ca: true });
  const tlsLeaf = await createCertificate({ subject: 'CN=127.0.0.1', issuer: tlsCa, ip: ['127.0.0.1'] });
  const asked: string[] = [];
  const windows = new Map<string, { start: string; end: string }>();
  const pebbleDir = (await (
    await request(pebble.directoryUrl, { dispatcher: new (await import('undici')).Agent({ connect: { ca: [pebble.tlsCaPem] } }) })
  ).body.json()) as Record<string, unknown>;
  const shim = createServer({ cert: tlsLeaf.certPem, key: tlsLeaf.keyPem }, (req, res) => {
    const port = (shim.address() as { port: number }).port;
    if (req.url === '/dir') {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ ...pebbleDir, renewalInfo: `https://127.0.0.1:${port}/ari` }));
      return;
    }
    const m = /^\/ari\/(.+)$/.exec(req.url ?? '');
    if (m) {
      asked.push(m[1] as string);
      const w = windows.get(m[1] as string);
      res.writeHead(w ? 200 : 404, { 'content-type': 'application/json', 'retry-after': '21600' });
      res.end(w ? JSON.stringify({ suggestedWindow: w, explanationURL: 'https://ca.example/incident' }) : '{}');
      return;
    }
    res.writeHead(404);
    res.end();
  });
  await new Promise<void>((resolve) => shim.listen(0, '127.0.0.1', resolve));
  t.after(() => new Promise((resolve) => shim.close(resolve)));
  const port = (shim.address() as { port: number }).port;
  const r = await rig(pebble, { directory: `https://127.0.0.1:${port}/dir`, caRootPem: pebble.tlsCaPem + tlsCa.certPem });
  t.after(() => r.close());
  const host = name('ari');
  const first = await r.manager.obtain(host);
  const certId = ariCertId(decodeCertificate(parseCertificates(Buffer.from(first.bundle.certPem))[0]?.der ?? Buffer.alloc(0))) as string;
  assert.ok(certId);
  const m = new Maintainer({ store: r.store, manager: r.manager, issuer: r.issuer, clock: () => r.clock.now });
  // No window yet for this certificate: nothing due (the fallback window is years away).
  const quiet = await m.runCycle();
  assert.deepEqual(quiet.renewed, []);
  assert.deepEqual(asked, [certId]);
  // The CA now says: renew in the last hour (a revocation incident).
  windows.set(certId, { start: new Date(r.clock.now.getTime() - 3600_000).toISOString(), end: new Date(r.clock.now.getTime() - 60_000).toISOString() });
  r.clock.advance(6 * 3600_000 + 1000); // past Retry-After
  const cycle = await m.runCycle();
  assert.deepEqual(cycle.renewed, [host]);
  const events = await r.store.readEvents(host);
  assert.ok(events.some((e) => e.type === 'ari_checked'));
  assert.match(events.find((e) => e.type === 'renewal_due')?.message ?? '', /\(ari window\)/);
  assert.equal(r.issuer.canReplace({ ...first.bundle.meta, ari: { certId, window: null, explanationUrl: null, checkedAt: null, recheckAt: null } }), true);
  assert.equal(
    r.issuer.canReplace({
      ...first.bundle.meta,
      accountUrl: 'https://other/account/1',
      ari: { certId, window: null, explanationUrl: null, checkedAt: null, recheckAt: null },
    }),
    false,
    'replaces only for the same account',
  );
});
