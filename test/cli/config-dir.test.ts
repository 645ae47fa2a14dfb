/**
 * `--config DIR`: a directory where a file was expected is said as such (E_FILE_READ, "is a
 * directory"), not as a missing file (E_FILE_NOT_FOUND with EISDIR).
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { test } from 'node:test';
import { run } from '../../src/cli/run.ts';
import { fakeIo } from '../helpers/io.ts';
import { tempDir } from '../helpers/tmp.ts';

test('serve --config DIR: E_FILE_READ naming the directory, with the fix, exit 2', async (t) => {
  const dir = tempDir(t);
  const io = fakeIo({ cwd: dir, env: { CERTGATE_DATA: join(dir, 'data') } });
  assert.equal(await run(['serve', '--config', dir], io), 2);
  assert.equal(io.stderr, `error E_FILE_READ: config ${dir}: ${dir} is a directory, not a file\n  fix: check --config / CERTGATE_CONFIG\n`);
  assert.doesNotMatch(io.stderr, /E_FILE_NOT_FOUND|EISDIR/);
});
