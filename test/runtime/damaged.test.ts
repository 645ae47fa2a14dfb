/**
 * A damaged stored pair (garbage in fullchain.pem) is noticed when serve loads the store: the
 * log names the file, the name is not served the broken pair, and a new certificate is obtained
 * from the CA and served without a restart.
 */
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { connect } from 'node:tls';
import { createLogger } from '../../src/log.ts';
import { createCertificate } from '../../src/pki/generate.ts';
import { buildRuntime } from '../../src/runtime/server.ts';
import { FsStore } from '../../src/store/fs.ts';
import { certMeta } from '../../src/store/meta.ts';
import type { CertEvent } from '../../src/store/store.ts';
import { startPebble } from '../helpers/pebble.ts';
import { settings } from '../helpers/settings.ts';
import { tempDir } from '../helpers/tmp.ts';

const pebble = await startPebble();
test.after(() => pebble.close());

test('serve notices a damaged stored pair, names the file, and obtains a new certificate', { timeout: 60_000 }, async (t) => {
  const data = tempDir(t);
  const name = `damaged-${process.pid}.example.com`;
  const store = new FsStore({ root: data });
  const c = await createCertificate({ subject: `CN=${name}`, dns: [name] });
  await store.putBundle(name, {
    certPem: c.certPem,
    keyPem: c.keyPem,
    meta: certMeta(c.certPem, { name, names: [name], directory: pebble.directoryUrl, keyType: 'ec-p256' }),
  });
  writeFileSync(store.filePaths(name).fullchain, 'garbage\n');
  const caRoot = join(data, 'pebble-tls.pem');
  writeFileSync(caRoot, pebble.tlsCaPem);
  let log = '';
  const events: CertEvent[] = [];
  const rt = await buildRuntime(
    settings(data, {
      acmeDirectory: pebble.directoryUrl,
      acmeCaRoot: caRoot,
      acmeEmail: 'ops@certgate.dev',
      acmeAgreeTos: true,
      httpPort: pebble.httpPort,
      challenges: ['http-01'],
      domain: name,
    }),
    { log: createLogger({ write: (l) => (log += l) }), onEvent: (e) => events.push(e) },
  );
  const ports = await rt.start();
  t.after(() => rt.close());
  assert.match(log, new RegExp(`${name.replace(/\./g, '\\.')}: the stored certificate is damaged: fullchain\\.pem holds no certificate`));
  const deadline = Date.now() + 30_000;
  while (!events.some((e) => e.type === 'cert_obtained') && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
  assert.ok(
    events.some((e) => e.type === 'cert_obtained' && e.name === name),
    'a new certificate was obtained',
  );
  const root = await pebble.issuingRoot();
  const served = await new Promise<{ authorized: boolean }>((resolve, reject) => {
    const s = connect({ host: '127.0.0.1', port: ports.https as number, servername: name, ca: [root] }, () => {
      resolve({ authorized: s.authorized });
      s.end();
    });
    s.on('error', reject);
  });
  assert.equal(served.authorized, true, 'the new pair is served');
});
