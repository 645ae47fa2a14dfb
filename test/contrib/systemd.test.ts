/**
 * contrib/certgate.service: systemd's own checker accepts it with no warning (an unknown or
 * misspelt key is only a warning to systemd, so stderr must be empty), and it runs the bin
 * directly under node (not npx, whose shell does not pass the stop signal on) with the
 * capabilities, data directory and hardening the README promises.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { promisify } from 'node:util';
import { tempDir } from '../helpers/tmp.ts';

const run = promisify(execFile);
const UNIT = join(import.meta.dirname, '..', '..', 'contrib', 'certgate.service');
const skip = existsSync('/usr/bin/systemd-analyze') ? false : 'systemd-analyze is not installed (apt-get install systemd)';

async function verify(file: string): Promise<{ code: number; stderr: string }> {
  try {
    const r = await run('systemd-analyze', ['verify', '--man=no', file], { timeout: 60_000 });
    return { code: 0, stderr: r.stderr };
  } catch (err) {
    const e = err as { code: number; stderr: string };
    return { code: e.code, stderr: e.stderr };
  }
}

test('contrib/certgate.service: systemd-analyze verify passes with no warning', { skip }, async () => {
  assert.ok(existsSync('/usr/bin/node'), 'ExecStart names /usr/bin/node, which systemd-analyze checks');
  assert.deepEqual(await verify(UNIT), { code: 0, stderr: '' });
});

test('systemd-analyze verify here does catch a broken unit (the check above means something)', { skip }, async (t) => {
  const dir = tempDir(t);
  const broken = join(dir, 'certgate.service');
  writeFileSync(broken, readFileSync(UNIT, 'utf8').replace('ExecStart=/usr/bin/node', 'ExecStart=/usr/bin/no-such-node'));
  assert.equal((await verify(broken)).code, 1);
  writeFileSync(broken, readFileSync(UNIT, 'utf8').replace('ProtectSystem=', 'ProtectSystm='));
  assert.match((await verify(broken)).stderr, /Unknown key 'ProtectSystm'/);
});

test('contrib/certgate.service: node runs the bin directly, as certgate, with the data directory, reload and hardening', () => {
  const keys = new Map<string, string[]>();
  for (const line of readFileSync(UNIT, 'utf8').split('\n')) {
    const m = /^([A-Za-z]+)=(.*)$/.exec(line);
    if (m) keys.set(m[1] as string, [...(keys.get(m[1] as string) ?? []), m[2] as string]);
  }
  const one = (k: string) => keys.get(k)?.join(' ');
  assert.equal(one('ExecStart'), '/usr/bin/node /opt/certgate/bin/certgate.js serve --config /etc/certgate/certgate.yaml');
  assert.doesNotMatch(readFileSync(UNIT, 'utf8').replace(/^#.*$/gm, ''), /npx/);
  assert.equal(one('User'), 'certgate');
  assert.equal(one('AmbientCapabilities'), 'CAP_NET_BIND_SERVICE');
  assert.ok(keys.get('Environment')?.includes('CERTGATE_DATA=/var/lib/certgate'));
  assert.equal(one('ExecReload'), '/bin/kill -HUP $MAINPID');
  assert.equal(one('KillSignal'), 'SIGTERM');
  assert.equal(one('Restart'), 'on-failure');
  assert.equal(one('NoNewPrivileges'), 'yes');
  assert.equal(one('ProtectSystem'), 'strict');
  assert.equal(one('ReadWritePaths'), '/var/lib/certgate');
  assert.equal(one('PrivateTmp'), 'yes');
});
