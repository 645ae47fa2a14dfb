/**
 * What the HTTPS port offers: TLS 1.2 and 1.3 only, on TLS 1.2 only AEAD suites with forward
 * secrecy (for ECDSA and RSA certificates, also after an SNI switch), key exchange groups X25519,
 * P-256 and P-384 only.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { type ConnectionOptions, connect as tlsConnect } from 'node:tls';
import { createCertificate } from '../../src/pki/generate.ts';
import { certMeta } from '../../src/store/meta.ts';
import { tempDir } from '../helpers/tmp.ts';
import { startEdge } from './helpers.ts';

/** The negotiated suite, or the handshake's error code. */
function handshake(port: number, options: ConnectionOptions): Promise<string> {
  return new Promise((resolve) => {
    const s = tlsConnect({ port, host: '127.0.0.1', servername: 'localhost', ...options }, () => {
      resolve(`ok ${s.getCipher().name}`);
      s.destroy();
    });
    s.on('error', (err: NodeJS.ErrnoException) => resolve(err.code ?? err.message));
  });
}

test('TLS: on TLS 1.2 AEAD suites with ECDHE only, for ECDSA and RSA certificates; TLS 1.3 as before; no TLS 1.1; groups X25519, P-256, P-384', {
  timeout: 30_000,
}, async (t) => {
  const e = await startEdge(tempDir(t));
  t.after(() => e.edge.close());
  const root = await createCertificate({ subject: 'CN=Test RSA Root', ca: true });
  const rsa = await createCertificate({ subject: 'CN=rsa.example.com', issuer: root, key: 'rsa-2048', dns: ['rsa.example.com'] });
  e.edge.update('rsa.example.com', {
    certPem: rsa.certPem,
    keyPem: rsa.keyPem,
    meta: certMeta(rsa.certPem, { name: 'rsa.example.com', names: ['rsa.example.com'], directory: 'test', keyType: 'rsa-2048' }),
  });
  const ecdsa = { ca: e.caPem };
  const asRsa = { ca: root.certPem, servername: 'rsa.example.com' };
  const tls12 = { maxVersion: 'TLSv1.2' as const };
  assert.equal(await handshake(e.https, { ...ecdsa, ...tls12, ciphers: 'ECDHE-ECDSA-AES128-GCM-SHA256' }), 'ok ECDHE-ECDSA-AES128-GCM-SHA256');
  assert.equal(await handshake(e.https, { ...ecdsa, ...tls12, ciphers: 'ECDHE-ECDSA-CHACHA20-POLY1305' }), 'ok ECDHE-ECDSA-CHACHA20-POLY1305');
  assert.equal(await handshake(e.https, { ...asRsa, ...tls12, ciphers: 'ECDHE-RSA-AES256-GCM-SHA384' }), 'ok ECDHE-RSA-AES256-GCM-SHA384');
  for (const [who, cipher] of [
    [ecdsa, 'ECDHE-ECDSA-AES128-SHA'],
    [ecdsa, 'ECDHE-ECDSA-AES256-SHA384'],
    [asRsa, 'ECDHE-RSA-AES128-SHA256'],
    [asRsa, 'AES128-GCM-SHA256'],
    [asRsa, 'DHE-RSA-AES128-GCM-SHA256'],
  ] as const) {
    assert.doesNotMatch(await handshake(e.https, { ...who, ...tls12, ciphers: cipher }), /^ok/, `${cipher} refused`);
  }
  assert.match(await handshake(e.https, { ...ecdsa, minVersion: 'TLSv1.3' }), /^ok TLS_AES_(128|256)_GCM_SHA/, 'TLS 1.3 as before');
  assert.doesNotMatch(await handshake(e.https, { ...ecdsa, minVersion: 'TLSv1', maxVersion: 'TLSv1.1', ciphers: 'DEFAULT@SECLEVEL=0' }), /^ok/, 'no TLS 1.1');
  assert.match(await handshake(e.https, { ...ecdsa, ecdhCurve: 'P-384' }), /^ok/);
  assert.doesNotMatch(await handshake(e.https, { ...ecdsa, ecdhCurve: 'P-521' }), /^ok/, 'a P-521-only client');
  assert.doesNotMatch(await handshake(e.https, { ...asRsa, ...tls12, ecdhCurve: 'P-521' }), /^ok/, 'a P-521-only client after the SNI switch');
});
