/**
 * serve --workers: handshakes happen in the worker processes; a scrape of the primary asks each
 * worker for its counters over the cluster channel and adds them up.
 */
import assert from 'node:assert/strict';
import cluster from 'node:cluster';
import { join } from 'node:path';
import { test } from 'node:test';
import { connect as tlsConnect } from 'node:tls';
import { superviseWorkers, WORKER_SETTINGS_ENV } from '../../src/cli/workers.ts';
import type { MetricsJson } from '../../src/metrics/index.ts';
import { buildRuntime } from '../../src/runtime/server.ts';
import { freePort } from '../helpers/daemons.ts';
import { settings } from '../helpers/settings.ts';
import { tempDir } from '../helpers/tmp.ts';
import { value } from './helpers.ts';

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
