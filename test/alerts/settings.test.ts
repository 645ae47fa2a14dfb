/**
 * The alert and metric settings as an operator gives them: a webhook list in the file (one URL or
 * several), the secret from its variable only and never shown.
 */
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import YAML from 'yaml';
import { run } from '../../src/cli/run.ts';
import { SERVE_TABLE } from '../../src/cli/settings/rows.ts';
import { resolve } from '../../src/cli/settings/table.ts';
import { fakeIo } from '../helpers/io.ts';
import { tempDir } from '../helpers/tmp.ts';

async function show(dir: string, env: Record<string, string>, file?: string) {
  if (file) writeFileSync(join(dir, 'c.yaml'), file);
  const io = fakeIo({ cwd: dir, env: { HOME: dir, ...env } });
  const code = await run(['config', 'show', '--json', ...(file ? ['--config', 'c.yaml'] : [])], io);
  return { code, io };
}

function resolved(file: string) {
  const context = { root: false, command: 'serve', cwd: '/', env: {} };
  return resolve(SERVE_TABLE, { flags: {}, env: {}, file: { name: 'c.yaml', data: YAML.parse(file) as Record<string, unknown> }, context }).settings;
}

test('alerts.webhook takes one URL or a list in the file; metrics: { maxNames } means metrics on', () => {
  const one = resolved('alerts:\n  webhook: https://hooks.example.com/a\nmetrics:\n  maxNames: 50\n');
  assert.deepEqual(one.alertsWebhooks, ['https://hooks.example.com/a']);
  assert.equal(one.metrics, true);
  assert.equal(one.metricsMaxNames, 50);
  const two = resolved('alerts:\n  webhook: [https://a.example.com/h, http://127.0.0.1:9/h]\n');
  assert.deepEqual(two.alertsWebhooks, ['https://a.example.com/h', 'http://127.0.0.1:9/h']);
});

test('webhook URLs are redacted in config show (a webhook URL is often its own credential)', async (t) => {
  const { code, io } = await show(tempDir(t), { CERTGATE_ALERTS_WEBHOOK: 'https://hooks.slack.com/services/T0/B0/s3cr3t' });
  assert.equal(code, 0, io.stderr);
  assert.deepEqual(JSON.parse(io.stdout).settings.alertsWebhooks, { value: '(redacted)', source: 'CERTGATE_ALERTS_WEBHOOK' });
  assert.equal(io.stdout.includes('s3cr3t'), false);
});

test('the alerts secret is redacted in config show and not echoed when refused', async (t) => {
  const ok = await show(tempDir(t), { CERTGATE_ALERTS_SECRET: 'hunter2-secret' });
  assert.equal(ok.code, 0);
  assert.deepEqual(JSON.parse(ok.io.stdout).settings.alertsSecret, { value: '(redacted)', source: 'CERTGATE_ALERTS_SECRET' });
  assert.equal(ok.io.stdout.includes('hunter2'), false);
  const bad = await show(tempDir(t), {}, 'alerts:\n  secret: [hunter2-secret]\n');
  assert.equal(bad.code, 2);
  assert.match(bad.io.stderr, /^error E_OPTION: c\.yaml alerts\.secret: "\(redacted\)" is not a non-empty secret/);
  assert.equal(bad.io.stderr.includes('hunter2'), false);
});
