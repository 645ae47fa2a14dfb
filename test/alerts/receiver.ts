/**
 * A webhook receiver on loopback for the alert tests: records every delivery (headers, raw body),
 * answers with what the test says (a status, or never), and checks signatures the way the
 * README tells a receiver to: HMAC-SHA256 over "<timestamp>.<raw body>", compared in constant time.
 */
import { createHmac, timingSafeEqual } from 'node:crypto';
import { createServer, type IncomingHttpHeaders, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { AlertPayload } from '../../src/alerts/index.ts';

export interface Delivery {
  headers: IncomingHttpHeaders;
  raw: string;
  payload: AlertPayload;
  at: number;
}

export interface Receiver {
  url: string;
  deliveries: Delivery[];
  /** Requests held open without an answer (behaviour 'hang'). */
  readonly hanging: number;
  /** Waits until `what` holds (bounded). */
  until(what: () => boolean, label: string, ms?: number): Promise<void>;
  close(): Promise<void>;
}

export async function startReceiver(answer: (n: number) => number | 'hang' = () => 204): Promise<Receiver> {
  const deliveries: Delivery[] = [];
  const held = new Set<ServerResponse>();
  let n = 0;
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const raw = Buffer.concat(chunks).toString('utf8');
      deliveries.push({ headers: req.headers, raw, payload: JSON.parse(raw) as AlertPayload, at: Date.now() });
      const a = answer(++n);
      if (a === 'hang') {
        held.add(res);
        return;
      }
      res.writeHead(a);
      res.end();
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/hook`,
    deliveries,
    get hanging() {
      return [...held].filter((r) => !r.writableEnded && !r.destroyed).length;
    },
    async until(what, label, ms = 20_000) {
      const deadline = Date.now() + ms;
      while (!what()) {
        if (Date.now() > deadline) throw new Error(`timed out waiting for ${label}; received: ${deliveries.map((d) => d.payload.kind).join(', ')}`);
        await new Promise((r) => setTimeout(r, 20));
      }
    },
    close: () =>
      new Promise((r) => {
        for (const res of held) res.destroy();
        server.closeAllConnections();
        server.close(() => r());
      }),
  };
}

/** True when the delivery carries a valid signature for this secret, made within five minutes. */
export function signedWith(d: Delivery, secret: string): boolean {
  const timestamp = String(d.headers['x-certgate-timestamp'] ?? '');
  const given = String(d.headers['x-certgate-signature'] ?? '');
  if (!/^\d+$/.test(timestamp) || Math.abs(Date.now() / 1000 - Number(timestamp)) > 300) return false;
  const expected = `sha256=${createHmac('sha256', secret).update(`${timestamp}.${d.raw}`).digest('hex')}`;
  return given.length === expected.length && timingSafeEqual(Buffer.from(given), Buffer.from(expected));
}
