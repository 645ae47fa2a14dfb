/**
 * @module cli/args
 * Flag parsing on node:util parseArgs, with usage errors as E_USAGE, and input reading
 * shared by the commands.
 */
import { type ParseArgsConfig, parseArgs } from 'node:util';
import { CertgateError } from '../errors.ts';
import { MAX_INPUT_BYTES, readLimited, tooLarge } from '../input.ts';
import type { Io } from './io.ts';

export type Options = NonNullable<ParseArgsConfig['options']>;

export function parse(
  argv: string[],
  options: Options,
  usage: string,
): { values: Record<string, string | boolean | string[] | undefined>; positionals: string[] } {
  try {
    const { values, positionals } = parseArgs({ args: argv, options, allowPositionals: true, strict: true });
    return { values: values as Record<string, string | boolean | string[] | undefined>, positionals };
  } catch (err) {
    const msg = (err as Error).message.split('\n')[0] ?? 'bad arguments';
    throw new CertgateError('E_USAGE', msg.replace(/\. To specify a positional.*$/, ''), `usage: ${usage}`);
  }
}

/** A positive whole number up to `max` (timeouts: Node's timers cannot wait past 2^31-1 ms). */
export function positiveInt(value: string | undefined, name: string, fallback: number, max = 2_147_483_647): number {
  if (value === undefined) return fallback;
  const n = Number(value);
  if (!Number.isInteger(n) || n <= 0) throw new CertgateError('E_USAGE', `${name} must be a positive whole number, got "${value}"`, `e.g. ${name} ${fallback}`);
  if (n > max) throw new CertgateError('E_USAGE', `${name} ${value} is over the limit of ${max}`, `e.g. ${name} ${fallback}`);
  return n;
}

/** How long a FIFO named on the command line may go without a writer. */
const FIFO_TIMEOUT_MS = 10_000;

/** Reads a file the user named; `-` is standard input. The size limit holds while reading. */
export async function readInput(io: Io, name: string): Promise<Buffer> {
  if (name === '-') {
    const bytes = await io.readStdin();
    if (bytes.length > MAX_INPUT_BYTES) throw tooLarge('stdin', MAX_INPUT_BYTES);
    return bytes;
  }
  return readLimited(name, { cwd: io.cwd, fifoTimeoutMs: FIFO_TIMEOUT_MS, ...(io.signal ? { signal: io.signal } : {}) });
}

/** The password for PKCS#12 or encrypted keys: --password-file, else CERTGATE_PASSWORD. */
export async function readPassword(io: Io, file: string | undefined): Promise<string | undefined> {
  if (file) return (await readInput(io, file)).toString('utf8').replace(/\r?\n$/, '');
  return io.env.CERTGATE_PASSWORD;
}
