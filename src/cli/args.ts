/**
 * @module cli/args
 * Flag parsing on node:util parseArgs, with usage errors as E_USAGE, and input reading
 * shared by the commands.
 */
import { readFile, stat } from 'node:fs/promises';
import { resolve } from 'node:path';
import { type ParseArgsConfig, parseArgs } from 'node:util';
import { CertgateError } from '../errors.ts';
import { MAX_INPUT_BYTES } from '../pki/parse.ts';
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

export function positiveInt(value: string | undefined, name: string, fallback: number): number {
  if (value === undefined) return fallback;
  const n = Number(value);
  if (!Number.isInteger(n) || n <= 0) throw new CertgateError('E_USAGE', `${name} must be a positive whole number, got "${value}"`, `e.g. ${name} ${fallback}`);
  return n;
}

/** Reads a file the user named; `-` is standard input. */
export async function readInput(io: Io, name: string): Promise<Buffer> {
  if (name === '-') return io.readStdin();
  const path = resolve(io.cwd, name);
  try {
    const st = await stat(path);
    if (st.isDirectory()) throw new CertgateError('E_FILE_READ', `${name} is a directory`, 'pass a file');
    if (st.size > MAX_INPUT_BYTES) {
      throw new CertgateError(
        'E_INPUT_TOO_LARGE',
        `${name} is ${st.size} bytes; certgate reads at most ${MAX_INPUT_BYTES} bytes (10 MiB)`,
        'check that this is the file you meant',
      );
    }
    return await readFile(path);
  } catch (err) {
    if (err instanceof CertgateError) throw err;
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') throw new CertgateError('E_FILE_NOT_FOUND', `${name}: no such file`, 'check the path');
    throw new CertgateError('E_FILE_READ', `${name}: cannot read (${code ?? (err as Error).message})`, 'check the file permissions');
  }
}

/** The password for PKCS#12 or encrypted keys: --password-file, else CERTGATE_PASSWORD. */
export async function readPassword(io: Io, file: string | undefined): Promise<string | undefined> {
  if (file) return (await readInput(io, file)).toString('utf8').replace(/\r?\n$/, '');
  return io.env.CERTGATE_PASSWORD;
}
