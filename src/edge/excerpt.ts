/**
 * @module edge/excerpt
 * Client input as it may appear in an error page or a log line: short, without key material
 * (text/excerpt's rule), and with nothing a terminal, a log parser or a browser would act on.
 */
import { omitSecrets } from '../text/excerpt.ts';

const UNSAFE = /[^\x20-\x7e]|[\\"<>&]/g;

/** At most `max` characters of `input`, control and non-ASCII characters as \xNN, quotes, `<>&` and `\` escaped too. */
export function excerpt(input: string, max = 100): string {
  const text = omitSecrets(input);
  const cut = text.length > max ? text.slice(0, max) : text;
  const safe = cut.replace(UNSAFE, (c) => `\\x${c.charCodeAt(0).toString(16).padStart(2, '0')}`);
  return text.length > max ? `${safe}…` : safe;
}
