/**
 * `certgate serve` with its admin listener, as a process: the start-up line names it, the
 * settings route shows each value's source as the CLI resolved it, reload goes through SIGHUP's
 * path; with --workers only the primary runs it; a non-loopback address without TLS stops the
 * start with exit 2 and the reason.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { test } from 'node:test';
import { run } from '../../src/cli/run.ts';
import { startServe, waitFor } from '../edge/helpers.ts';
import { freePort } from '../helpers/daemons.ts';
import { fakeIo } from '../helpers/io.ts';
import { tempDir } from '../helpers/tmp.ts';

function childrenOf(pid: number): number[] {
  try {
    return execFileSync('pgrep', ['-P', String(pid)], { encoding: 'utf8' })
      .trim()
      .split('\n')
      .filter(Boolean)
      .map(Number);
  } catch {
    return [];
  }
}

async function token(data: string): Promise<string> {
  const io = fakeIo();
  assert.equal(await run(['admin', 'token', 'create', '--json', '--data', data], io), 0);
  return (JSON.parse(io.stdout) as { token: string }).token;
}

test('serve: the admin listener starts with it, says where, shows settings with their sources, and reloads', { timeout: 60_000 }, async (t) => {
  const data = tempDir(t);
  const [https, admin] = [await freePort(), await freePort()];
  const s = startServe(['--data', data, '--https-port', String(https), '--http-port', 'off', '--host', '127.0.0.1', '--admin-listen', `127.0.0.1:${admin}`], {
    HOME: data,
    CERTGATE_HSTS: 'false',
  });
  t.after(() => {
    if (s.child.exitCode === null) s.child.kill('SIGKILL');
  });
  await waitFor(() => /admin API and dashboard: http:\/\/127\.0\.0\.1:\d+/.test(s.err()), 'the banner', 20_000);
  const auth = { authorization: `Bearer ${await token(data)}` };
  const view = (await (await fetch(`http://127.0.0.1:${admin}/api/settings`, { headers: auth })).json()) as {
    settings: Record<string, { value: unknown; source: string }>;
  };
  assert.deepEqual(view.settings.adminListen, { value: `127.0.0.1:${admin}`, source: '--admin-listen' });
  assert.deepEqual(view.settings.hsts, { value: false, source: 'CERTGATE_HSTS' });
  assert.equal(view.settings.redirect?.source, 'default');
  const reload = await fetch(`http://127.0.0.1:${admin}/api/settings/reload`, { method: 'POST', headers: auth });
  assert.deepEqual(await reload.json(), { restart: [] });
  await waitFor(() => /SIGHUP: configuration and certificates reloaded/.test(s.err()), 'the reload log line');
  s.child.kill('SIGTERM');
  assert.equal(await s.exited, 0);
  await assert.rejects(fetch(`http://127.0.0.1:${admin}/api/settings`), 'the listener is closed with serve');
});

test('serve --workers 2: the admin listener runs in the primary only', { timeout: 60_000 }, async (t) => {
  const data = tempDir(t);
  const [https, admin] = [await freePort(), await freePort()];
  const s = startServe(
    ['--data', data, '--workers', '2', '--https-port', String(https), '--http-port', 'off', '--host', '127.0.0.1', '--admin-listen', `127.0.0.1:${admin}`],
    { HOME: data },
  );
  t.after(() => {
    for (const pid of childrenOf(s.child.pid as number)) process.kill(pid, 'SIGKILL');
    if (s.child.exitCode === null) s.child.kill('SIGKILL');
  });
  await waitFor(() => /2 worker processes/.test(s.err()), 'the banner', 30_000);
  const lines = s.err().match(/admin API and dashboard on/g) ?? [];
  assert.equal(lines.length, 1, 'one process says it runs the admin listener');
  assert.doesNotMatch(s.err(), /"worker":\d+[^\n]*admin API/);
  const r = await fetch(`http://127.0.0.1:${admin}/api/settings`, { headers: { authorization: `Bearer ${await token(data)}` } });
  assert.equal(((await r.json()) as { settings: Record<string, { source: string }> }).settings.workers?.source, '--workers');
  s.child.kill('SIGTERM');
  assert.equal(await s.exited, 0);
});

test('serve: a non-loopback admin address without TLS is refused at start, exit 2, with the fix', { timeout: 30_000 }, async (t) => {
  const data = tempDir(t);
  const s = startServe(
    ['--data', data, '--https-port', String(await freePort()), '--http-port', 'off', '--host', '127.0.0.1', '--admin-listen', `0.0.0.0:${await freePort()}`],
    { HOME: data },
  );
  t.after(() => {
    if (s.child.exitCode === null) s.child.kill('SIGKILL');
  });
  assert.equal(await s.exited, 2);
  assert.match(s.err(), /E_ADMIN_TLS/);
  assert.match(s.err(), /admin\.tls|--admin-tls/);
});

test('serve: /metrics serves the runtime metrics, /api/doctor runs the doctor, and secret settings are shown redacted', { timeout: 60_000 }, async (t) => {
  const data = tempDir(t);
  const [https, admin] = [await freePort(), await freePort()];
  const key = 'ab'.repeat(32);
  const s = startServe(['--data', data, '--https-port', String(https), '--http-port', 'off', '--host', '127.0.0.1', '--admin-listen', `127.0.0.1:${admin}`], {
    HOME: data,
    CERTGATE_STORE_KEY: key,
    CERTGATE_ALERTS_SECRET: 'hook-secret-value',
  });
  t.after(() => {
    if (s.child.exitCode === null) s.child.kill('SIGKILL');
  });
  await waitFor(() => /admin API and dashboard: http:\/\/127\.0\.0\.1:\d+/.test(s.err()), 'the banner', 20_000);
  const auth = { authorization: `Bearer ${await token(data)}` };
  const metrics = await fetch(`http://127.0.0.1:${admin}/metrics`, { headers: auth });
  assert.equal(metrics.status, 200);
  assert.match(metrics.headers.get('content-type') ?? '', /^text\/plain/);
  assert.match(await metrics.text(), /^# HELP certgate_/m);
  const doctor = (await (await fetch(`http://127.0.0.1:${admin}/api/doctor`, { headers: auth })).json()) as { checks: Array<{ id: string; status: string }> };
  assert.ok(
    doctor.checks.some((c) => c.id === 'storage' && c.status === 'pass'),
    JSON.stringify(doctor.checks.map((c) => [c.id, c.status])),
  );
  const text = await (await fetch(`http://127.0.0.1:${admin}/api/settings`, { headers: auth })).text();
  assert.ok(!text.includes(key) && !text.includes('hook-secret-value'), 'no secret in the settings view');
  const view = JSON.parse(text) as { settings: Record<string, { value: unknown; source: string }> };
  assert.deepEqual(view.settings.storeKey, { value: '(redacted)', source: 'CERTGATE_STORE_KEY' });
  s.child.kill('SIGTERM');
  assert.equal(await s.exited, 0);
});
