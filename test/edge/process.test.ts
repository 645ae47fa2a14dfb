/**
 * `certgate serve` as a real process (the built bin): SIGHUP reloads the configuration file
 * (a broken file keeps the running one), SIGTERM lets a request in flight finish, then exits 0.
 */
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { freePort } from '../helpers/daemons.ts';
import { tempDir } from '../helpers/tmp.ts';
import { httpsGet, startServe, startUpstream, waitFor } from './helpers.ts';

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
  const s = startServe(['--config', config], { CERTGATE_DATA: join(dir, 'data') });
  const child = s.child;
  t.after(() => {
    if (child.exitCode === null) child.kill('SIGKILL');
  });
  const exited = s.exited;
  await waitFor(() => s.err().includes('trust it:'), 'the start-up banner');
  const ca = readFileSync(join(dir, 'data', 'local-ca', 'root.pem'), 'utf8');

  assert.equal(JSON.parse((await httpsGet(https, '/first', ca)).body).url, '/first');
  assert.equal(a.seen.at(-1)?.url, '/first');

  write(b.url);
  child.kill('SIGHUP');
  await waitFor(() => s.err().includes('SIGHUP: configuration and certificates reloaded'), 'the reload');
  await httpsGet(https, '/second', ca);
  assert.equal(b.seen.at(-1)?.url, '/second', 'the new upstream, same process');

  writeFileSync(config, 'upstream: [not, a, url\n');
  const before = s.err().length;
  child.kill('SIGHUP');
  await waitFor(() => s.err().slice(before).includes('configuration not reloaded'), 'the refused reload');
  assert.match(s.err().slice(before), /configuration not reloaded, the running one stays: E_OPTION/);
  assert.doesNotMatch(s.err().slice(before), /configuration and certificates reloaded/, 'a refused reload is not also reported as done');
  await httpsGet(https, '/third', ca);
  assert.equal(b.seen.at(-1)?.url, '/third', 'still the last good configuration');

  // A slow request (300 ms upstream) in flight when SIGTERM arrives still gets its answer.
  const slow = httpsGet(https, '/slow', ca);
  await waitFor(() => b.seen.at(-1)?.url === '/slow', 'the slow request to reach the app');
  child.kill('SIGTERM');
  const answered = await slow;
  assert.equal(answered.status, 200);
  assert.equal(await exited, 0);
  assert.match(s.err(), /stopping: draining connections/);
  await assert.rejects(httpsGet(https, '/after', ca), /ECONNREFUSED/);
});
