/**
 * The original report, end to end against Pebble: with RSA-2048 keys, a registered name's
 * certificate obtained on demand at its first handshake is the one curl, openssl s_client and
 * Node get for that name (not the edge's default local-CA certificate), on that handshake and on
 * the next ones; and from `certgate serve --key-type rsa-2048`, also after a restart, when the
 * pair comes from the store.
 */
import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { createServer as createHttpServer } from 'node:http';
import { join } from 'node:path';
import { test } from 'node:test';
import { connect as tlsConnect } from 'node:tls';
import { DomainRegistry } from '../../src/manager/registry.ts';
import { name, rig } from '../acme/helpers.ts';
import { freePort } from '../helpers/daemons.ts';
import { pebbleFlags, startPebble } from '../helpers/pebble.ts';
import { curlLeaf, fingerprint, nodeLeaf, opensslLeaf } from '../helpers/tls-clients.ts';
import { tempDir } from '../helpers/tmp.ts';
import { startEdge, startServe, waitFor } from './helpers.ts';

const pebble = await startPebble();

/** The key type of the leaf Node gets for `servername` (verified against `root`), or null. */
function peerKeyType(port: number, servername: string, root: string): Promise<string | null> {
  return new Promise((resolve) => {
    const s = tlsConnect({ host: '127.0.0.1', port, servername, ca: [root] }, () => {
      resolve(s.getPeerX509Certificate()?.publicKey.asymmetricKeyType ?? null);
      s.destroy();
    });
    s.on('error', () => resolve(null));
  });
}
test.after(() => pebble.close());

test('an RSA-2048 certificate obtained on demand is served for its name from the first handshake on', { timeout: 90_000 }, async (t) => {
  const r = await rig(pebble, { responder: false, keyType: 'rsa-2048' });
  t.after(() => r.close());
  const host = name('rsa-ondemand');
  const registry = new DomainRegistry({ store: r.store, mainDomain: host });
  const e = await startEdge(r.root, { httpPort: pebble.httpPort, registry, manager: r.manager, answers: r.answers });
  t.after(() => e.edge.close());
  const root = await pebble.issuingRoot();
  const caFile = join(r.root, 'pebble-root.pem');
  writeFileSync(caFile, root);
  const first = await curlLeaf(e.https, host, caFile);
  const stored = await r.store.getBundle(host);
  assert.ok(stored, 'obtained and stored');
  assert.equal(new X509Certificate(stored.certPem).publicKey.asymmetricKeyType, 'rsa');
  const want = fingerprint(stored.certPem);
  assert.equal(first, want, 'curl, on the handshake that caused the issuance');
  assert.equal(await opensslLeaf(e.https, host, caFile), want, 'openssl s_client -servername');
  assert.equal(await nodeLeaf(e.https, host, [root]), want, 'Node tls.connect');
  assert.equal(await curlLeaf(e.https, host, caFile), want, 'curl again, from memory');
});

test('certgate serve --key-type rsa-2048: the RSA name gets its Pebble certificate on demand, and again from the store after a restart', {
  timeout: 90_000,
}, async (t) => {
  const dir = tempDir(t);
  // Names are allowed by an ask URL, not as the main domain: the main domain is also the default
  // certificate, which was served right all along.
  const ask = createHttpServer((_req, res) => res.writeHead(200).end());
  await new Promise<void>((resolve) => ask.listen(0, '127.0.0.1', resolve));
  t.after(() => new Promise((resolve) => ask.close(resolve)));
  const https = await freePort();
  const args = [
    '--https-port',
    String(https),
    '--host',
    '127.0.0.1',
    ...pebbleFlags(pebble, join(dir, 'pebble-tls-ca.pem')),
    '--key-type',
    'rsa-2048',
    '--ask',
    `http://127.0.0.1:${(ask.address() as { port: number }).port}/`,
  ];
  const serve = async () => {
    const s = startServe(args, { CERTGATE_DATA: join(dir, 'data') });
    t.after(() => {
      if (s.child.exitCode === null) s.child.kill('SIGKILL');
    });
    await waitFor(() => s.err().includes('trust it:'), 'the banner');
    return s;
  };
  const caFile = join(dir, 'pebble-root.pem');
  writeFileSync(caFile, await pebble.issuingRoot());
  const host = name('rsa-serve');
  const first = await serve();
  const obtained = await curlLeaf(https, host, caFile);
  assert.ok(obtained, `a leaf that verifies against Pebble's root; serve said:\n${first.err()}`);
  assert.equal(await opensslLeaf(https, host, caFile), obtained, 'openssl s_client -servername');
  assert.equal(await peerKeyType(https, host, await pebble.issuingRoot()), 'rsa');
  first.child.kill('SIGTERM');
  assert.equal(await first.exited, 0);
  await serve();
  assert.equal(await curlLeaf(https, host, caFile), obtained, 'the stored RSA pair, loaded at start-up');
});
