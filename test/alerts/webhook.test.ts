/**
 * Delivery on its own, against a real receiver on loopback: bounded retries, a 4xx taken as
 * final, a bounded queue, unsigned without a secret, a bad URL refused at build.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { WebhookSender } from '../../src/alerts/index.ts';
import { buildRuntime } from '../../src/runtime/server.ts';
import { settings } from '../helpers/settings.ts';
import { tempDir } from '../helpers/tmp.ts';
import { startReceiver } from './receiver.ts';

const payload = (id: string) => ({ version: 1, id, kind: 'name_failing', at: new Date().toISOString(), name: 'a.example.com', summary: 's', detail: {} });

test('a webhook that keeps answering 503 is tried `attempts` times, then given up and logged', async (t) => {
  const hook = await startReceiver(() => 503);
  t.after(() => hook.close());
  const logged: string[] = [];
  const sender = new WebhookSender({ urls: [hook.url], attempts: 3, backoffMs: 20, log: (_l, msg) => logged.push(msg) });
  t.after(() => sender.close());
  sender.enqueue('name_failing', payload('one'));
  await sender.idle();
  assert.equal(hook.deliveries.length, 3);
  assert.match(logged.join('\n'), /not delivered .* after 3 attempt\(s\): 503/);
});

test("a 400 is the receiver's final word: not retried", async (t) => {
  const hook = await startReceiver(() => 400);
  t.after(() => hook.close());
  const sender = new WebhookSender({ urls: [hook.url], attempts: 5, backoffMs: 20 });
  t.after(() => sender.close());
  sender.enqueue('name_failing', payload('two'));
  await sender.idle();
  assert.equal(hook.deliveries.length, 1);
});

test('the queue is bounded: beyond queueLimit the oldest waiting delivery is dropped and said', async (t) => {
  const hook = await startReceiver(() => 'hang');
  t.after(() => hook.close());
  const logged: string[] = [];
  const sender = new WebhookSender({ urls: [hook.url], queueLimit: 2, concurrency: 1, timeoutMs: 60_000, log: (_l, msg) => logged.push(msg) });
  t.after(() => sender.close());
  for (let i = 0; i < 5; i++) sender.enqueue('name_failing', payload(`q${i}`));
  // One in flight (q0), two waiting (q3, q4): q1 and q2 were dropped.
  assert.equal(sender.dropped, 2);
  assert.equal(sender.pending, 3);
  assert.match(logged.join('\n'), /alert queue full \(2\): dropped the name_failing alert q1/);
});

test('without a secret the delivery is unsigned (no signature header), with its timestamp and id', async (t) => {
  const hook = await startReceiver();
  t.after(() => hook.close());
  const sender = new WebhookSender({ urls: [hook.url] });
  t.after(() => sender.close());
  sender.enqueue('name_failing', payload('three'));
  await sender.idle();
  const d = hook.deliveries[0];
  assert.equal(d?.headers['x-certgate-signature'], undefined);
  assert.equal(d?.headers['x-certgate-delivery'], 'three');
  assert.match(String(d?.headers['x-certgate-timestamp']), /^\d+$/);
});

test('a webhook that is not an http(s) URL fails the build with E_OPTION on alertsWebhooks, credentials not echoed', async (t) => {
  await assert.rejects(
    buildRuntime(settings(tempDir(t), { alertsWebhooks: ['ftp://user:hunter2@hooks.example.com/x'] })),
    (e: { code?: string; option?: string; message: string }) => e.code === 'E_OPTION' && e.option === 'alertsWebhooks' && !e.message.includes('hunter2'),
  );
});

test('a delivery given up is logged with the webhook host only, never its path or query (often the credential)', async (t) => {
  const hook = await startReceiver(() => 404);
  t.after(() => hook.close());
  const logged: string[] = [];
  const sender = new WebhookSender({ urls: [`${hook.url}/services/T0/B0/s3cr3t?token=abc`], log: (_l, msg) => logged.push(msg) });
  t.after(() => sender.close());
  sender.enqueue('name_failing', payload('four'));
  await sender.idle();
  assert.match(logged.join('\n'), /not delivered to http:\/\/127\.0\.0\.1:\d+\/… after 1 attempt\(s\): 404/);
  assert.equal(/s3cr3t|token=abc/.test(logged.join('\n')), false);
});
