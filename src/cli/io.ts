/**
 * @module cli/io
 * What a command may touch of the outside world. Tests pass a fake; main.ts the process.
 */
export interface Io {
  out(text: string): void;
  err(text: string): void;
  /** All of standard input (for `-`); main.ts stops reading past MAX_INPUT_BYTES. */
  readStdin(): Promise<Buffer>;
  env: Record<string, string | undefined>;
  cwd: string;
  /** Standard output is a terminal (colour allowed unless NO_COLOR). */
  isTTY: boolean;
  /** Standard error is a terminal (serve's log lines are then readable lines, not JSON). */
  errIsTTY?: boolean;
  /** Asks a yes/no question on the terminal; absent when standard input is not a terminal. */
  prompt?: (question: string) => Promise<string>;
  /** Aborted on SIGTERM / SIGINT: long-running commands (serve) stop gracefully. */
  signal?: AbortSignal;
  /** Registers what SIGHUP does (serve reloads). */
  hangup?: (fn: () => void | Promise<void>) => void;
}
