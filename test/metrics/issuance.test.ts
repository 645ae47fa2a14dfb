/**
 * Metrics against a real Pebble: a certificate obtained through the runtime shows up in the
 * scrape with its own notAfter/notBefore, its renewal point and its state; the issuance and the
 * ACME requests are counted; on-demand decisions at the handshake are counted.
 */
import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { test } from 'node:test';
import { connect as tlsConnect } from 'node:tls';
import { request } from 'undici';
import { buildRuntime } from '../../src/runtime/server.ts';
import { name } from '../acme/helpers.ts';
import { startPebble } from '../helpers/pebble.ts';
import { tempDir } from '../helpers/tmp.ts';
import { pebbleSettings, value } from './helpers.ts';

const pebble = await startPebble();
test.after(() => pebble.close());

test('a Pebble certificate is scraped with its own notAfter, notBefore, renewal point and ready state', { timeout: 60_000 }, async (t) => {
  const data = tempDir(t);
  const host = name('metrics');
  const rt = await buildRuntime(pebbleSettings(pebble, data, { domain: host }));
  await rt.start();
  t.after(() => rt.close());
  const { bundle } = await rt.engines.manager().obtain(host);
  const leaf = new X509Certificate(bundle.certPem);
  const text = await (rt.metrics as NonNullable<typeof rt.metrics>).text();
  const notAfter = Date.parse(leaf.validTo) / 1000;
  const notBefore = Date.parse(leaf.validFrom) / 1000;
  assert.equal(value(text, 'certgate_certificate_not_after_timestamp_seconds', { name: host }), notAfter);
  assert.equal(value(text, 'certgate_certificate_expiration_timestamp_seconds', { name: host }), notAfter);
  assert.equal(value(text, 'certgate_certificate_not_before_timestamp_seconds', { name: host }), notBefore);
  // Pebble's certificates live 5 years: renewal at two thirds of the lifetime.
  const renewal = value(text, 'certgate_certificate_renewal_timestamp_seconds', { name: host }) as number;
  assert.ok(Math.abs(renewal - (notAfter - (notAfter - notBefore) / 3)) < 1, `renewal ${renewal}`);
  assert.equal(value(text, 'certgate_certificate_ready_status', { name: host, state: 'valid' }), 1);
  for (const state of ['renewing', 'failing', 'needs_action']) assert.equal(value(text, 'certgate_certificate_ready_status', { name: host, state }), 0);
  assert.equal(value(text, 'certgate_certificates', { state: 'valid' }), 1);
});

test('an issuance is counted, with its ACME requests by action and status and their durations', { timeout: 60_000 }, async (t) => {
  const data = tempDir(t);
  const host = name('counted');
  const rt = await buildRuntime(pebbleSettings(pebble, data, { domain: host }));
  await rt.start();
  t.after(() => rt.close());
  const m = rt.metrics as NonNullable<typeof rt.metrics>;
  const before = await m.text();
  const ordersBefore = value(before, 'certgate_acme_client_requests_total', { action: 'newOrder', status: '201' }) ?? 0;
  await rt.engines.manager().obtain(host);
  const text = await m.text();
  assert.equal(value(text, 'certgate_issuance_attempts_total'), 1);
  assert.equal(value(text, 'certgate_issuance_successes_total'), 1);
  assert.equal(value(text, 'certgate_acme_client_requests_total', { action: 'newOrder', status: '201' }), ordersBefore + 1);
  assert.ok((value(text, 'certgate_acme_client_requests_total', { action: 'finalize', status: '200' }) ?? 0) >= 1, 'finalize counted');
  assert.ok((value(text, 'certgate_acme_client_requests_total', { action: 'certificate', status: '200' }) ?? 0) >= 1, 'certificate download counted');
  assert.ok((value(text, 'certgate_acme_client_requests_total', { action: 'newNonce', status: '200' }) ?? 0) >= 1, 'newNonce counted');
  const count = value(text, 'certgate_acme_client_request_duration_seconds_count', { action: 'newOrder', status: '201' }) as number;
  const sum = value(text, 'certgate_acme_client_request_duration_seconds_sum', { action: 'newOrder', status: '201' }) as number;
  assert.equal(count, ordersBefore + 1);
  assert.ok(sum > 0 && sum < 30, `newOrder took ${sum} s in all`);
});

test('a failed issuance is counted by the reason the CA gave', { timeout: 60_000 }, async (t) => {
  const data = tempDir(t);
  const host = name('refused');
  // Pebble validates HTTP-01 at 127.0.0.2 for this name, where nothing listens: a "connection" problem.
  const res = await request(`${pebble.challtestsrvUrl}/add-a`, { method: 'POST', body: JSON.stringify({ host: `${host}.`, addresses: ['127.0.0.2'] }) });
  await res.body.dump();
  const rt = await buildRuntime(pebbleSettings(pebble, data, { domain: host }));
  await rt.start();
  t.after(() => rt.close());
  await assert.rejects(rt.engines.manager().obtain(host));
  const text = await (rt.metrics as NonNullable<typeof rt.metrics>).text();
  assert.equal(value(text, 'certgate_issuance_failures_total', { reason: 'connection' }), 1, text.match(/certgate_issuance_failures_total.*$/gm)?.join('\n'));
  assert.equal(value(text, 'certgate_certificate_ready_status', { name: host, state: 'failing' }), 1, 'a name without a certificate that failed is failing');
  assert.equal(value(text, 'certgate_certificate_not_after_timestamp_seconds', { name: host }), undefined, 'no certificate, no expiry');
});

test('a name whose attempts are exhausted is needs_action, and counted', { timeout: 60_000 }, async (t) => {
  const data = tempDir(t);
  const host = name('exhausted');
  const res = await request(`${pebble.challtestsrvUrl}/add-a`, { method: 'POST', body: JSON.stringify({ host: `${host}.`, addresses: ['127.0.0.2'] }) });
  await res.body.dump();
  const rt = await buildRuntime(pebbleSettings(pebble, data, { domain: host }));
  await rt.start();
  t.after(() => rt.close());
  for (let i = 0; i < 5; i++) await assert.rejects(rt.engines.manager().obtain(host, { force: true }));
  const text = await (rt.metrics as NonNullable<typeof rt.metrics>).text();
  assert.equal(value(text, 'certgate_certificate_ready_status', { name: host, state: 'needs_action' }), 1);
  assert.equal(value(text, 'certgate_certificate_ready_status', { name: host, state: 'failing' }), 0);
  assert.equal(value(text, 'certgate_issuance_attempts_exhausted_total'), 1);
  assert.equal(value(text, 'certgate_issuance_failures_total', { reason: 'connection' }), 5);
  assert.equal(value(text, 'certgate_certificates', { state: 'needs_action' }), 1);
});

function handshake(port: number, servername: string): Promise<boolean> {
  return new Promise((resolve) => {
    const s = tlsConnect({ port, host: '127.0.0.1', servername, rejectUnauthorized: false }, () => {
      s.destroy();
      resolve(true);
    });
    s.on('error', () => resolve(false));
  });
}

test('on-demand decisions at the handshake are counted: issued for the main domain, refused for a stranger', { timeout: 60_000 }, async (t) => {
  const data = tempDir(t);
  const host = name('ondemand');
  const rt = await buildRuntime(pebbleSettings(pebble, data, { domain: host }));
  const ports = await rt.start();
  t.after(() => rt.close());
  assert.equal(await handshake(ports.https as number, host), true);
  assert.equal(await handshake(ports.https as number, name('stranger')), false);
  const text = await (rt.metrics as NonNullable<typeof rt.metrics>).text();
  assert.equal(value(text, 'certgate_ondemand_decisions_total', { decision: 'issued' }), 1);
  assert.equal(value(text, 'certgate_ondemand_decisions_total', { decision: 'refused' }), 1);
  assert.equal(value(text, 'certgate_ondemand_decisions_total', { decision: 'over_budget' }), 0);
  assert.equal(value(text, 'certgate_certificate_ready_status', { name: host, state: 'valid' }), 1, 'the on-demand certificate has its series');
});

test('metrics off: the runtime builds no registry and no certificate view', async (t) => {
  const data = tempDir(t);
  const rt = await buildRuntime(pebbleSettings(pebble, data, { metrics: false, httpPort: 0 }));
  await rt.start();
  t.after(() => rt.close());
  assert.equal(rt.metrics, null);
  assert.equal(rt.view, null);
});

test('the scrape can be served as it is: a tiny server answers GET /metrics with the content type and text', async (t) => {
  const data = tempDir(t);
  const rt = await buildRuntime(pebbleSettings(pebble, data, { httpPort: 0 }));
  await rt.start();
  t.after(() => rt.close());
  const m = rt.metrics as NonNullable<typeof rt.metrics>;
  const server = createServer((_req, res) => {
    void m.text().then((body) => {
      res.writeHead(200, { 'content-type': m.contentType });
      res.end(body);
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  t.after(() => new Promise<void>((r) => server.close(() => r())));
  const res = await request(`http://127.0.0.1:${(server.address() as AddressInfo).port}/metrics`);
  assert.equal(res.headers['content-type'], 'text/plain; version=0.0.4; charset=utf-8');
  const body = await res.body.text();
  assert.match(body, /^# HELP certgate_/m);
  assert.equal(value(body, 'certgate_tls_handshakes_total', { outcome: 'full' }), 0);
});
