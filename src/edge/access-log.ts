/**
 * @module edge/access-log
 * One entry per request, written when the response has gone out or the client left.
 */
import type { ServerResponse } from 'node:http';
import type { Http2ServerResponse } from 'node:http2';

export interface AccessEntry {
  time: string;
  client: string;
  method: string;
  host: string | null;
  path: string;
  protocol: string;
  status: number;
  bytes: number;
  ms: number;
  upstream: string | null;
}

/**
 * Counts the body bytes a response sends and calls `done` once, at finish or close. The response
 * object is this request's alone, so its write/end are wrapped in place.
 */
export function watchResponse(res: ServerResponse | Http2ServerResponse, done: (r: { bytes: number; status: number; ms: number }) => void): void {
  const started = performance.now();
  const out = res as ServerResponse;
  const rawWrite = out.write;
  const rawEnd = out.end;
  let bytes = 0;
  const count = (chunk: unknown) => {
    if (typeof chunk === 'string') bytes += Buffer.byteLength(chunk);
    else if (chunk instanceof Uint8Array) bytes += chunk.byteLength;
  };
  // HTTP/2's end(chunk) goes through write(); HTTP/1's does not: the chunk is counted once, in end.
  let ending = false;
  out.write = function (this: ServerResponse, chunk: unknown, ...rest: unknown[]) {
    if (!ending) count(chunk);
    return (rawWrite as (...a: unknown[]) => boolean).call(this, chunk, ...rest);
  } as typeof out.write;
  out.end = function (this: ServerResponse, ...args: unknown[]) {
    count(args[0]);
    ending = true;
    return (rawEnd as (...a: unknown[]) => ServerResponse).apply(this, args);
  } as typeof out.end;
  let reported = false;
  const finish = () => {
    if (reported) return;
    reported = true;
    done({ bytes, status: res.headersSent ? res.statusCode : 0, ms: Math.round((performance.now() - started) * 10) / 10 });
  };
  res.once('finish', finish);
  res.once('close', finish);
}
