/**
 * @module pki/pem
 * Finds PEM blocks in any text: several blocks, CRLF or LF, and whatever surrounds them
 * (`openssl s_client -showcerts` output pasted whole, Bag Attributes, comments).
 */
import { CertgateError } from '../errors.ts';

export interface PemBlock {
  /** The label between BEGIN and END, e.g. `CERTIFICATE`, `PRIVATE KEY`. */
  label: string;
  /** RFC 1421 headers (legacy encrypted keys carry `Proc-Type` and `DEK-Info`). */
  headers: Record<string, string>;
  der: Buffer;
  /** The block's text, armour included. */
  text: string;
  /** 1-based line of the BEGIN line, for error messages. */
  line: number;
}

const BASE64 = /^[A-Za-z0-9+/=\s]*$/;
const BEGIN = '-----BEGIN ';
const END = '-----END ';
const DASHES = '-----';

/**
 * At most this many blocks per input. Node's root bundle has about 150; a file of many
 * thousands is junk or an attack, and refusing it early keeps parsing cheap.
 */
export const MAX_PEM_BLOCKS = 10_000;

export function hasPem(text: string): boolean {
  return text.includes(BEGIN);
}

function isLabelChar(c: number): boolean {
  return (c >= 0x41 && c <= 0x5a) || (c >= 0x30 && c <= 0x39) || c === 0x20 || c === 0x23; // A-Z 0-9 space #
}

/** The label that starts at `from`, when it is closed by `-----`; `end` is where scanning stopped either way. */
function readLabel(text: string, from: number): { label: string | null; end: number } {
  let i = from;
  while (i < text.length && isLabelChar(text.charCodeAt(i))) i++;
  if (i > from && text.startsWith(DASHES, i)) return { label: text.slice(from, i), end: i + DASHES.length };
  return { label: null, end: i };
}

/** Counts newlines incrementally, so line numbers cost one pass over the text in all. */
function lineCounter(text: string): (pos: number) => number {
  let at = 0;
  let line = 1;
  return (pos) => {
    for (; at < pos; at++) if (text.charCodeAt(at) === 0x0a) line++;
    return line;
  };
}

function tooMany(): CertgateError {
  return new CertgateError(
    'E_INPUT_TOO_MANY_BLOCKS',
    `the input holds more than ${MAX_PEM_BLOCKS} PEM blocks`,
    'split it into smaller bundles, or check that this is the file you meant',
  );
}

/**
 * Finds the blocks in one forward pass: every search starts where the previous one stopped,
 * so the work is linear in the text whatever it holds (no regex backtracking, no re-slicing
 * from the start for line numbers).
 */
export function parsePem(text: string): PemBlock[] {
  const blocks: PemBlock[] = [];
  const lineOf = lineCounter(text);
  let firstBegin: { label: string; line: number } | null = null;
  let pos = 0;
  for (;;) {
    const begin = text.indexOf(BEGIN, pos);
    if (begin < 0) break;
    const head = readLabel(text, begin + BEGIN.length);
    pos = head.end;
    if (head.label === null) continue;
    const label = head.label;
    const line = lineOf(begin);
    firstBegin ??= { label, line };
    // The first well-formed END line closes the block, whatever its label.
    let search = pos;
    let tail: { label: string | null; end: number } | null = null;
    let endAt = -1;
    for (;;) {
      endAt = text.indexOf(END, search);
      if (endAt < 0) break;
      tail = readLabel(text, endAt + END.length);
      if (tail.label !== null) break;
      search = tail.end;
    }
    if (endAt < 0 || !tail || tail.label === null) break; // no END from here on: nothing after can close either
    if (tail.label !== label) {
      throw new CertgateError(
        'E_PEM_MALFORMED',
        `PEM block at line ${line} begins as "${label.slice(0, 40)}" but ends as "${tail.label.slice(0, 40)}"`,
        'the file was cut and pasted badly; copy each block whole, BEGIN to END',
      );
    }
    if (blocks.length === MAX_PEM_BLOCKS) throw tooMany();
    blocks.push(readBlock(text, label, text.slice(head.end, endAt), begin, tail.end, line));
    pos = tail.end;
  }
  if (blocks.length === 0 && firstBegin) {
    throw new CertgateError(
      'E_PEM_MALFORMED',
      `PEM block "${firstBegin.label.slice(0, 40)}" at line ${firstBegin.line} has no END line (the file is truncated)`,
      'copy the block again down to its -----END line',
    );
  }
  return blocks;
}

function readBlock(text: string, label: string, body: string, start: number, end: number, line: number): PemBlock {
  const shown = label.slice(0, 40);
  const headers: Record<string, string> = {};
  let b64 = body;
  const split = body.replace(/\r\n/g, '\n').split('\n\n');
  if (split.length > 1 && /^\s*[A-Za-z-]+:/.test(split[0] ?? '')) {
    for (const h of (split[0] ?? '').trim().split('\n')) {
      const idx = h.indexOf(':');
      if (idx > 0) headers[h.slice(0, idx).trim()] = h.slice(idx + 1).trim();
    }
    b64 = split.slice(1).join('\n');
  }
  if (!BASE64.test(b64)) {
    throw new CertgateError(
      'E_PEM_MALFORMED',
      `PEM block "${shown}" at line ${line} holds characters that are not base64`,
      'copy the block again without edits; only A-Z a-z 0-9 + / = may stand between BEGIN and END',
    );
  }
  const der = Buffer.from(b64.replace(/\s+/g, ''), 'base64');
  if (der.length === 0) {
    throw new CertgateError('E_PEM_MALFORMED', `PEM block "${shown}" at line ${line} is empty`, 'copy the whole block, not just its armour lines');
  }
  return { label, headers, der, text: text.slice(start, end), line };
}

/** True for text that is only base64 (a DER blob pasted without armour). */
export function isBareBase64(text: string): boolean {
  const t = text.trim();
  return t.length >= 64 && BASE64.test(t);
}

export function toPemText(label: string, der: Uint8Array): string {
  const b64 = Buffer.from(der).toString('base64').replace(/.{64}/g, '$&\n').replace(/\n$/, '');
  return `-----BEGIN ${label}-----\n${b64}\n-----END ${label}-----\n`;
}
