/**
 * @module diagnostics/grade/hsts
 * A GET / over TLS with the right Host header, for the Strict-Transport-Security answer.
 */
import type { TLSSocket } from 'node:tls';

export interface HttpAnswer {
  /** The status line, e.g. "HTTP/1.1 200 OK"; null when the server did not answer HTTP. */
  status: string | null;
  hsts: string | null;
}

/** Sends the request on an established TLS socket and reads the response head (bounded to 32 KiB). */
export function httpHead(socket: TLSSocket, host: string, timeoutMs: number): Promise<HttpAnswer> {
  return new Promise((resolve) => {
    let buf = Buffer.alloc(0);
    const finish = () => {
      clearTimeout(timer);
      socket.destroy();
      const text = buf.toString('latin1');
      const head = text.split(/\r?\n\r?\n/)[0] ?? '';
      const lines = head.split(/\r?\n/);
      const status = /^HTTP\/\d(\.\d)? \d{3}/.test(lines[0] ?? '') ? (lines[0] as string) : null;
      const hsts = status ? (lines.find((l) => /^strict-transport-security\s*:/i.test(l))?.replace(/^[^:]*:\s*/, '') ?? null) : null;
      resolve({ status, hsts });
    };
    const timer = setTimeout(finish, timeoutMs);
    socket.on('data', (d: Buffer) => {
      buf = Buffer.concat([buf, d]);
      if (buf.length > 32_768 || /\r?\n\r?\n/.test(buf.toString('latin1'))) finish();
    });
    socket.on('end', finish);
    socket.on('close', finish);
    socket.on('error', finish);
    socket.write(`GET / HTTP/1.1\r\nHost: ${host}\r\nUser-Agent: certgate-grade\r\nAccept: */*\r\nConnection: close\r\n\r\n`);
  });
}

/** max-age in seconds from a Strict-Transport-Security value, or null when absent/garbled. */
export function maxAge(value: string): number | null {
  const m = /(?:^|;)\s*max-age\s*=\s*"?(\d+)"?/i.exec(value);
  return m ? Number(m[1]) : null;
}
