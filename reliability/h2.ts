/**
 * HTTP/2 frames written by hand (HPACK literals without indexing, no Huffman), for requests no
 * well-behaved client library would send: the smuggling corpus, the CONTINUATION flood and their
 * regression tests.
 */

function hpackInt(value: number, prefixBits: number, first: number): number[] {
  const max = (1 << prefixBits) - 1;
  if (value < max) return [first | value];
  const out = [first | max];
  let v = value - max;
  while (v >= 128) {
    out.push((v % 128) + 128);
    v = Math.floor(v / 128);
  }
  out.push(v);
  return out;
}
export function hpack(headers: Array<[string, string]>): Buffer {
  const parts: number[] = [];
  for (const [n, v] of headers) {
    const nb = Buffer.from(n, 'latin1');
    const vb = Buffer.from(v, 'latin1');
    parts.push(0x00, ...hpackInt(nb.length, 7, 0), ...nb, ...hpackInt(vb.length, 7, 0), ...vb);
  }
  return Buffer.from(parts);
}
export function frame(type: number, flags: number, stream: number, payload: Buffer): Buffer {
  const h = Buffer.alloc(9);
  h.writeUIntBE(payload.length, 0, 3);
  h[3] = type;
  h[4] = flags;
  h.writeUInt32BE(stream, 5);
  return Buffer.concat([h, payload]);
}
export const PREFACE = Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n');
export const SETTINGS = frame(4, 0, 0, Buffer.alloc(0));
export const END_STREAM = 0x1;
export const END_HEADERS = 0x4;
/** The preface, an empty SETTINGS and one request on stream 1 (with a DATA frame when `body` is given). */
export function h2(headers: Array<[string, string]>, body?: string): Buffer {
  const frames = [PREFACE, SETTINGS, frame(1, END_HEADERS | (body === undefined ? END_STREAM : 0), 1, hpack(headers))];
  if (body !== undefined) frames.push(frame(0, END_STREAM, 1, Buffer.from(body, 'latin1')));
  return Buffer.concat(frames);
}
