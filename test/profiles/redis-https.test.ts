/**
 * A real Redis with TLS (Debian redis-server, TLS port only) through ioredis, and an HTTPS API
 * (a Node server) through undici, with the options certgate builds.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Redis } from 'ioredis';
import { request } from 'undici';
import { decodeCertificate } from '../../src/pki/certificate.ts';
import { createCertificate } from '../../src/pki/generate.ts';
import { ioredisOptions, undiciDispatcher } from '../../src/profiles/drivers.ts';
import { resolveTls } from '../../src/profiles/resolve.ts';
import { validateResource } from '../../src/profiles/schema.ts';
import { testResource } from '../../src/profiles/test.ts';
import { startRedisTls } from '../helpers/daemons.ts';
import { makePki } from '../helpers/pki.ts';
import { startHttpsServer } from '../helpers/servers.ts';

const pki = await makePki();

function resolved(input: Record<string, unknown>) {
  const r = validateResource(input, 'test', 'r');
  return { r, t: resolveTls(r, { trustCa: [], env: { REDIS_PASSWORD: 's3cret' }, baseDir: '/' }) };
}

test('redis over TLS: full works with servername set for ioredis; an unknown CA fails at TLS; the layered test logs in', async (t) => {
  const redis = await startRedisTls({ certPem: pki.leaf.certPem + pki.inter.certPem, keyPem: pki.leaf.keyPem, caPem: pki.root.certPem, password: 's3cret' });
  t.after(() => redis.close());
  const base = { kind: 'redis', host: '127.0.0.1', port: redis.port, password: { env: 'REDIS_PASSWORD' } };
  const { r, t: tls } = resolved({ ...base, tls: { mode: 'full', ca: pki.root.certPem, servername: 'app.test', useTrustStore: false } });
  const options = ioredisOptions(r, tls, 's3cret');
  assert.equal(options.tls.servername, 'app.test');
  const client = new Redis({ ...options, lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null });
  client.on('error', () => {});
  await client.connect();
  assert.equal(await client.ping(), 'PONG');
  client.disconnect();

  const wrong = resolved({ ...base, tls: { mode: 'full', ca: pki.otherRoot.certPem, servername: 'app.test', useTrustStore: false } });
  const bad = new Redis({ ...ioredisOptions(wrong.r, wrong.t, 's3cret'), lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null });
  const errors: string[] = [];
  bad.on('error', (e: Error) => errors.push(e.message));
  await assert.rejects(bad.connect());
  bad.disconnect();
  assert.match(errors.join(' | '), /unable to get local issuer certificate/, 'ioredis reports the TLS failure as an error event');

  const layered = await testResource(r, tls, { password: 's3cret', timeoutMs: 5000 });
  assert.equal(layered.status, 'ok', JSON.stringify(layered.layers));
  assert.match(layered.layers.find((l) => l.layer === 'auth')?.message ?? '', /PING → PONG; Redis \d/);
  const noPass = await testResource(r, tls, { timeoutMs: 5000 });
  assert.equal(noPass.layers.find((l) => l.layer === 'auth')?.status, 'fail');
  assert.match(noPass.layers.find((l) => l.layer === 'auth')?.fix ?? '', /password/, JSON.stringify(noPass.layers.at(-1)));
});

test('https: full through the dispatcher, SPKI pins enforced on every connection, skip warns', async (t) => {
  const api = await startHttpsServer({ chain: [pki.leaf.certPem, pki.inter.certPem], key: pki.leaf.keyPem });
  t.after(() => api.close());
  const url = `https://127.0.0.1:${api.port}/health`;
  const get = async (tls: Record<string, unknown>) => {
    const { t: resolvedTls } = resolved({ kind: 'https', url, tls: { useTrustStore: false, ...tls } });
    const dispatcher = undiciDispatcher(resolvedTls);
    try {
      const res = await request(url, { dispatcher });
      return `${res.statusCode} ${await res.body.text()}`;
    } catch (err) {
      return `error ${(err as NodeJS.ErrnoException).code} ${(err as Error).message}`;
    } finally {
      await dispatcher.close();
    }
  };
  assert.equal(await get({ mode: 'full', ca: pki.root.certPem }), '200 ok /health');
  assert.match(await get({ mode: 'full', ca: pki.otherRoot.certPem }), /^error UNABLE_TO_GET_ISSUER_CERT_LOCALLY/);
  const pin = `sha256//${decodeCertificate(pki.leaf.der).info.spkiSha256}`;
  assert.equal(await get({ mode: 'pinned', pins: [pin] }), '200 ok /health', 'the pin is the trust: no CA needed');
  const otherKey = await createCertificate({ subject: 'CN=x' });
  assert.match(
    await get({ mode: 'pinned', pins: [`sha256//${decodeCertificate(otherKey.der).info.spkiSha256}`] }),
    /^error ERR_CERTGATE_PIN_MISMATCH .*does not match the pin/,
  );
  assert.equal(await get({ mode: 'skip' }), '200 ok /health');

  const { r, t: skipTls } = resolved({ kind: 'https', url, tls: { mode: 'skip', useTrustStore: false } });
  const layered = await testResource(r, skipTls, { timeoutMs: 5000 });
  assert.equal(layered.status, 'warn');
  assert.match(layered.warning ?? '', /verification is off/);
  assert.match(layered.layers.find((l) => l.layer === 'auth')?.message ?? '', /GET .* → 200/);
});
