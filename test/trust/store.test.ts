import assert from 'node:assert/strict';
import { once } from 'node:events';
import { rmSync, writeFileSync } from 'node:fs';
import { createServer, request } from 'node:https';
import { join } from 'node:path';
import { test } from 'node:test';
import { request as undiciRequest } from 'undici';
import { createTrustStore, type TrustSet } from '../../src/trust/store.ts';
import { makePki } from '../helpers/pki.ts';
import { tempDir } from '../helpers/tmp.ts';

const pki = await makePki();

async function httpsServer(t: { after(fn: () => unknown): void }): Promise<number> {
  const server = createServer({ cert: pki.leaf.certPem + pki.inter.certPem, key: pki.leaf.keyPem }, (_req, res) => res.end('ok'));
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  t.after(() => new Promise((resolve) => server.close(resolve)));
  return (server.address() as { port: number }).port;
}

function waitForChange(store: ReturnType<typeof createTrustStore>, predicate: (s: TrustSet) => boolean, ms: number): Promise<TrustSet> {
  return new Promise((resolve, reject) => {
    if (predicate(store.current())) return resolve(store.current());
    const timer = setTimeout(() => reject(new Error(`no matching trust change within ${ms} ms`)), ms);
    store.on('change', (s: TrustSet) => {
      if (predicate(s)) {
        clearTimeout(timer);
        resolve(s);
      }
    });
  });
}

test('hot reload: an outbound call fails with an unknown CA, the CA is dropped into ca-certs, the next call succeeds, no restart', async (t) => {
  const dir = tempDir(t);
  const port = await httpsServer(t);
  const store = createTrustStore({ dir, systemRoots: false, pollMs: 500 });
  await store.start();
  t.after(() => store.close());
  const dispatcher = store.dispatcher();
  t.after(() => dispatcher.close());
  const agent = store.httpsAgent({ keepAlive: false });
  t.after(() => agent.destroy());
  const url = `https://127.0.0.1:${port}/`;
  const viaUndici = () => undiciRequest(url, { dispatcher, headers: { host: 'app.test' } }).then((r) => r.body.text());
  const viaHttps = () =>
    new Promise<string>((resolve, reject) => {
      const req = request(url, { agent, servername: 'app.test' }, (res) => {
        let body = '';
        res.on('data', (d) => {
          body += d;
        });
        res.on('end', () => resolve(body));
      });
      req.on('error', reject);
      req.end();
    });
  await assert.rejects(viaUndici(), /certificate|issuer/i);
  await assert.rejects(viaHttps(), /certificate|issuer/i);
  // The CA arrives as DER under a name with no helpful extension.
  const started = Date.now();
  writeFileSync(join(dir, 'corp-root.bin'), pki.root.der);
  await waitForChange(store, (s) => s.entries.length === 1, 2000);
  const took = Date.now() - started;
  assert.ok(took < 2000, `reloaded in ${took} ms`);
  assert.equal(await viaUndici(), 'ok');
  assert.equal(await viaHttps(), 'ok');
  // and removed again: new connections fail again
  rmSync(join(dir, 'corp-root.bin'));
  await waitForChange(store, (s) => s.entries.length === 0, 2000);
  const fresh = store.dispatcher();
  t.after(() => fresh.close());
  await assert.rejects(
    undiciRequest(url, { dispatcher: fresh }).then((r) => r.body.text()),
    /certificate|issuer/i,
  );
});

test('a directory of mixed junk: CAs are kept, everything else is a problem naming the file, nothing is lost', async (t) => {
  const dir = tempDir(t);
  writeFileSync(join(dir, 'root.pem'), pki.root.certPem);
  writeFileSync(join(dir, 'other.crt.txt'), pki.otherRoot.der);
  writeFileSync(join(dir, 'server.pem'), pki.leaf.certPem);
  writeFileSync(join(dir, 'server.key'), pki.leaf.keyPem);
  writeFileSync(join(dir, 'notes.txt'), 'remember to rename .pem to .crt\n');
  writeFileSync(join(dir, 'empty.crt'), '');
  writeFileSync(join(dir, '.hidden'), 'ignored');
  const store = createTrustStore({ dir, systemRoots: false, watch: false });
  const set = await store.start();
  assert.deepEqual(set.entries.map((e) => e.file).sort(), ['other.crt.txt', 'root.pem']);
  const problems = Object.fromEntries(set.problems.map((p) => [p.file, p.code]));
  assert.deepEqual(problems, { 'empty.crt': 'E_INPUT_EMPTY', 'notes.txt': 'E_INPUT_FORMAT', 'server.key': 'E_TRUST_KEY', 'server.pem': 'E_TRUST_LEAF' });
  assert.match(set.problems.find((p) => p.file === 'server.pem')?.fix ?? '', /pin/);
  assert.equal(set.ca.length, 2);
  await store.close();
});

test('an unreadable directory keeps the last good set', async (t) => {
  const dir = tempDir(t);
  writeFileSync(join(dir, 'root.pem'), pki.root.certPem);
  const store = createTrustStore({ dir, systemRoots: false, watch: false });
  await store.start();
  const problems: string[] = [];
  store.on('problem', (p: { code: string }) => problems.push(p.code));
  rmSync(dir, { recursive: true });
  writeFileSync(dir, 'now a file, not a directory');
  const after = await store.reload();
  assert.equal(after.entries.length, 1, 'still serving the last good set');
  assert.deepEqual(problems, ['E_TRUST_DIR']);
  rmSync(dir);
  await store.close();
});

test('options are validated once, with the fix', () => {
  assert.throws(() => createTrustStore({ dir: '' }), /E_OPTION|needs a directory/);
  assert.throws(() => createTrustStore({ dir: '/tmp', pollMs: 1 }), /pollMs/);
});
