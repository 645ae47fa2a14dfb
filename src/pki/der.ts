/**
 * @module pki/der
 * A small, strict DER reader: just enough ASN.1 to walk certificates, PKCS#7 and PKCS#12
 * envelopes. It exists so that `certgate decode` does not pay for a full ASN.1 library at
 * start-up (see bench/decode); every read is bounds-checked and fails with E_DER_MALFORMED.
 */
import { CertgateError } from '../errors.ts';

export const TAG = {
  BOOLEAN: 0x01,
  INTEGER: 0x02,
  BIT_STRING: 0x03,
  OCTET_STRING: 0x04,
  NULL: 0x05,
  OID: 0x06,
  UTF8_STRING: 0x0c,
  SEQUENCE: 0x30,
  SET: 0x31,
  PRINTABLE_STRING: 0x13,
  T61_STRING: 0x14,
  IA5_STRING: 0x16,
  UTC_TIME: 0x17,
  GENERALIZED_TIME: 0x18,
  UNIVERSAL_STRING: 0x1c,
  BMP_STRING: 0x1e,
} as const;

/** One tag-length-value element inside `buf`. */
export interface Tlv {
  readonly buf: Uint8Array;
  /** The identifier octet (class, constructed bit and low tag number). */
  readonly tag: number;
  /** Offset of the identifier octet. */
  readonly start: number;
  /** Offset of the first content octet. */
  readonly valueStart: number;
  /** Offset just past the element. */
  readonly end: number;
}

function malformed(what: string): CertgateError {
  return new CertgateError('E_DER_MALFORMED', `malformed DER: ${what}`, 'the file is truncated or not a certificate; export it again (PEM or DER)');
}

/** Reads the element that starts at `offset`, which must end by `limit`. */
export function readTlv(buf: Uint8Array, offset = 0, limit = buf.length): Tlv {
  if (offset + 2 > limit) throw malformed('element header runs past the end');
  const tag = buf[offset] as number;
  if ((tag & 0x1f) === 0x1f) throw malformed('multi-byte tags are not used in certificates');
  let pos = offset + 1;
  let length = buf[pos++] as number;
  if (length & 0x80) {
    const count = length & 0x7f;
    if (count === 0) throw malformed('indefinite length is not DER');
    if (count > 4) throw malformed('length field too long');
    if (pos + count > limit) throw malformed('length runs past the end');
    length = 0;
    for (let i = 0; i < count; i++) length = length * 256 + (buf[pos++] as number);
  }
  const end = pos + length;
  if (end > limit) throw malformed(`element of ${length} bytes runs past the end (truncated?)`);
  return { buf, tag, start: offset, valueStart: pos, end };
}

/** The content octets of an element. */
export function value(tlv: Tlv): Uint8Array {
  return tlv.buf.subarray(tlv.valueStart, tlv.end);
}

/** The whole encoding of an element, header included. */
export function encoded(tlv: Tlv): Uint8Array {
  return tlv.buf.subarray(tlv.start, tlv.end);
}

/** The elements inside a constructed element. */
export function children(tlv: Tlv): Tlv[] {
  if (!(tlv.tag & 0x20)) throw malformed(`element 0x${tlv.tag.toString(16)} is not constructed`);
  const out: Tlv[] = [];
  let pos = tlv.valueStart;
  while (pos < tlv.end) {
    const child = readTlv(tlv.buf, pos, tlv.end);
    out.push(child);
    pos = child.end;
  }
  return out;
}

/** Reads a single element that must fill `buf` exactly. */
export function readOne(buf: Uint8Array): Tlv {
  const tlv = readTlv(buf, 0, buf.length);
  if (tlv.end !== buf.length) throw malformed(`${buf.length - tlv.end} stray bytes after the element`);
  return tlv;
}

export function expectTag(tlv: Tlv | undefined, tag: number, what: string): Tlv {
  if (!tlv) throw malformed(`${what} is missing`);
  if (tlv.tag !== tag) throw malformed(`${what}: expected tag 0x${tag.toString(16)}, got 0x${tlv.tag.toString(16)}`);
  return tlv;
}

export function readOid(tlv: Tlv): string {
  expectTag(tlv, TAG.OID, 'object identifier');
  const bytes = value(tlv);
  if (bytes.length === 0) throw malformed('empty object identifier');
  const parts: number[] = [];
  let acc = 0;
  for (const byte of bytes) {
    acc = acc * 128 + (byte & 0x7f);
    if (!(byte & 0x80)) {
      parts.push(acc);
      acc = 0;
    }
  }
  const first = parts.shift() ?? 0;
  const head = first < 40 ? [0, first] : first < 80 ? [1, first - 40] : [2, first - 80];
  return [...head, ...parts].join('.');
}

export function hex(bytes: Uint8Array, sep = ''): string {
  let out = '';
  for (let i = 0; i < bytes.length; i++) {
    if (i && sep) out += sep;
    out += (bytes[i] as number).toString(16).padStart(2, '0');
  }
  return out.toUpperCase();
}

/** An INTEGER's content as upper-case hex without leading zero padding. */
export function readIntegerHex(tlv: Tlv): string {
  expectTag(tlv, TAG.INTEGER, 'integer');
  let bytes = value(tlv);
  while (bytes.length > 1 && bytes[0] === 0) bytes = bytes.subarray(1);
  return hex(bytes);
}

export function readSmallInteger(tlv: Tlv): number {
  expectTag(tlv, TAG.INTEGER, 'integer');
  const bytes = value(tlv);
  if (bytes.length > 6) throw malformed('integer too large');
  let n = 0;
  for (const b of bytes) n = n * 256 + b;
  return n;
}

export function readBoolean(tlv: Tlv): boolean {
  expectTag(tlv, TAG.BOOLEAN, 'boolean');
  return value(tlv)[0] !== 0;
}

const latin1 = new TextDecoder('latin1');
const utf8 = new TextDecoder('utf-8');

/** Any of the X.509 string types as a JS string. */
export function readString(tlv: Tlv): string {
  const bytes = value(tlv);
  switch (tlv.tag) {
    case TAG.UTF8_STRING:
      return utf8.decode(bytes);
    case TAG.BMP_STRING: {
      let s = '';
      for (let i = 0; i + 1 < bytes.length; i += 2) s += String.fromCharCode(((bytes[i] as number) << 8) | (bytes[i + 1] as number));
      return s;
    }
    case TAG.UNIVERSAL_STRING: {
      let s = '';
      for (let i = 0; i + 3 < bytes.length; i += 4) {
        const cp = (((bytes[i] as number) << 24) | ((bytes[i + 1] as number) << 16) | ((bytes[i + 2] as number) << 8) | (bytes[i + 3] as number)) >>> 0;
        s += cp <= 0x10ffff ? String.fromCodePoint(cp) : '\ufffd';
      }
      return s;
    }
    default:
      return latin1.decode(bytes);
  }
}

/** UTCTime or GeneralizedTime (the forms RFC 5280 allows) as a Date. */
export function readTime(tlv: Tlv): Date {
  const text = latin1.decode(value(tlv));
  let m: RegExpExecArray | null;
  if (tlv.tag === TAG.UTC_TIME) {
    m = /^(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})?Z$/.exec(text);
    if (m) {
      const yy = Number(m[1]);
      return new Date(Date.UTC(yy < 50 ? 2000 + yy : 1900 + yy, Number(m[2]) - 1, Number(m[3]), Number(m[4]), Number(m[5]), Number(m[6] ?? 0)));
    }
  } else if (tlv.tag === TAG.GENERALIZED_TIME) {
    m = /^(\d{4})(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})?(?:\.\d+)?Z$/.exec(text);
    if (m) return new Date(Date.UTC(Number(m[1]), Number(m[2]) - 1, Number(m[3]), Number(m[4]), Number(m[5]), Number(m[6] ?? 0)));
  }
  throw malformed(`unreadable time "${text.slice(0, 32)}"`);
}

export function bytesEqual(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}
