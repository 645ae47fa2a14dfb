/**
 * Every key type certgate can obtain is served through the real SNI path: for each one, the
 * leaf that curl, openssl s_client and Node's tls get for the name is the certificate the cache
 * holds for it, never the edge's default (local-CA, ECDSA) certificate.
 */
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { KEY_TYPES } from '../../src/acme/issuer.ts';
import { CertCache } from '../../src/cache/cache.ts';
import { createCertificate, type KeySpec } from '../../src/pki/generate.ts';
import { certMeta } from '../../src/store/meta.ts';
import type { CertificateBundle } from '../../src/store/store.ts';
import { curlLeaf, fingerprint, nodeLeaf, opensslLeaf } from '../helpers/tls-clients.ts';
import { tempDir } from '../helpers/tmp.ts';
import { startEdge } from './helpers.ts';

const root = await createCertificate({ subject: 'CN=Key Types Test Root, O=Certgate Tests', ca: true });

async function bundleFor(name: string, key: KeySpec): Promise<CertificateBundle> {
  const leaf = await createCertificate({ subject: `CN=${name}`, issuer: root, dns: [name], key });
  return { certPem: leaf.certPem, keyPem: leaf.keyPem, meta: certMeta(leaf.certPem, { name, names: [name], directory: 'test', keyType: key }) };
}

for (const keyType of KEY_TYPES) {
  test(`a ${keyType} certificate is the one served for its name (curl, openssl, Node)`, { timeout: 60_000 }, async (t) => {
    const dir = tempDir(t);
    const caFile = join(dir, 'root.pem');
    writeFileSync(caFile, root.certPem);
    const name = `${keyType}.keytypes.example.com`;
    const b = await bundleFor(name, keyType);
    const e = await startEdge(dir);
    t.after(() => e.edge.close());
    e.cache.put(name, b);
    const want = fingerprint(b.certPem);
    assert.equal(await nodeLeaf(e.https, name, [root.certPem]), want, 'Node tls.connect');
    assert.equal(await opensslLeaf(e.https, name, caFile), want, 'openssl s_client -servername');
    assert.equal(await curlLeaf(e.https, name, caFile), want, 'curl --resolve');
  });
}

test('an RSA certificate in the cache before the edge starts is served for its name', { timeout: 30_000 }, async (t) => {
  const dir = tempDir(t);
  const caFile = join(dir, 'root.pem');
  writeFileSync(caFile, root.certPem);
  const name = 'preloaded.keytypes.example.com';
  const b = await bundleFor(name, 'rsa-2048');
  const cache = new CertCache();
  cache.put(name, b);
  const e = await startEdge(dir, { cache });
  t.after(() => e.edge.close());
  assert.equal(await opensslLeaf(e.https, name, caFile), fingerprint(b.certPem));
  assert.equal(await curlLeaf(e.https, name, caFile), fingerprint(b.certPem));
});

test('a TLS-ALPN-01 answer with an RSA key (as acme-client makes it) is what a client preferring ECDSA gets for its name', { timeout: 30_000 }, async (t) => {
  const dir = tempDir(t);
  const name = 'alpn.keytypes.example.com';
  const answer = await createCertificate({ subject: `CN=${name}`, dns: [name], key: 'rsa-2048' });
  const e = await startEdge(dir);
  t.after(() => e.edge.close());
  e.answers.setAlpn(name, answer.certPem, answer.keyPem);
  // (Without ALPN acme-tls/1: the edge's HTTP/2 server does not offer it yet, see the report. The
  // answer is served for its name during the challenge whatever the protocol.)
  const served = await nodeLeaf(e.https, name, [], { rejectUnauthorized: false, sigalgs: 'ECDSA+SHA256:RSA-PSS+SHA256' });
  assert.equal(served, fingerprint(answer.certPem));
});
