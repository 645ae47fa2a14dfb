/**
 * The runtime as an embedder drives it: one settings object in, start / reload / close out; a bad
 * option fails with its library key (never a CLI flag); every certificate event reaches the
 * embedder's onEvent and the diagnostics channel.
 */
import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import diagnosticsChannel from 'node:diagnostics_channel';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { connect as tlsConnect } from 'node:tls';
import type { CertgateError } from '../../src/errors.ts';
import { EVENT_CHANNEL } from '../../src/events.ts';
import { createCertificate } from '../../src/pki/generate.ts';
import { createAcmeEngines } from '../../src/runtime/acme.ts';
import { buildRuntime } from '../../src/runtime/server.ts';
import { FsStore } from '../../src/store/fs.ts';
import { certMeta } from '../../src/store/meta.ts';
import type { CertEvent } from '../../src/store/store.ts';
import { httpsGet, startUpstream } from '../edge/helpers.ts';
import { settings } from '../helpers/settings.ts';
import { tempDir } from '../helpers/tmp.ts';

test('runtime: built from settings, it serves the upstream over the local CA, reloads a new upstream, and closes', async (t) => {
  const data = tempDir(t);
  const [a, b] = [await startUpstream(), await startUpstream()];
  t.after(() => Promise.all([a.close(), b.close()]));
  const rt = await buildRuntime(settings(data, { upstream: a.url }));
  const ports = await rt.start();
  t.after(() => rt.close());
  const ca = readFileSync(join(data, 'local-ca', 'root.pem'), 'utf8');
  assert.equal((await httpsGet(ports.https as number, '/one', ca)).status, 200);
  assert.equal(a.seen.at(-1)?.url, '/one');
  const restart = await rt.reload(settings(data, { upstream: b.url, httpPort: 1 }));
  assert.deepEqual(restart, ['httpPort'], 'a port change is named as needing a restart');
  await httpsGet(ports.https as number, '/two', ca);
  assert.equal(b.seen.at(-1)?.url, '/two');
});

test('runtime: a bad port fails with E_OPTION and the library key of the setting', async (t) => {
  await assert.rejects(buildRuntime(settings(tempDir(t), { httpsPort: 70_000 })), (e: CertgateError) => e.code === 'E_OPTION' && e.option === 'httpsPort');
});

test('runtime: ACME on without an email for a public CA fails at build, before anything listens', async (t) => {
  await assert.rejects(buildRuntime(settings(tempDir(t), { acmeAgreeTos: true })), (e: CertgateError) => e.code === 'E_ACME_EMAIL');
});

test('events: one event reaches the store, onEvent and the certgate:event channel', async (t) => {
  const data = tempDir(t);
  const seen: CertEvent[] = [];
  const published: CertEvent[] = [];
  const listener = (m: unknown) => published.push(m as CertEvent);
  diagnosticsChannel.subscribe(EVENT_CHANNEL, listener);
  t.after(() => diagnosticsChannel.unsubscribe(EVENT_CHANNEL, listener));
  const engines = createAcmeEngines(settings(data), { warn: () => {}, onEvent: (e) => seen.push(e) });
  await engines.registry.add('shop.example.com');
  assert.deepEqual(
    seen.map((e) => e.type),
    ['domain_added'],
  );
  assert.deepEqual(
    published.map((e) => e.name),
    ['shop.example.com'],
  );
  assert.equal((await engines.store.readEvents('shop.example.com'))[0]?.type, 'domain_added');
});

test('runtime: development mode never serves stored ACME certificates (the local CA only)', async (t) => {
  const data = tempDir(t);
  const name = 'app.example.com';
  const c = await createCertificate({ subject: `CN=${name}`, dns: [name] });
  await new FsStore({ root: data }).putBundle(name, {
    certPem: c.certPem,
    keyPem: c.keyPem,
    meta: certMeta(c.certPem, { name, names: [name], directory: 'test', keyType: 'ec-p256' }),
  });
  const rt = await buildRuntime(settings(data, { mode: 'development', acmeAgreeTos: true, acmeEmail: 'ops@certgate.dev' }));
  const ports = await rt.start();
  t.after(() => rt.close());
  const served = await new Promise<string | null>((resolve) => {
    const s = tlsConnect({ host: '127.0.0.1', port: ports.https as number, servername: name, rejectUnauthorized: false }, () => {
      resolve(s.getPeerX509Certificate()?.fingerprint256 ?? null);
      s.end();
    });
    s.on('error', () => resolve(null));
  });
  assert.notEqual(served, new X509Certificate(c.certPem).fingerprint256);
});
