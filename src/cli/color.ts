/**
 * @module cli/color
 * ANSI colour, on only for a terminal and never with NO_COLOR set (https://no-color.org).
 */
import type { Io } from './io.ts';

export interface Palette {
  red(s: string): string;
  yellow(s: string): string;
  green(s: string): string;
  dim(s: string): string;
  bold(s: string): string;
}

const wrap = (code: number, reset: number) => (s: string) => `\x1b[${code}m${s}\x1b[${reset}m`;

export function palette(io: Pick<Io, 'isTTY' | 'env'>): Palette {
  const on = io.isTTY && io.env.NO_COLOR === undefined && io.env.TERM !== 'dumb';
  if (!on) {
    const id = (s: string) => s;
    return { red: id, yellow: id, green: id, dim: id, bold: id };
  }
  return { red: wrap(31, 39), yellow: wrap(33, 39), green: wrap(32, 39), dim: wrap(2, 22), bold: wrap(1, 22) };
}
