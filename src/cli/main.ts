/**
 * @module cli/main
 * The only place that touches the process: wires run() to stdio and sets the exit code.
 */
import { readStreamLimited } from '../input.ts';
import type { Io } from './io.ts';
import { run } from './run.ts';

// `certgate decode big.pem | head` closes the pipe early; that is not an error.
process.stdout.on('error', (err: NodeJS.ErrnoException) => {
  if (err.code === 'EPIPE') process.exit(0);
  throw err;
});

// Stops at the input limit: `decode - < /dev/zero` is an error, not a process that eats memory.
const readStdin = () => readStreamLimited(process.stdin);

// Only serve drains on SIGTERM/SIGINT; a second one stops it at once. Every other command keeps
// Node's default and ends on the first signal (a handler here would swallow it: seen with a
// command stuck on a bad data directory that `kill` could not stop).
const stop = new AbortController();
if (process.argv[2] === 'serve')
  for (const sig of ['SIGTERM', 'SIGINT'] as const)
    process.on(sig, () => {
      if (stop.signal.aborted) process.exit(sig === 'SIGINT' ? 130 : 143);
      stop.abort();
    });

const ask = async (question: string): Promise<string> => {
  // Loaded when asked: readline costs every command's start-up a few ms (bench/decode).
  const { createInterface } = await import('node:readline/promises');
  const rl = createInterface({ input: process.stdin, output: process.stderr });
  try {
    return await rl.question(question);
  } finally {
    rl.close();
  }
};

// Getters, not values: Node builds process.stdin/stderr (and loads node:stream or node:net for
// them) on first touch, a few ms of every command's start-up (bench/decode). A command that
// never asks about a stream does not pay for it.
const io: Io = {
  signal: stop.signal,
  hangup: (fn) => {
    process.on('SIGHUP', () => void fn());
  },
  out: (text) => void process.stdout.write(text),
  err: (text) => void process.stderr.write(text),
  readStdin,
  env: process.env,
  cwd: process.cwd(),
  get isTTY() {
    return Boolean(process.stdout.isTTY);
  },
  get errIsTTY() {
    return Boolean(process.stderr.isTTY);
  },
  get prompt() {
    return process.stdin.isTTY ? ask : undefined;
  },
};

void run(process.argv.slice(2), io).then((code) => {
  process.exitCode = code;
});
