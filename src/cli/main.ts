/**
 * @module cli/main
 * The only place that touches the process: wires run() to stdio and sets the exit code.
 */
import { readStreamLimited } from '../input.ts';
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

process.exitCode = await run(process.argv.slice(2), {
  signal: stop.signal,
  hangup: (fn) => {
    process.on('SIGHUP', () => void fn());
  },
  out: (text) => process.stdout.write(text),
  err: (text) => process.stderr.write(text),
  readStdin,
  env: process.env,
  cwd: process.cwd(),
  isTTY: Boolean(process.stdout.isTTY),
  errIsTTY: Boolean(process.stderr.isTTY),
  ...(process.stdin.isTTY
    ? {
        prompt: async (question: string) => {
          // Loaded when asked: readline costs every command's start-up a few ms (bench/decode).
          const { createInterface } = await import('node:readline/promises');
          const rl = createInterface({ input: process.stdin, output: process.stderr });
          try {
            return await rl.question(question);
          } finally {
            rl.close();
          }
        },
      }
    : {}),
});
