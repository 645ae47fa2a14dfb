/**
 * A serving worker for the cluster test: `certgate serve` as run in a worker process (it reads the
 * settings the primary hands over and answers the primary's messages), its log to stderr.
 */
import { run } from '../../src/cli/run.ts';

const code = await run(['serve'], {
  out: () => {},
  err: (t) => process.stderr.write(t),
  readStdin: async () => Buffer.alloc(0),
  env: process.env,
  cwd: process.cwd(),
  isTTY: false,
  signal: new AbortController().signal,
});
process.exitCode = code;
