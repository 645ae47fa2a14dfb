/**
 * Each certificate's state against its own lifetime, not a fixed 30 days (Traefik #12946): a
 * 6-day certificate at day 3 is valid, at day 4.5 renewing; a 90-day one with 40 days left is
 * valid, and renewing from day 60. Failures and exhausted attempts win over the dates.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { certificateDetail, certificateRows } from '../../src/admin/certificates.ts';
import { createCertificate } from '../../src/pki/generate.ts';
import { FsStore } from '../../src/store/fs.ts';
import { certMeta } from '../../src/store/meta.ts';
import { tempDir } from '../helpers/tmp.ts';

const DAY = 86_400_000;
const T0 = Date.parse('2030-01-01T00:00:00Z');

async function storeWith(t: import('node:test').TestContext, certs: Array<{ name: string; days: number }>) {
  const store = new FsStore({ root: tempDir(t) });
  const c = await createCertificate({ subject: 'CN=x.example.com', dns: ['x.example.com'] });
  const meta = certMeta(c.certPem, { name: 'x', names: ['x'], directory: 'test', keyType: 'ec-p256' });
  for (const { name, days } of certs)
    await store.putBundle(name, {
      certPem: c.certPem,
      keyPem: c.keyPem,
      meta: { ...meta, name, names: [name], notBefore: new Date(T0).toISOString(), notAfter: new Date(T0 + days * DAY).toISOString(), ari: null },
    });
  return store;
}

test('certificate state: a 6-day certificate is valid at day 3 and renewing at day 4.5', async (t) => {
  const store = await storeWith(t, [{ name: 'short.example.com', days: 6 }]);
  const at = async (d: number) => (await certificateRows(store, T0 + d * DAY))[0];
  const day3 = await at(3);
  assert.equal(day3?.state, 'valid');
  assert.equal(day3?.lifeLeft, 0.5);
  assert.equal(day3?.renewFrom, new Date(T0 + 4 * DAY).toISOString(), 'renewal from two thirds into its own lifetime');
  assert.equal((await at(4.5))?.state, 'renewing');
});

test('certificate state: a 90-day certificate with 40 days left is valid; from day 60 it is renewing', async (t) => {
  const store = await storeWith(t, [{ name: 'long.example.com', days: 90 }]);
  assert.equal((await certificateRows(store, T0 + 50 * DAY))[0]?.state, 'valid');
  assert.equal((await certificateRows(store, T0 + 61 * DAY))[0]?.state, 'renewing');
});

test('certificate state: a scheduled retry is failing, exhausted attempts or expiry need action', async (t) => {
  const store = await storeWith(t, [
    { name: 'a.example.com', days: 90 },
    { name: 'b.example.com', days: 90 },
    { name: 'c.example.com', days: 1 },
  ]);
  const err = { code: 'E_ACME_CHALLENGE', message: 'the CA could not reach port 80', at: new Date(T0).toISOString() };
  await store.putState('a.example.com', { attempts: 1, lastError: err, nextAttemptAt: new Date(T0 + DAY).toISOString(), flagged: false });
  await store.putState('b.example.com', { attempts: 5, lastError: err, nextAttemptAt: null, flagged: true });
  await store.putState('never.example.com', { attempts: 2, lastError: err, nextAttemptAt: null, flagged: false });
  const rows = new Map((await certificateRows(store, T0 + 2 * DAY)).map((r) => [r.name, r.state]));
  assert.deepEqual(Object.fromEntries(rows), {
    'a.example.com': 'failing',
    'b.example.com': 'needs-action',
    'c.example.com': 'needs-action',
    'never.example.com': 'failing',
  });
});

test('certificate detail: the last failure keeps the CA problem document as sent, the words and the fix', async (t) => {
  const store = await storeWith(t, [{ name: 'p.example.com', days: 90 }]);
  const problem = { type: 'urn:ietf:params:acme:error:dns', detail: 'NXDOMAIN looking up A for p.example.com', status: 400 };
  await store.appendEvent({
    at: new Date(T0).toISOString(),
    name: 'p.example.com',
    type: 'cert_failed',
    message: 'p.example.com: the CA could not resolve p.example.com',
    data: { code: 'E_ACME_CHALLENGE', fix: 'create an A/AAAA record', problem },
  });
  const d = await certificateDetail(store, 'p.example.com', T0 + DAY);
  assert.deepEqual(d?.lastFailure?.problem, problem);
  assert.equal(d?.lastFailure?.fix, 'create an A/AAAA record');
  assert.match(d?.renewalWhy ?? '', /last third of its 90-day lifetime/);
  assert.equal(d?.chain.length, 1);
});

test('state cache: read once, then a name is read again when an event for it passes', async (t) => {
  const { StateCache } = await import('../../src/admin/certificates.ts');
  const { withEventPath } = await import('../../src/events.ts');
  const store = await storeWith(t, [{ name: 'q.example.com', days: 90 }]);
  const cache = new StateCache(store);
  t.after(() => cache.close());
  assert.equal((await certificateRows(store, T0 + DAY, cache))[0]?.state, 'valid');
  const err = { code: 'E_ACME_CHALLENGE', message: 'no', at: new Date(T0).toISOString() };
  await store.putState('q.example.com', { attempts: 1, lastError: err, nextAttemptAt: null, flagged: false });
  assert.equal((await certificateRows(store, T0 + DAY, cache))[0]?.state, 'valid', 'no event: the cached state stands');
  await withEventPath(store).appendEvent({ at: new Date(T0).toISOString(), name: 'q.example.com', type: 'renewal_scheduled', message: 'attempt 1 failed' });
  assert.equal((await certificateRows(store, T0 + DAY, cache))[0]?.state, 'failing');
});

test('state cache: the index is parsed again only when it changed; a new certificate shows at once', async (t) => {
  const { StateCache } = await import('../../src/admin/certificates.ts');
  const store = await storeWith(t, [{ name: 'r1.example.com', days: 90 }]);
  const cache = new StateCache(store);
  t.after(() => cache.close());
  const a = await cache.entries();
  assert.equal(await cache.entries(), a, 'unchanged: the same parsed index');
  const c = await createCertificate({ subject: 'CN=r2.example.com', dns: ['r2.example.com'] });
  await store.putBundle('r2.example.com', {
    certPem: c.certPem,
    keyPem: c.keyPem,
    meta: certMeta(c.certPem, { name: 'r2.example.com', names: ['r2.example.com'], directory: 'test', keyType: 'ec-p256' }),
  });
  assert.deepEqual((await certificateRows(store, Date.now(), cache)).map((r) => r.name).sort(), ['r1.example.com', 'r2.example.com']);
});
