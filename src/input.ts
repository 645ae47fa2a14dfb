/**
 * @module input
 * Reading what a user points certgate at, with the size limit enforced while reading: a
 * device (`/dev/zero`), an endless pipe or a FIFO without a writer ends with a coded error
 * instead of filling memory or hanging. `stat` cannot be trusted for this (devices say 0).
 */
import { closeSync, constants, fstatSync, openSync, read, readSync } from 'node:fs';
import { resolve } from 'node:path';
import { CertgateError } from './errors.ts';
import { MAX_INPUT_BYTES } from './pki/limits.ts';

export { MAX_INPUT_BYTES };

export interface ReadLimitedOptions {
  /** Refuse more than this many bytes (default MAX_INPUT_BYTES). */
  limit?: number;
  /** The name to use in messages (default: the path as given). */
  name?: string;
  /** Relative paths are resolved here (default process.cwd()). */
  cwd?: string;
  /** How long to wait for a FIFO's writer to appear and write (default 30 s). */
  fifoTimeoutMs?: number;
  /** Stops waiting on a FIFO early. */
  signal?: AbortSignal;
}

function mib(n: number): string {
  return n % (1024 * 1024) === 0 ? `${n / (1024 * 1024)} MiB` : `${n} bytes`;
}

export function tooLarge(name: string, limit: number): CertgateError {
  return new CertgateError(
    'E_INPUT_TOO_LARGE',
    `${name} holds more than ${limit} bytes; certgate reads at most ${mib(limit)}`,
    'check that this is the file you meant; split a bundle that large',
  );
}

function openError(err: unknown, name: string): CertgateError {
  const code = (err as NodeJS.ErrnoException).code;
  if (code === 'ENOENT') return new CertgateError('E_FILE_NOT_FOUND', `${name}: no such file`, 'check the path');
  if (code === 'EISDIR') return new CertgateError('E_FILE_READ', `${name} is a directory`, 'pass a file');
  return new CertgateError('E_FILE_READ', `${name}: cannot read (${code ?? (err as Error).message})`, 'check the file permissions', { cause: err });
}

function notAFile(name: string, what: string): CertgateError {
  return new CertgateError('E_FILE_READ', `${name} is ${what}, not a file`, 'pass a regular file, or - for standard input');
}

/**
 * Collects chunks up to `limit` bytes and throws E_INPUT_TOO_LARGE at the first byte past it,
 * having read at most limit+chunk bytes.
 */
class LimitedBuffer {
  readonly #chunks: Buffer[] = [];
  #size = 0;
  readonly limit: number;
  readonly name: string;
  constructor(limit: number, name: string) {
    this.limit = limit;
    this.name = name;
  }
  push(chunk: Buffer): void {
    this.#size += chunk.length;
    if (this.#size > this.limit) throw tooLarge(this.name, this.limit);
    this.#chunks.push(chunk);
  }
  get size(): number {
    return this.#size;
  }
  toBuffer(): Buffer {
    return Buffer.concat(this.#chunks, this.#size);
  }
}

/** Reads a stream (standard input) to its end, stopping and destroying it past `limit`. */
export async function readStreamLimited(stream: NodeJS.ReadableStream & { destroy?: () => void }, limit = MAX_INPUT_BYTES, name = 'stdin'): Promise<Buffer> {
  const out = new LimitedBuffer(limit, name);
  try {
    for await (const chunk of stream) out.push(typeof chunk === 'string' ? Buffer.from(chunk) : (chunk as Buffer));
  } catch (err) {
    stream.destroy?.();
    throw err;
  }
  return out.toBuffer();
}

// Plain fds and callbacks, not fs/promises or timers/promises: `certgate decode FILE` starts
// faster without loading them (bench/decode), and a regular file is read the same way.
function readRegular(fd: number, out: LimitedBuffer): void {
  for (;;) {
    const buf = Buffer.allocUnsafe(64 * 1024);
    const n = readSync(fd, buf, 0, buf.length, null);
    if (n === 0) return;
    out.push(buf.subarray(0, n));
  }
}

const readAsync = (fd: number, buf: Buffer): Promise<number> =>
  new Promise((ok, fail) => read(fd, buf, 0, buf.length, null, (err, n) => (err ? fail(err) : ok(n))));

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/**
 * A FIFO opened non-blocking: read() says 0 both before a writer comes and after it leaves,
 * and EAGAIN while a writer is there but silent. Until a writer is seen, 0 means "wait".
 */
async function readFifo(fd: number, out: LimitedBuffer, name: string, timeoutMs: number, signal?: AbortSignal): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let writerSeen = false;
  let pause = 5;
  for (;;) {
    signal?.throwIfAborted();
    const buf = Buffer.allocUnsafe(64 * 1024);
    let n: number;
    try {
      n = await readAsync(fd, buf);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EAGAIN') throw err;
      writerSeen = true;
      n = -1;
    }
    if (n > 0) {
      writerSeen = true;
      pause = 5;
      out.push(buf.subarray(0, n));
      continue;
    }
    if (n === 0 && writerSeen) return;
    if (Date.now() > deadline) {
      throw new CertgateError(
        'E_FILE_READ',
        writerSeen ? `${name}: the FIFO's writer sent nothing more for ${timeoutMs} ms` : `${name} is a FIFO that no process wrote to within ${timeoutMs} ms`,
        'start the writer first (or pass the data as a file or on standard input)',
      );
    }
    await sleep(pause);
    pause = Math.min(pause * 2, 100);
  }
}

/**
 * Reads a file the user named, enforcing the limit while reading. Regular files and FIFOs
 * are read; devices, sockets and directories are refused.
 * @example const pem = await readLimited('chain.pem', { cwd: io.cwd });
 */
export async function readLimited(path: string, options: ReadLimitedOptions = {}): Promise<Buffer> {
  const name = options.name ?? path;
  const limit = options.limit ?? MAX_INPUT_BYTES;
  let fd: number;
  try {
    // Non-blocking, so that opening a FIFO without a writer returns at once instead of hanging.
    fd = openSync(resolve(options.cwd ?? process.cwd(), path), constants.O_RDONLY | constants.O_NONBLOCK);
  } catch (err) {
    throw openError(err, name);
  }
  try {
    const st = fstatSync(fd);
    const out = new LimitedBuffer(limit, name);
    if (st.isFile()) readRegular(fd, out);
    else if (st.isFIFO()) await readFifo(fd, out, name, options.fifoTimeoutMs ?? 30_000, options.signal);
    else if (st.isDirectory()) throw notAFile(name, 'a directory');
    else throw notAFile(name, st.isCharacterDevice() || st.isBlockDevice() ? 'a device' : 'a socket');
    return out.toBuffer();
  } catch (err) {
    if (err instanceof CertgateError) throw err;
    throw openError(err, name);
  } finally {
    closeSync(fd);
  }
}

/**
 * The synchronous twin for code that must stay synchronous (resolving a resource's secret
 * references): regular files only, since waiting on a FIFO would block the whole process.
 */
export function readLimitedSync(path: string, options: Omit<ReadLimitedOptions, 'fifoTimeoutMs' | 'signal'> = {}): Buffer {
  const name = options.name ?? path;
  const limit = options.limit ?? MAX_INPUT_BYTES;
  let fd: number;
  try {
    fd = openSync(resolve(options.cwd ?? process.cwd(), path), constants.O_RDONLY | constants.O_NONBLOCK);
  } catch (err) {
    throw openError(err, name);
  }
  try {
    const st = fstatSync(fd);
    if (!st.isFile()) throw notAFile(name, st.isDirectory() ? 'a directory' : st.isFIFO() ? 'a FIFO' : 'a device or socket');
    const out = new LimitedBuffer(limit, name);
    for (;;) {
      const buf = Buffer.allocUnsafe(64 * 1024);
      const n = readSync(fd, buf, 0, buf.length, null);
      if (n === 0) break;
      out.push(buf.subarray(0, n));
    }
    return out.toBuffer();
  } catch (err) {
    if (err instanceof CertgateError) throw err;
    throw openError(err, name);
  } finally {
    closeSync(fd);
  }
}
