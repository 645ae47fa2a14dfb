import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { run } from '../../src/cli/run.ts';
import { fakeIo } from '../helpers/io.ts';
import { makePki } from '../helpers/pki.ts';
import { startTlsServer } from '../helpers/servers.ts';
import { tempDir } from '../helpers/tmp.ts';

const pki = await makePki();

test('inspect --client-cert C --client-key K with a key of another certificate: E_KEY_MISMATCH, not E_INTERNAL', async (t) => {
  const dir = tempDir(t);
  writeFileSync(join(dir, 'client.pem'), pki.leaf.certPem);
  writeFileSync(join(dir, 'other.key'), pki.inter.keyPem);
  const server = await startTlsServer({ chain: [pki.leaf.certPem, pki.inter.certPem], key: pki.leaf.keyPem });
  t.after(() => server.close());
  const io = fakeIo({ cwd: dir });
  assert.equal(await run(['inspect', `127.0.0.1:${server.port}`, '--client-cert', 'client.pem', '--client-key', 'other.key', '--timeout', '2000'], io), 2);
  assert.match(io.stderr, /^error E_KEY_MISMATCH: the key in other\.key does not belong to the certificate in client\.pem \("app\.test"\)\n {2}fix: /);
  assert.doesNotMatch(io.stderr, /PRIVATE KEY/);
});
