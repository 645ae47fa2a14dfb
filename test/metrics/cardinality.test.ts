/**
 * Label cardinality: per-name series for managed names only, at most metricsMaxNames of them
 * (the ones expiring soonest), the rest counted in the aggregate and in the dropped gauge; a
 * random SNI never creates a series. The view is refreshed by events, not by the scrape.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { connect as tlsConnect } from 'node:tls';
import { createCertificate } from '../../src/pki/generate.ts';
import { buildRuntime } from '../../src/runtime/server.ts';
import { FsStore } from '../../src/store/fs.ts';
import { certMeta } from '../../src/store/meta.ts';
import { settings } from '../helpers/settings.ts';
import { tempDir } from '../helpers/tmp.ts';
import { samples, value } from './helpers.ts';

const DAY = 86_400_000;

async function storeCert(data: string, name: string, daysLeft: number): Promise<void> {
  const now = Date.now();
  const c = await createCertificate({ subject: `CN=${name}`, dns: [name], notBefore: new Date(now - DAY), notAfter: new Date(now + daysLeft * DAY) });
  await new FsStore({ root: data }).putBundle(name, {
    certPem: c.certPem,
    keyPem: c.keyPem,
    meta: certMeta(c.certPem, { name, names: [name], directory: 'test', keyType: 'ec-p256' }),
  });
}

test('beyond metricsMaxNames the soonest-expiring names keep their series; the rest are counted, not dropped silently', async (t) => {
  const data = tempDir(t);
  for (const [i, days] of [50, 10, 40, 20, 30].entries()) await storeCert(data, `n${i}.example.com`, days);
  const rt = await buildRuntime(settings(data, { metricsMaxNames: 2, httpPort: null }));
  await rt.start();
  t.after(() => rt.close());
  const text = await (rt.metrics as NonNullable<typeof rt.metrics>).text();
  const named = samples(text).filter((s) => s.name === 'certgate_certificate_not_after_timestamp_seconds');
  assert.deepEqual(named.map((s) => s.labels.name).sort(), ['n1.example.com', 'n3.example.com'], 'the two closest to expiry');
  assert.equal(samples(text).filter((s) => s.name === 'certgate_certificate_ready_status').length, 2 * 4, 'one series per state per shown name');
  assert.equal(value(text, 'certgate_metrics_names_dropped'), 3);
  assert.equal(value(text, 'certgate_certificates', { state: 'valid' }), 5, 'the aggregate counts every name');
});

test('a random SNI makes no per-name series; a stored name appears after its event, without a scan at scrape time', async (t) => {
  const data = tempDir(t);
  const rt = await buildRuntime(
    settings(data, { httpPort: null, acmeAgreeTos: true, acmeEmail: 'ops@certgate.dev', acmeDirectory: 'https://127.0.0.1:9/dir', domain: 'main.example.com' }),
  );
  const ports = await rt.start();
  t.after(() => rt.close());
  for (let i = 0; i < 20; i++)
    await new Promise<void>((resolve) => {
      const s = tlsConnect(
        { port: ports.https as number, host: '127.0.0.1', servername: `r${i}-${Math.random().toString(36).slice(2)}.example.org`, rejectUnauthorized: false },
        () => {
          s.destroy();
          resolve();
        },
      );
      s.on('error', () => resolve());
    });
  const m = rt.metrics as NonNullable<typeof rt.metrics>;
  let text = await m.text();
  assert.equal(samples(text).filter((s) => s.name.startsWith('certgate_certificate_')).length, 0, 'no series for names nobody manages');
  assert.equal(value(text, 'certgate_ondemand_decisions_total', { decision: 'refused' }), 20);
  // A certificate written behind the runtime's back is not seen by a scrape (no storage scan)...
  await storeCert(data, 'late.example.com', 30);
  text = await m.text();
  assert.equal(value(text, 'certgate_certificate_not_after_timestamp_seconds', { name: 'late.example.com' }), undefined);
  // ...and is, once an event names it.
  await rt.engines.store.appendEvent({ at: new Date().toISOString(), name: 'late.example.com', type: 'cert_obtained', message: 'test' });
  text = await m.text();
  assert.ok((value(text, 'certgate_certificate_not_after_timestamp_seconds', { name: 'late.example.com' }) ?? 0) > Date.now() / 1000);
});

test('metricsMaxNames must be a whole number', async (t) => {
  await assert.rejects(
    buildRuntime(settings(tempDir(t), { metricsMaxNames: -1 })),
    (e: { code?: string; option?: string }) => e.code === 'E_OPTION' && e.option === 'metricsMaxNames',
  );
});
