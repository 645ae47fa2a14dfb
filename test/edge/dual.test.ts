/**
 * A name that holds an ECDSA and an RSA certificate at once: each client gets the one it
 * supports (ECDSA when it can use both), through the SNI path and as the no-SNI default; and a
 * default context's certificate never stands in for a name that lacks its key algorithm.
 */
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { type TestContext, test } from 'node:test';
import { CertCache } from '../../src/cache/cache.ts';
import { createCertificate, type KeySpec } from '../../src/pki/generate.ts';
import { certMeta } from '../../src/store/meta.ts';
import type { CertificateBundle } from '../../src/store/store.ts';
import { curlLeaf, fingerprint, nodeLeaf, opensslLeaf } from '../helpers/tls-clients.ts';
import { tempDir } from '../helpers/tmp.ts';
import { startEdge } from './helpers.ts';

const root = await createCertificate({ subject: 'CN=Dual Test Root, O=Certgate Tests', ca: true });
const NAME = 'dual.example.com';

async function bundleFor(name: string, key: KeySpec): Promise<CertificateBundle> {
  const leaf = await createCertificate({ subject: `CN=${name}`, issuer: root, dns: [name], key });
  return { certPem: leaf.certPem, keyPem: leaf.keyPem, meta: certMeta(leaf.certPem, { name, names: [name], directory: 'test', keyType: key }) };
}

const ecdsa = await bundleFor(NAME, 'ec-p256');
const rsa = await bundleFor(NAME, 'rsa-2048');

/** An edge whose cache holds NAME with both certificates (and `more`), started with `defaultSni`. */
async function dualEdge(t: TestContext, options: { defaultSni?: string; more?: Array<[string, CertificateBundle]> } = {}) {
  const dir = tempDir(t);
  const caFile = join(dir, 'root.pem');
  writeFileSync(caFile, root.certPem);
  const cache = new CertCache();
  cache.put(NAME, [rsa, ecdsa]);
  for (const [n, b] of options.more ?? []) cache.put(n, b);
  const e = await startEdge(dir, { cache, ...(options.defaultSni ? { defaultSni: options.defaultSni } : {}) });
  t.after(() => e.edge.close());
  return { port: e.https, caFile };
}

const RSA_ONLY_SIGALGS = 'RSA-PSS+SHA256:RSA-PSS+SHA384:RSA+SHA256:RSA+SHA384';

test('a client that supports both gets the ECDSA certificate (curl, openssl, Node)', { timeout: 30_000 }, async (t) => {
  const { port, caFile } = await dualEdge(t);
  const want = fingerprint(ecdsa.certPem);
  assert.equal(await curlLeaf(port, NAME, caFile), want);
  assert.equal(await opensslLeaf(port, NAME, caFile), want);
  assert.equal(await nodeLeaf(port, NAME, [root.certPem]), want);
});

test('a client offering only RSA signatures gets the RSA certificate (TLS 1.3 sigalgs, TLS 1.2 ECDHE-RSA)', { timeout: 30_000 }, async (t) => {
  const { port, caFile } = await dualEdge(t);
  const want = fingerprint(rsa.certPem);
  assert.equal(await opensslLeaf(port, NAME, caFile, ['-sigalgs', RSA_ONLY_SIGALGS]), want, 'openssl -sigalgs RSA');
  assert.equal(await nodeLeaf(port, NAME, [root.certPem], { sigalgs: RSA_ONLY_SIGALGS }), want, 'Node sigalgs RSA');
  assert.equal(
    await curlLeaf(port, NAME, caFile, ['--tlsv1.2', '--tls-max', '1.2', '--ciphers', 'ECDHE-RSA-AES128-GCM-SHA256']),
    want,
    'curl TLS 1.2 ECDHE-RSA',
  );
});

test('a client offering only ECDSA gets the ECDSA certificate (TLS 1.3 sigalgs, TLS 1.2 ECDHE-ECDSA)', { timeout: 30_000 }, async (t) => {
  const { port, caFile } = await dualEdge(t);
  const want = fingerprint(ecdsa.certPem);
  assert.equal(await opensslLeaf(port, NAME, caFile, ['-sigalgs', 'ECDSA+SHA256']), want, 'openssl -sigalgs ECDSA');
  assert.equal(await opensslLeaf(port, NAME, caFile, ['-tls1_2', '-cipher', 'ECDHE-ECDSA-AES128-GCM-SHA256']), want, 'openssl TLS 1.2 ECDHE-ECDSA');
  assert.equal(
    await curlLeaf(port, NAME, caFile, ['--tlsv1.2', '--tls-max', '1.2', '--ciphers', 'ECDHE-ECDSA-AES128-GCM-SHA256']),
    want,
    'curl TLS 1.2 ECDHE-ECDSA',
  );
});

test('as the default (no SNI), a name with both certificates serves each client the one it supports', { timeout: 30_000 }, async (t) => {
  const { port, caFile } = await dualEdge(t, { defaultSni: NAME });
  assert.equal(await opensslLeaf(port, '', caFile), fingerprint(ecdsa.certPem), 'no SNI, both supported');
  assert.equal(await opensslLeaf(port, '', caFile, ['-sigalgs', RSA_ONLY_SIGALGS]), fingerprint(rsa.certPem), 'no SNI, RSA only');
});

test("the default's RSA certificate never answers for a name that has only an ECDSA one", { timeout: 30_000 }, async (t) => {
  const other = 'ecdsa-only.example.com';
  const only = await bundleFor(other, 'ec-p256');
  const { port, caFile } = await dualEdge(t, { defaultSni: NAME, more: [[other, only]] });
  assert.equal(await opensslLeaf(port, other, caFile), fingerprint(only.certPem));
  // An RSA-only client cannot use the name's certificate: it fails, as with nginx or Caddy, rather
  // than being handed the default name's RSA certificate.
  assert.equal(await opensslLeaf(port, other, caFile, ['-sigalgs', RSA_ONLY_SIGALGS]), null);
});
