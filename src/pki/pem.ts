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

const BLOCK = /-----BEGIN ([A-Z0-9 #]+)-----([\s\S]*?)-----END ([A-Z0-9 #]+)-----/g;
const BASE64 = /^[A-Za-z0-9+/=\s]*$/;

export function hasPem(text: string): boolean {
  return text.includes('-----BEGIN ');
}

export function parsePem(text: string): PemBlock[] {
  const blocks: PemBlock[] = [];
  for (const m of text.matchAll(BLOCK)) {
    const [whole, label = '', body = '', endLabel] = m;
    const line = text.slice(0, m.index).split('\n').length;
    if (label !== endLabel) {
      throw new CertgateError(
        'E_PEM_MALFORMED',
        `PEM block at line ${line} begins as "${label}" but ends as "${endLabel}"`,
        'the file was cut and pasted badly; copy each block whole, BEGIN to END',
      );
    }
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
        `PEM block "${label}" at line ${line} holds characters that are not base64`,
        'copy the block again without edits; only A-Z a-z 0-9 + / = may stand between BEGIN and END',
      );
    }
    const der = Buffer.from(b64.replace(/\s+/g, ''), 'base64');
    if (der.length === 0) {
      throw new CertgateError('E_PEM_MALFORMED', `PEM block "${label}" at line ${line} is empty`, 'copy the whole block, not just its armour lines');
    }
    blocks.push({ label, headers, der, text: whole, line });
  }
  if (blocks.length === 0 && /-----BEGIN [A-Z0-9 #]+-----/.test(text)) {
    const m = /-----BEGIN ([A-Z0-9 #]+)-----/.exec(text);
    throw new CertgateError(
      'E_PEM_MALFORMED',
      `PEM block "${m?.[1]}" has no END line (the file is truncated)`,
      'copy the block again down to its -----END line',
    );
  }
  return blocks;
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
