/**
 * One alert per condition and name until it clears, then again: the alerts fed events and view
 * entries as the runtime feeds them, delivered to a real receiver.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { createAlerts } from '../../src/alerts/index.ts';
import type { CertEvent } from '../../src/store/store.ts';
import { startReceiver } from './receiver.ts';

const ev = (type: CertEvent['type'], name: string, data?: Record<string, unknown>): CertEvent => ({
  at: new Date().toISOString(),
  name,
  type,
  message: `${type} for ${name}`,
  ...(data ? { data } : {}),
});

test('a name that fails, recovers and fails again alerts twice; another name alerts on its own', async (t) => {
  const hook = await startReceiver();
  t.after(() => hook.close());
  const alerts = createAlerts({ urls: [hook.url], backoffMs: 20 });
  t.after(() => alerts.close());
  alerts.onEvent(ev('cert_failed', 'a.example.com', { code: 'E_ACME_CHALLENGE' }));
  alerts.onEvent(ev('cert_failed', 'a.example.com', { code: 'E_ACME_CHALLENGE' }));
  alerts.onEvent(ev('cert_failed', 'b.example.com', { code: 'E_ACME_CHALLENGE' }));
  alerts.onEvent(ev('cert_obtained', 'a.example.com'));
  alerts.onEvent(ev('cert_failed', 'a.example.com', { code: 'E_ACME_CHALLENGE' }));
  await alerts.idle();
  assert.deepEqual(
    hook.deliveries.map((d) => d.payload.name),
    ['a.example.com', 'b.example.com', 'a.example.com'],
  );
});

test('a rejected trust file alerts once while it stays, and again after it was fixed and broke again', async (t) => {
  const hook = await startReceiver();
  t.after(() => hook.close());
  const alerts = createAlerts({ urls: [hook.url], backoffMs: 20 });
  t.after(() => alerts.close());
  const bad = { file: 'x.pem', code: 'E_TRUST_LEAF', message: 'x.pem is a leaf', fix: 'pin it' };
  alerts.trustLoaded([bad]);
  alerts.trustLoaded([bad]);
  alerts.trustLoaded([]);
  alerts.trustLoaded([bad]);
  await alerts.idle();
  assert.equal(hook.deliveries.length, 2);
});

test('a certificate renewed out of its last tenth clears; the expiring one is checked again by the timer path', async (t) => {
  const hook = await startReceiver();
  t.after(() => hook.close());
  const clock = { now: Date.now() };
  const alerts = createAlerts({ urls: [hook.url], backoffMs: 20, clock: () => clock.now });
  t.after(() => alerts.close());
  const day = 86_400_000;
  const entry = {
    name: 'c.example.com',
    notBefore: clock.now - day,
    notAfter: clock.now + 9 * day,
    renewalAt: null,
    attempts: 0,
    failing: false,
    flagged: false,
    lastError: null,
  };
  alerts.check([entry]);
  await alerts.idle();
  assert.equal(hook.deliveries.length, 0, 'nine tenths left: nothing');
  clock.now += 8.5 * day;
  alerts.check([entry]);
  alerts.check([entry]);
  await alerts.idle();
  assert.equal(hook.deliveries.length, 1, 'in its last tenth: one alert');
  alerts.onViewChange({ ...entry, notBefore: clock.now, notAfter: clock.now + 10 * day }, entry.name);
  alerts.onViewChange({ ...entry, notBefore: clock.now - 9.5 * day, notAfter: clock.now + 0.5 * day }, entry.name);
  await alerts.idle();
  assert.equal(hook.deliveries.length, 2, 'renewed (cleared), then expiring again');
});
