/**
 * The original report, end to end against Pebble: with RSA-2048 keys, a registered name's
 * certificate obtained on demand at its first handshake is the one curl, openssl s_client and
 * Node get for that name (not the edge's default local-CA certificate), on that handshake and on
 * the next ones.
 */
import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { DomainRegistry } from '../../src/manager/registry.ts';
import { name, rig } from '../acme/helpers.ts';
import { startPebble } from '../helpers/pebble.ts';
import { curlLeaf, fingerprint, nodeLeaf, opensslLeaf } from '../helpers/tls-clients.ts';
import { startEdge } from './helpers.ts';

const pebble = await startPebble();
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
