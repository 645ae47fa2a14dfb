/**
 * serve --workers: handshakes happen in the worker processes; a scrape of the primary asks each
 * worker for its counters over the cluster channel and adds them up; a worker's certificate
 * events reach the primary's certificate view.
 */
import assert from 'node:assert/strict';
import cluster from 'node:cluster';
import { join } from 'node:path';
import { test } from 'node:test';
import { connect as tlsConnect } from 'node:tls';
import { superviseWorkers, WORKER_SETTINGS_ENV } from '../../src/cli/workers.ts';
import type { MetricsJson } from '../../src/metrics/index.ts';
import { buildRuntime } from '../../src/runtime/server.ts';
import type { CertEvent } from '../../src/store/store.ts';
import { name } from '../acme/helpers.ts';
import { freePort } from '../helpers/daemons.ts';
import { startPebble } from '../helpers/pebble.ts';
import { settings } from '../helpers/settings.ts';
import { tempDir } from '../helpers/tmp.ts';
import { pebbleSettings, value } from './helpers.ts';

test('with two workers, the primary scrape sums the handshakes both workers counted', { timeout: 60_000 }, async (t) => {
  const data = tempDir(t);
  const https = await freePort();
  const s = settings(data, { httpsPort: https, httpPort: null });
  cluster.setupPrimary({ exec: join(import.meta.dirname, 'worker-main.ts'), execArgv: ['--import', 'tsx'], silent: false });
  let supervisor: ReturnType<typeof superviseWorkers> | null = null;
  const primary = await buildRuntime(s, { serve: false, metricsPeers: async () => ((await supervisor?.metrics()) ?? []) as MetricsJson[] });
  await primary.start();
  t.after(() => primary.close());
  supervisor = superviseWorkers(2, () => {}, { [WORKER_SETTINGS_ENV]: JSON.stringify({ ...s, config: undefined, workers: 2 }) });
  t.after(() => supervisor?.stop(5000));
  await supervisor.ready;
  const n = 8;
  for (let i = 0; i < n; i++)
    await new Promise<void>((resolve, reject) => {
      const c = tlsConnect({ port: https, host: '127.0.0.1', servername: 'localhost', rejectUnauthorized: false }, () => {
        // A client that resets at once can beat the server's end of the TLS 1.3 handshake (counted as failed there).
        setTimeout(() => {
          c.end();
          resolve();
        }, 30);
      });
      c.on('error', reject);
    });
  const answers = await supervisor.metrics();
  assert.equal(answers.length, 2, 'both workers answered');
  const text = await (primary.metrics as NonNullable<typeof primary.metrics>).text();
  assert.equal(value(text, 'certgate_tls_handshakes_total', { outcome: 'full' }), n);
  // The primary's own series are in the same scrape (one family each, not one per process).
  assert.equal(text.match(/^# TYPE certgate_tls_handshakes_total /gm)?.length, 1);
  assert.equal(value(text, 'certgate_trust_store_reloads_total'), 1, "the primary's trust store, once");
});

test('with workers, a certificate a worker obtains on demand reaches the primary view: its series are in the primary scrape', {
  timeout: 90_000,
}, async (t) => {
  const pebble = await startPebble();
  t.after(() => pebble.close());
  const data = tempDir(t);
  const host = name('worker');
  const https = await freePort();
  const s = pebbleSettings(pebble, data, { domain: host, httpsPort: https });
  cluster.setupPrimary({ exec: join(import.meta.dirname, 'worker-main.ts'), execArgv: ['--import', 'tsx'], silent: false });
  let supervisor: ReturnType<typeof superviseWorkers> | null = null;
  const primary = await buildRuntime(
    { ...s, httpPort: null },
    { serve: false, metricsPeers: async () => ((await supervisor?.metrics()) ?? []) as MetricsJson[] },
  );
  await primary.start();
  t.after(() => primary.close());
  supervisor = superviseWorkers(2, () => {}, { [WORKER_SETTINGS_ENV]: JSON.stringify({ ...s, config: undefined, workers: 2 }) });
  supervisor.onEvent = (event) => primary.observeEvent(event as CertEvent);
  t.after(() => supervisor?.stop(5000));
  await supervisor.ready;
  const ok = await new Promise<boolean>((resolve) => {
    const c = tlsConnect({ port: https, host: '127.0.0.1', servername: host, rejectUnauthorized: false }, () => {
      setTimeout(() => {
        c.end();
        resolve(true);
      }, 30);
    });
    c.on('error', () => resolve(false));
  });
  assert.equal(ok, true);
  const m = primary.metrics as NonNullable<typeof primary.metrics>;
  // The worker's event crosses the cluster channel, then the view reads the store again.
  let text = await m.text();
  for (let i = 0; i < 100 && value(text, 'certgate_certificate_ready_status', { name: host, state: 'valid' }) !== 1; i++) {
    await new Promise((r) => setTimeout(r, 50));
    text = await m.text();
  }
  const stored = await primary.engines.store.getBundle(host);
  assert.equal(value(text, 'certgate_certificate_not_after_timestamp_seconds', { name: host }), Date.parse(stored?.meta.notAfter ?? '') / 1000);
  assert.equal(value(text, 'certgate_ondemand_decisions_total', { decision: 'issued' }), 1, "the worker's decision, summed");
  assert.equal(value(text, 'certgate_issuance_successes_total'), 1, 'counted once (in the worker), not again in the primary');
});
