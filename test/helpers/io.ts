import type { Io } from '../../src/cli/io.ts';

export interface FakeIo extends Io {
  stdout: string;
  stderr: string;
}

/** An Io that records output; no colour unless asked. */
export function fakeIo(options: { stdin?: Buffer; env?: Record<string, string>; isTTY?: boolean; cwd?: string } = {}): FakeIo {
  const io: FakeIo = {
    stdout: '',
    stderr: '',
    out(text) {
      io.stdout += text;
    },
    err(text) {
      io.stderr += text;
    },
    readStdin: async () => options.stdin ?? Buffer.alloc(0),
    env: options.env ?? {},
    cwd: options.cwd ?? process.cwd(),
    isTTY: options.isTTY ?? false,
  };
  return io;
}
