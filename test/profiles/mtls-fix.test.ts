/**
 * A server that requires a client certificate at the TLS handshake: the TLS layer's fix names
 * the resource's fields (tls.clientCert / tls.clientKey), not `inspect`'s flags.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { resolveTls } from '../../src/profiles/resolve.ts';
import { validateResource } from '../../src/profiles/schema.ts';
import { testResource } from '../../src/profiles/test.ts';
import { makePki } from '../helpers/pki.ts';
import { startHttpsServer } from '../helpers/servers.ts';

const pki = await makePki();

test('resources test: mTLS required and no client certificate: the fix is tls.clientCert / tls.clientKey', async (t) => {
  const api = await startHttpsServer({ chain: [pki.leaf.certPem, pki.inter.certPem], key: pki.leaf.keyPem, requestCert: { ca: [pki.root.certPem] } });
  t.after(() => api.close());
  const r = validateResource(
    { kind: 'https', url: `https://127.0.0.1:${api.port}/`, tls: { ca: pki.root.certPem, servername: 'app.test', useTrustStore: false } },
    'test',
    'billing-api',
  );
  const result = await testResource(r, resolveTls(r, { trustCa: [], env: {}, baseDir: '/' }), { timeoutMs: 5000 });
  const failed = result.layers.find((l) => l.status === 'fail');
  const finding = result.layers.flatMap((l) => l.findings ?? []).find((f) => f.code === 'CLIENT_CERT_REQUIRED');
  assert.ok(finding, JSON.stringify(result.layers));
  for (const fix of [finding.fix, failed?.fix ?? '']) {
    assert.match(fix, /tls\.clientCert and tls\.clientKey in the resource/);
    assert.doesNotMatch(fix, /^pass --client-cert/);
  }
});
