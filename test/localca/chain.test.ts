/**
 * The local CA's certificates go out as the leaf alone: clients that trust the local root verify
 * them, and the root itself is never sent (testssl: "chain includes the root").
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { test } from 'node:test';
import { LocalCa } from '../../src/localca/local-ca.ts';
import { parseCertificates } from '../../src/pki/parse.ts';
import { startEdge } from '../edge/helpers.ts';
import { opensslChainLength, opensslLeaf } from '../helpers/tls-clients.ts';
import { tempDir } from '../helpers/tmp.ts';

test('a local-CA bundle holds the leaf only, not the root', async (t) => {
  const ca = new LocalCa({ dir: join(tempDir(t), 'local-ca') });
  const b = await ca.issue(['dev.localhost']);
  assert.equal(parseCertificates(Buffer.from(b.certPem)).length, 1);
});

test('the edge sends a local-CA leaf without the root, and it verifies against the exported root', { timeout: 30_000 }, async (t) => {
  const dir = tempDir(t);
  const e = await startEdge(dir);
  t.after(() => e.edge.close());
  const caFile = join(dir, 'local-ca', 'root.pem');
  assert.equal(await opensslChainLength(e.https, 'localhost', caFile), 1, 'one certificate on the wire');
  assert.ok(await opensslLeaf(e.https, 'localhost', caFile), 'verified with -CAfile root.pem');
  assert.ok(await opensslLeaf(e.https, 'app.internal', caFile), 'an on-demand local name too');
});
