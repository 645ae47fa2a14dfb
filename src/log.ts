/**
 * @module log
 * One logger (pino) for the whole process, handed down with a child per area (`edge`,
 * `maintenance`, `acme`). JSON lines when the output is not a terminal, a readable line when
 * it is. Never given key material: callers log names, codes and messages.
 */
import { Writable } from 'node:stream';
import { type Logger, pino } from 'pino';
import pretty from 'pino-pretty';

export type { Logger };

export interface LoggerOptions {
  /** Where lines go (the CLI: standard error). */
  write: (line: string) => void;
  /** A terminal: readable lines instead of JSON. */
  pretty?: boolean;
  colour?: boolean;
  level?: 'debug' | 'info' | 'warn' | 'error' | 'silent';
  /** Fields on every line (e.g. `{ worker: 2 }`). */
  base?: Record<string, unknown>;
}

export function createLogger(options: LoggerOptions): Logger {
  const sink = new Writable({
    write(chunk, _enc, done) {
      options.write(chunk.toString());
      done();
    },
  });
  const stream = options.pretty
    ? pretty({ destination: sink, sync: true, colorize: options.colour ?? false, translateTime: 'SYS:yyyy-mm-dd HH:MM:ss', ignore: 'pid,hostname' })
    : sink;
  return pino(
    {
      level: options.level ?? 'info',
      base: options.base ?? null,
      timestamp: pino.stdTimeFunctions.isoTime,
      // "level":"warn" reads better in a log than pino's numbers, and is what jq filters want.
      formatters: { level: (label) => ({ level: label }) },
    },
    stream,
  );
}

/** For engines built without a logger (tests, embedders who do not care). */
export const silentLogger: Logger = pino({ level: 'silent' });
