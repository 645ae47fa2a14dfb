/**
 * @module text/excerpt
 * The only way input text goes into a message: short, escaped, and never key material. A
 * garbage file must not paint the terminal (escape sequences, binary), and a pasted private
 * key must not end up in a log.
 */

/** Characters that must not reach a terminal raw: controls (C0, DEL, C1), format marks (bidi, zero-width, BOM), line separators, U+FFFD, lone surrogates. */
const UNPRINTABLE = /[\p{Cc}\p{Cf}\p{Zl}\p{Zp}\ufffd]|[\ud800-\udfff]/gu;
const PRIVATE_KEY = /-----BEGIN [A-Z0-9 ]*PRIVATE KEY-----[\s\S]*?(-----END [A-Z0-9 ]*PRIVATE KEY-----|$)/g;
/** 40+ base64 characters with upper, lower and digits: key or certificate bytes, not a name or a hex fingerprint. */
const BASE64_RUN = /[A-Za-z0-9+/]{40,}={0,2}/g;

function escapeChar(c: string): string {
  const n = c.codePointAt(0) as number;
  return n <= 0xff ? `\\x${n.toString(16).padStart(2, '0')}` : `\\u{${n.toString(16)}}`;
}

/** Escapes control and invisible characters as \xNN / \u{NNNN}; the rest is kept. */
export function escapeControl(text: string): string {
  return text.replace(UNPRINTABLE, escapeChar);
}

/** Key blocks and long base64 runs (key or certificate bytes) replaced by a note of what was there. */
export function omitSecrets(text: string): string {
  return text
    .replace(PRIVATE_KEY, '[private key omitted]')
    .replace(BASE64_RUN, (run) => (/[A-Z]/.test(run) && /[a-z]/.test(run) && /[0-9]/.test(run) ? `[${run.length} base64 characters]` : run));
}

/**
 * A short, safe excerpt of input for a message: key blocks and long base64 runs replaced,
 * at most `max` characters (default 80, then …), control characters escaped.
 * @example `got "${excerpt(value)}"`
 */
export function excerpt(input: unknown, max = 80): string {
  const text = omitSecrets(typeof input === 'string' ? input : (JSON.stringify(input) ?? String(input)));
  const chars = [...text];
  const cut = chars.length > max ? `${chars.slice(0, max).join('')}…` : text;
  return escapeControl(cut);
}
