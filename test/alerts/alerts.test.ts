/**
 * Webhook alerts from the runtime to a real HTTP receiver on loopback: each kind arrives signed,
 * once per condition; issuance against a real Pebble never waits for the webhook.
 */
import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { request } from 'undici';
import { createLogger } from '../../src/log.ts';
import { createCertificate } from '../../src/pki/generate.ts';
import { buildRuntime } from '../../src/runtime/server.ts';
import { FsStore } from '../../src/store/fs.ts';
import { certMeta } from '../../src/store/meta.ts';
import { name } from '../acme/helpers.ts';
import { freePort } from '../helpers/daemons.ts';
import { startPebble } from '../helpers/pebble.ts';
import { settings } from '../helpers/settings.ts';
import { tempDir } from '../helpers/tmp.ts';
import { pebbleSettings } from '../metrics/helpers.ts';
import { signedWith, startReceiver } from './receiver.ts';

const SECRET = 'whsec-test-4f1c9a0b7e';
const FAST = { backoffMs: 50, maxBackoffMs: 200, timeoutMs: 3000 };
const pebble = await startPebble();
test.after(() => pebble.close());

/** A name Pebble validates at 127.0.0.2, where nothing answers: its issuance fails with a "connection" problem. */
async function failingName(prefix: string): Promise<string> {
  const host = name(prefix);
  const res = await request(`${pebble.challtestsrvUrl}/add-a`, { method: 'POST', body: JSON.stringify({ host: `${host}.`, addresses: ['127.0.0.2'] }) });
  await res.body.dump();
  return host;
}

test('a failing name raises one name_failing alert, signed, with the CA problem; a second failure does not repeat it', { timeout: 60_000 }, async (t) => {
  const hook = await startReceiver();
  t.after(() => hook.close());
  const host = await failingName('failing');
  const rt = await buildRuntime(pebbleSettings(pebble, tempDir(t), { domain: host, alertsWebhooks: [hook.url], alertsSecret: SECRET }), { alertOptions: FAST });
  await rt.start();
  t.after(() => rt.close());
  await assert.rejects(rt.engines.manager().obtain(host));
  await hook.until(() => hook.deliveries.length >= 1, 'name_failing');
  await assert.rejects(rt.engines.manager().obtain(host, { force: true }));
  await rt.alerts?.idle();
  const kinds = hook.deliveries.map((d) => d.payload.kind);
  assert.deepEqual(kinds, ['name_failing'], 'one alert per condition until it clears');
  const d = hook.deliveries[0] as (typeof hook.deliveries)[number];
  assert.equal(signedWith(d, SECRET), true, 'a valid signature');
  assert.equal(signedWith(d, 'another-secret'), false);
  assert.equal(d.headers['x-certgate-event'], 'name_failing');
  assert.equal(d.headers['content-type'], 'application/json');
  assert.equal(d.payload.version, 1);
  assert.equal(d.payload.name, host);
  assert.equal((d.payload.detail.problem as { type: string }).type, 'urn:ietf:params:acme:error:connection');
  assert.equal(d.payload.detail.code, 'E_ACME_CHALLENGE');
});

test('attempts exhausted raises attempts_exhausted, signed', { timeout: 90_000 }, async (t) => {
  const hook = await startReceiver();
  t.after(() => hook.close());
  const host = await failingName('exhausted');
  const rt = await buildRuntime(pebbleSettings(pebble, tempDir(t), { domain: host, alertsWebhooks: [hook.url], alertsSecret: SECRET }), { alertOptions: FAST });
  await rt.start();
  t.after(() => rt.close());
  // The manager's limit is 5 attempts; force skips the wait between them.
  for (let i = 0; i < 5; i++) await assert.rejects(rt.engines.manager().obtain(host, { force: true }));
  await hook.until(() => hook.deliveries.some((d) => d.payload.kind === 'attempts_exhausted'), 'attempts_exhausted');
  const d = hook.deliveries.find((x) => x.payload.kind === 'attempts_exhausted') as (typeof hook.deliveries)[number];
  assert.equal(signedWith(d, SECRET), true);
  assert.equal(d.payload.name, host);
  assert.match(String(d.payload.detail.fix), /certgate issue .* --force/);
});

test('a certificate in the last tenth of its life raises certificate_expiring, signed', async (t) => {
  const hook = await startReceiver();
  t.after(() => hook.close());
  const data = tempDir(t);
  const host = 'old.example.com';
  const now = Date.now();
  // Ten days of life, half a day left.
  const c = await createCertificate({
    subject: `CN=${host}`,
    dns: [host],
    notBefore: new Date(now - 9.5 * 86_400_000),
    notAfter: new Date(now + 0.5 * 86_400_000),
  });
  await new FsStore({ root: data }).putBundle(host, {
    certPem: c.certPem,
    keyPem: c.keyPem,
    meta: certMeta(c.certPem, { name: host, names: [host], directory: 'test', keyType: 'ec-p256' }),
  });
  const fresh = await createCertificate({
    subject: 'CN=new.example.com',
    dns: ['new.example.com'],
    notBefore: new Date(now - 86_400_000),
    notAfter: new Date(now + 9 * 86_400_000),
  });
  await new FsStore({ root: data }).putBundle('new.example.com', {
    certPem: fresh.certPem,
    keyPem: fresh.keyPem,
    meta: certMeta(fresh.certPem, { name: 'new.example.com', names: ['new.example.com'], directory: 'test', keyType: 'ec-p256' }),
  });
  const rt = await buildRuntime(settings(data, { httpPort: null, alertsWebhooks: [hook.url], alertsSecret: SECRET }), { alertOptions: FAST });
  await rt.start();
  t.after(() => rt.close());
  await hook.until(() => hook.deliveries.length >= 1, 'certificate_expiring');
  await rt.alerts?.idle();
  assert.deepEqual(
    hook.deliveries.map((d) => [d.payload.kind, d.payload.name]),
    [['certificate_expiring', host]],
    'only the certificate in its last tenth',
  );
  const d = hook.deliveries[0] as (typeof hook.deliveries)[number];
  assert.equal(signedWith(d, SECRET), true);
  assert.equal(d.payload.detail.lifetimeSeconds, 10 * 86_400);
  assert.ok((d.payload.detail.remainingSeconds as number) <= 0.5 * 86_400);
});

test('the CA unreachable for an hour raises ca_unreachable once the hour is over, signed', { timeout: 30_000 }, async (t) => {
  const hook = await startReceiver();
  t.after(() => hook.close());
  const closed = await freePort();
  const clock = { now: Date.now() };
  const host = name('unreachable');
  const rt = await buildRuntime(
    settings(tempDir(t), {
      httpPort: null,
      acmeDirectory: `https://127.0.0.1:${closed}/dir`,
      acmeAgreeTos: true,
      acmeEmail: 'ops@certgate.dev',
      domain: host,
      alertsWebhooks: [hook.url],
      alertsSecret: SECRET,
    }),
    { alertOptions: { ...FAST, clock: () => clock.now } },
  );
  await rt.start();
  t.after(() => rt.close());
  await assert.rejects(rt.engines.manager().obtain(host), (e: { code?: string }) => e.code === 'E_ACME_UNREACHABLE');
  await rt.alerts?.idle();
  assert.deepEqual(
    hook.deliveries.map((d) => d.payload.kind),
    ['name_failing'],
    'not yet: the CA has been unreachable for a moment only',
  );
  clock.now += 61 * 60_000;
  await assert.rejects(rt.engines.manager().obtain(host, { force: true }));
  await hook.until(() => hook.deliveries.some((d) => d.payload.kind === 'ca_unreachable'), 'ca_unreachable');
  const d = hook.deliveries.find((x) => x.payload.kind === 'ca_unreachable') as (typeof hook.deliveries)[number];
  assert.equal(signedWith(d, SECRET), true);
  assert.equal(d.payload.name, `https://127.0.0.1:${closed}/dir`);
  assert.equal(d.payload.detail.code, 'E_ACME_UNREACHABLE');
});

test('a file the trust store rejects raises trust_file_rejected, signed, with the fix', async (t) => {
  const hook = await startReceiver();
  t.after(() => hook.close());
  const data = tempDir(t);
  mkdirSync(join(data, 'ca-certs'), { recursive: true });
  const leaf = await createCertificate({ subject: 'CN=db.internal', dns: ['db.internal'] });
  writeFileSync(join(data, 'ca-certs', 'db.pem'), leaf.certPem);
  const rt = await buildRuntime(settings(data, { httpPort: null, alertsWebhooks: [hook.url], alertsSecret: SECRET }), { alertOptions: FAST });
  await rt.start();
  t.after(() => rt.close());
  await hook.until(() => hook.deliveries.length >= 1, 'trust_file_rejected');
  const d = hook.deliveries[0] as (typeof hook.deliveries)[number];
  assert.equal(d.payload.kind, 'trust_file_rejected');
  assert.equal(signedWith(d, SECRET), true);
  assert.equal(d.payload.name, 'db.pem');
  assert.equal(d.payload.detail.code, 'E_TRUST_LEAF');
  assert.match(String(d.payload.detail.fix), /pin/);
});

test('a webhook that answers 500 then 200 gets the same alert again, with the same delivery id', async (t) => {
  const hook = await startReceiver((n) => (n === 1 ? 500 : 200));
  t.after(() => hook.close());
  const data = tempDir(t);
  mkdirSync(join(data, 'ca-certs'), { recursive: true });
  writeFileSync(join(data, 'ca-certs', 'junk.crt'), 'not a certificate\n');
  const rt = await buildRuntime(settings(data, { httpPort: null, alertsWebhooks: [hook.url], alertsSecret: SECRET }), { alertOptions: FAST });
  const reports: Array<{ ok: boolean; attempts: number }> = [];
  (rt.alerts as NonNullable<typeof rt.alerts>).sender.onReport = (r) => reports.push(r);
  await rt.start();
  t.after(() => rt.close());
  await hook.until(() => reports.length === 1, 'the delivery to end');
  assert.equal(hook.deliveries.length, 2);
  assert.equal(hook.deliveries[0]?.headers['x-certgate-delivery'], hook.deliveries[1]?.headers['x-certgate-delivery']);
  assert.equal(hook.deliveries[0]?.raw, hook.deliveries[1]?.raw);
  assert.equal(signedWith(hook.deliveries[1] as (typeof hook.deliveries)[number], SECRET), true, 'the retry is signed afresh');
  assert.deepEqual(reports[0] && { ok: reports[0].ok, attempts: reports[0].attempts }, { ok: true, attempts: 2 });
});

test('a webhook that hangs does not delay issuance: a failure and an issuance complete while it holds the request', { timeout: 60_000 }, async (t) => {
  const hook = await startReceiver(() => 'hang');
  t.after(() => hook.close());
  const bad = await failingName('hang-bad');
  const good = name('hang-good');
  const rt = await buildRuntime(pebbleSettings(pebble, tempDir(t), { domain: good, alertsWebhooks: [hook.url], alertsSecret: SECRET }), {
    alertOptions: { ...FAST, timeoutMs: 30_000 },
  });
  await rt.start();
  t.after(() => rt.close());
  await assert.rejects(rt.engines.manager().obtain(bad), 'the failure raises an alert, and returns');
  await hook.until(() => hook.hanging === 1, 'the receiver to hold the alert');
  const started = performance.now();
  const { issued } = await rt.engines.manager().obtain(good);
  const ms = performance.now() - started;
  assert.equal(issued, true);
  assert.equal(hook.hanging, 1, 'the webhook is still hanging when the issuance is done');
  assert.ok(ms < 10_000, `issued in ${Math.round(ms)} ms`);
});

test('no secret and no private key in any payload, header but the signature, or log line', { timeout: 60_000 }, async (t) => {
  const hook = await startReceiver();
  t.after(() => hook.close());
  const lines: string[] = [];
  const log = createLogger({ write: (l) => lines.push(l), level: 'debug' });
  const host = await failingName('secrets');
  const data = tempDir(t);
  mkdirSync(join(data, 'ca-certs'), { recursive: true });
  const leaf = await createCertificate({ subject: 'CN=db.internal', dns: ['db.internal'] });
  writeFileSync(join(data, 'ca-certs', 'both.pem'), leaf.certPem + leaf.keyPem);
  const rt = await buildRuntime(pebbleSettings(pebble, data, { domain: host, alertsWebhooks: [hook.url], alertsSecret: SECRET }), { log, alertOptions: FAST });
  await rt.start();
  t.after(() => rt.close());
  await assert.rejects(rt.engines.manager().obtain(host));
  await hook.until(() => hook.deliveries.length >= 2, 'name_failing and trust_file_rejected');
  await rt.alerts?.idle();
  const account = await rt.engines.store.getAccount(rt.engines.issuer().directory);
  const keyBody = (pem: string) => pem.split('\n').filter((l) => l && !l.startsWith('-----'))[0] as string;
  const forbidden = [SECRET, 'PRIVATE KEY', keyBody(leaf.keyPem), keyBody(account?.keyPem ?? '-----\nnone')];
  for (const d of hook.deliveries) {
    const { 'x-certgate-signature': _sig, ...headers } = d.headers;
    for (const f of forbidden) {
      assert.equal(d.raw.includes(f), false, `payload ${d.payload.kind} holds ${f.slice(0, 12)}`);
      assert.equal(JSON.stringify(headers).includes(f), false);
    }
  }
  assert.ok(
    lines.some((l) => l.includes('alert name_failing')),
    'the alert is logged',
  );
  for (const l of lines) for (const f of forbidden) assert.equal(l.includes(f), false, `log line holds ${f.slice(0, 12)}: ${l.slice(0, 200)}`);
});
