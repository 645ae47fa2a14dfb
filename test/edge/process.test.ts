/**
 * `certgate serve` as a real process (the built bin): SIGHUP reloads the configuration file
 * (a broken file keeps the running one), SIGTERM lets a request in flight finish, then exits 0.
 */
import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { request as httpsRequest } from 'node:https';
import { join } from 'node:path';
import { test } from 'node:test';
import { freePort } from '../helpers/daemons.ts';
import { tempDir } from '../helpers/tmp.ts';
import { startUpstream } from './helpers.ts';

const bin = join(import.meta.dirname, '..', '..', 'bin', 'certgate.js');

function get(port: number, path: string, ca: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = httpsRequest({ host: '127.0.0.1', port, path, servername: 'localhost', ca, agent: false }, (res) => {
      let body = '';
      res.on('data', (d) => {
        body += d;
      });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('error', reject);
    req.end();
  });
}

async function waitFor(what: () => boolean, label: string, ms = 15_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!what()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${label}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

test('serve as a process: SIGHUP reloads the config (a broken one is refused), SIGTERM drains a request in flight and exits 0', {
  timeout: 60_000,
}, async (t) => {
  const dir = tempDir(t);
  const [a, b] = [await startUpstream(), await startUpstream()];
  t.after(() => Promise.all([a.close(), b.close()]));
  const [https, http] = [await freePort(), await freePort()];
  const config = join(dir, 'certgate.yaml');
  const write = (upstream: string) => writeFileSync(config, `upstream: ${upstream}\nlisten: { https: ${https}, http: ${http}, host: 127.0.0.1 }\n`);
  write(a.url);
  const child: ChildProcess = spawn(process.execPath, [bin, 'serve', '--config', config], {
    env: { PATH: process.env.PATH ?? '', CERTGATE_DATA: join(dir, 'data') },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  t.after(() => {
    if (child.exitCode === null) child.kill('SIGKILL');
  });
  let out = '';
  let err = '';
  child.stdout?.on('data', (d) => {
    out += d;
  });
  child.stderr?.on('data', (d) => {
    err += d;
  });
  const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
  await waitFor(() => out.includes('trust it:'), 'the start-up banner');
  const ca = readFileSync(join(dir, 'data', 'local-ca', 'root.pem'), 'utf8');

  assert.equal(JSON.parse((await get(https, '/first', ca)).body).url, '/first');
  assert.equal(a.seen.at(-1)?.url, '/first');

  write(b.url);
  child.kill('SIGHUP');
  await waitFor(() => err.includes('SIGHUP: configuration and certificates reloaded'), 'the reload');
  await get(https, '/second', ca);
  assert.equal(b.seen.at(-1)?.url, '/second', 'the new upstream, same process');

  writeFileSync(config, 'upstream: [not, a, url\n');
  const before = err.length;
  child.kill('SIGHUP');
  await waitFor(() => err.slice(before).includes('SIGHUP: configuration and certificates reloaded'), 'the second reload');
  assert.match(err.slice(before), /configuration not reloaded, the running one stays: E_OPTION/);
  await get(https, '/third', ca);
  assert.equal(b.seen.at(-1)?.url, '/third', 'still the last good configuration');

  // A slow request (300 ms upstream) in flight when SIGTERM arrives still gets its answer.
  const slow = get(https, '/slow', ca);
  await waitFor(() => b.seen.at(-1)?.url === '/slow', 'the slow request to reach the app');
  child.kill('SIGTERM');
  const answered = await slow;
  assert.equal(answered.status, 200);
  assert.equal(await exited, 0);
  assert.match(err, /stopping: draining connections/);
  await assert.rejects(get(https, '/after', ca), /ECONNREFUSED/);
});
