/**
 * Session resumption across nodes: the ticket keys live in the shared PostgreSQL store, so a
 * ticket node A issued resumes on node B (and back), two `certgate serve` processes with their
 * own data directories and one database.
 */
import assert from 'node:assert/strict';
import { cpSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { type TLSSocket, connect as tlsConnect } from 'node:tls';
import { startServe, waitFor } from '../edge/helpers.ts';
import { freePort } from '../helpers/daemons.ts';
import { tempDir } from '../helpers/tmp.ts';
import { pgFixture } from '../store/pg-helpers.ts';

const fx = await pgFixture();
test.after(() => fx.close());

/** One TLS connection offering `session`, one request; whether it resumed and the newest ticket. */
function visit(port: number, ca: string, session?: Buffer): Promise<{ reused: boolean; session: Buffer | undefined }> {
  return new Promise((resolve, reject) => {
    let latest: Buffer | undefined;
    const s: TLSSocket = tlsConnect(
      { port, host: '127.0.0.1', servername: 'localhost', ca: [ca], ALPNProtocols: ['http/1.1'], ...(session ? { session } : {}) },
      () => s.write('GET / HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n'),
    );
    s.on('session', (t) => {
      latest = t;
    });
    s.on('data', () => {});
    s.on('end', () => resolve({ reused: s.isSessionReused(), session: latest }));
    s.on('error', reject);
    s.setTimeout(10_000, () => s.destroy(new Error('timed out')));
  });
}

test('a ticket from node A resumes on node B sharing the PostgreSQL store, and the other way round', { timeout: 90_000 }, async (t) => {
  const url = await fx.database();
  const dir = tempDir(t);
  const node = async (name: string) => {
    const port = await freePort();
    const p = startServe(['--store', url, '--https-port', String(port), '--http-port', 'off', '--host', '127.0.0.1', '--admin-listen', 'off'], {
      CERTGATE_DATA: join(dir, name),
    });
    t.after(() => {
      if (p.child.exitCode === null) p.child.kill('SIGKILL');
    });
    await waitFor(() => p.err().includes('trust it:') || p.child.exitCode !== null, `${name} up`, 30_000);
    assert.equal(p.child.exitCode, null, p.err());
    return { port, p };
  };
  const a = await node('a');
  // Both nodes serve localhost from one local CA, so the client verifies either's certificate.
  cpSync(join(dir, 'a', 'local-ca'), join(dir, 'b', 'local-ca'), { recursive: true });
  const b = await node('b');
  const ca = readFileSync(join(dir, 'a', 'local-ca', 'root.pem'), 'utf8');
  const first = await visit(a.port, ca);
  assert.equal((await visit(b.port, ca, first.session)).reused, true, 'A’s ticket resumed on B');
  const fromB = await visit(b.port, ca);
  assert.equal((await visit(a.port, ca, fromB.session)).reused, true, 'B’s ticket resumed on A');
  const keyLine = /TLS session ticket key ([0-9a-f]{8}) in use/;
  assert.equal(keyLine.exec(a.p.err())?.[1], keyLine.exec(b.p.err())?.[1], 'both nodes use the same key');
  a.p.child.kill('SIGTERM');
  b.p.child.kill('SIGTERM');
  assert.deepEqual(await Promise.all([a.p.exited, b.p.exited]), [0, 0]);
});
