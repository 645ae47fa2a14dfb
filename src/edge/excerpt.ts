/**
 * @module edge/excerpt
 * Client input as it may appear in an error page or a log line: short, and with nothing a terminal,
 * a log parser or a browser would act on.
 */

const UNSAFE = /[^\x20-\x7e]|[\\"<>&]/g;

/** At most `max` characters of `input`, control and non-ASCII characters as \xNN, quotes, `<>&` and `\` escaped too. */
export function excerpt(input: string, max = 100): string {
  const cut = input.length > max ? input.slice(0, max) : input;
  const safe = cut.replace(UNSAFE, (c) => `\\x${c.charCodeAt(0).toString(16).padStart(2, '0')}`);
  return input.length > max ? `${safe}…` : safe;
}
