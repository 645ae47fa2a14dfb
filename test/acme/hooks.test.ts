/**
 * The issuer's AsyncLocalStorage (problem documents per ACME call) is on only while a call runs:
 * left enabled, Node runs async hooks for every promise and handle of the process, a cost every
 * proxied request pays from the first issuance on.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { test } from 'node:test';
import { promisify } from 'node:util';
import { startPebble } from '../helpers/pebble.ts';

const run = promisify(execFile);
const pebble = await startPebble();
test.after(() => pebble.close());

test('after an issuance the process runs no async hooks (promise reactions carry no async id)', async () => {
  const { directoryUrl, tlsCaPem, httpPort, tlsPort } = pebble;
  const { stdout } = await run(process.execPath, ['--import', 'tsx', join(import.meta.dirname, 'hooks-child.ts')], {
    env: { ...process.env, CERTGATE_TEST_PEBBLE: JSON.stringify({ directoryUrl, tlsCaPem, httpPort, tlsPort }) },
    timeout: 60_000,
  });
  const r = JSON.parse(stdout.trim().split('\n').pop() as string) as { before: number; issued: boolean; after: number };
  assert.equal(r.before, 0, 'hooks were on before the issuance: the check below would prove nothing');
  assert.equal(r.issued, true);
  assert.equal(r.after, 0);
});
