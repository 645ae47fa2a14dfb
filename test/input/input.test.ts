import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import { openSync, writeFileSync } from 'node:fs';
import { open } from 'node:fs/promises';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { run } from '../../src/cli/run.ts';
import { CertgateError } from '../../src/errors.ts';
import { MAX_INPUT_BYTES, readLimited, readLimitedSync, readStreamLimited } from '../../src/input.ts';
import { fakeIo } from '../helpers/io.ts';
import { tempDir } from '../helpers/tmp.ts';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));

function isCode(code: string) {
  return (e: unknown) => e instanceof CertgateError && e.code === code && Boolean(e.fix);
}

test('readLimited refuses /dev/zero (a device) at once instead of reading forever', { timeout: 5000 }, async () => {
  await assert.rejects(readLimited('/dev/zero'), isCode('E_FILE_READ'));
  assert.throws(() => readLimitedSync('/dev/zero'), isCode('E_FILE_READ'));
});

test('decode /dev/zero ends with a coded error, exit 2', { timeout: 5000 }, async () => {
  const io = fakeIo();
  assert.equal(await run(['decode', '/dev/zero'], io), 2);
  assert.match(io.stderr, /error E_FILE_READ: \/dev\/zero is a device/);
});

test('--password-file /dev/zero ends with a coded error', { timeout: 5000 }, async (t) => {
  const dir = tempDir(t);
  writeFileSync(join(dir, 'x.pem'), 'x');
  const io = fakeIo({ cwd: dir });
  assert.equal(await run(['decode', 'x.pem', '--password-file', '/dev/zero'], io), 2);
  assert.match(io.stderr, /error E_FILE_READ: \/dev\/zero/);
});

test('the limit holds while reading: a file one byte over is refused', async (t) => {
  const dir = tempDir(t);
  writeFileSync(join(dir, 'big'), Buffer.alloc(1025));
  await assert.rejects(readLimited(join(dir, 'big'), { limit: 1024 }), isCode('E_INPUT_TOO_LARGE'));
  assert.equal((await readLimited(join(dir, 'big'), { limit: 1025 })).length, 1025);
});

test('an endless stream is read only up to the limit, then stopped', async () => {
  let pulled = 0;
  const endless = new Readable({
    read() {
      pulled++;
      this.push(Buffer.alloc(64 * 1024));
    },
  });
  await assert.rejects(readStreamLimited(endless, 1024 * 1024), isCode('E_INPUT_TOO_LARGE'));
  assert.ok(pulled <= 1024 / 64 + 4, `pulled ${pulled} chunks`);
  assert.ok(endless.destroyed);
});

test('decode - < /dev/zero ends with E_INPUT_TOO_LARGE quickly (the real process)', { timeout: 20_000 }, async () => {
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', 'decode', '-'], {
    cwd: ROOT,
    stdio: [openSync('/dev/zero', 'r'), 'ignore', 'pipe'],
  });
  let stderr = '';
  child.stderr?.on('data', (d) => {
    stderr += d;
  });
  const code = await new Promise<number | null>((resolve) => child.on('exit', resolve));
  assert.equal(code, 2, stderr);
  assert.match(stderr, new RegExp(`error E_INPUT_TOO_LARGE: stdin holds more than ${MAX_INPUT_BYTES} bytes`));
});

test('a FIFO with no writer ends with a coded error after the timeout', { timeout: 5000 }, async (t) => {
  const fifo = join(tempDir(t), 'fifo');
  execFileSync('mkfifo', [fifo]);
  await assert.rejects(readLimited(fifo, { fifoTimeoutMs: 200 }), (e: unknown) => isCode('E_FILE_READ')(e) && /no process wrote/.test((e as Error).message));
});

test('a FIFO whose writer comes a little later is read whole', { timeout: 5000 }, async (t) => {
  const fifo = join(tempDir(t), 'fifo');
  execFileSync('mkfifo', [fifo]);
  const reading = readLimited(fifo, { fifoTimeoutMs: 3000 });
  await new Promise((r) => setTimeout(r, 100));
  const w = await open(fifo, 'w');
  await w.write('hello ');
  await new Promise((r) => setTimeout(r, 50));
  await w.write('world');
  await w.close();
  assert.equal((await reading).toString(), 'hello world');
});
