import assert from 'node:assert/strict';
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { run } from '../../src/cli/run.ts';
import { createCertificate } from '../../src/pki/generate.ts';
import { resourceClient } from '../../src/profiles/client.ts';
import { fakeIo } from '../helpers/io.ts';
import { makePki } from '../helpers/pki.ts';
import { startHttpsServer } from '../helpers/servers.ts';
import { tempDir } from '../helpers/tmp.ts';

const pki = await makePki();

function setup(t: Parameters<typeof tempDir>[0], env: Record<string, string> = {}) {
  const dir = tempDir(t);
  const data = join(dir, 'data');
  const io = () => fakeIo({ cwd: dir, env: { CERTGATE_DATA: data, ...env } });
  return { dir, data, io };
}

test('resources add, list, show, export, import, remove: files safe to commit', async (t) => {
  const { dir, data, io } = setup(t);
  writeFileSync(join(dir, 'root.pem'), pki.root.certPem);
  writeFileSync(join(dir, 'leaf.pem'), pki.leaf.certPem);
  const client = await createCertificate({ subject: 'CN=app', issuer: pki.inter, extendedKeyUsage: ['clientAuth'] });
  writeFileSync(join(dir, 'client.pem'), client.certPem);
  writeFileSync(join(dir, 'client.key'), client.keyPem);
  const a = io();
  assert.equal(
    await run(
      [
        'resources',
        'add',
        'orders-db',
        '--kind',
        'postgres',
        '--host',
        'db.internal',
        '--ca',
        'root.pem',
        '--client-cert',
        'client.pem',
        '--client-key',
        'client.key',
        '--user',
        'app',
        '--password-env',
        'ORDERS_PW',
      ],
      a,
    ),
    0,
    a.stderr,
  );
  const text = readFileSync(join(data, 'resources', 'orders-db.yaml'), 'utf8');
  assert.match(text, /kind: postgres/);
  assert.match(text, /BEGIN CERTIFICATE/, 'the CA is inline');
  assert.doesNotMatch(text, /PRIVATE KEY/, 'the key is by reference only');
  assert.match(text, /clientKey:\n\s+file: .*client\.key/);
  assert.match(text, /password:\n\s+env: ORDERS_PW/);

  const leafAsCa = io();
  assert.equal(await run(['resources', 'add', 'x', '--kind', 'https', '--url', 'https://x.test/', '--ca', 'leaf.pem'], leafAsCa), 2);
  assert.match(leafAsCa.stderr, /^error E_TRUST_LEAF: .*\n {2}fix: pin it instead: --mode pinned --pin-cert leaf\.pem/);
  const missingKey = io();
  assert.equal(
    await run(['resources', 'add', 'y', '--kind', 'redis', '--host', 'r', '--client-cert', 'client.pem', '--client-key', 'nope.key'], missingKey),
    2,
  );
  assert.match(missingKey.stderr, /^error E_SECRET_MISSING: resource y: tls\.clientKey file .*nope\.key cannot be read/);
  const exists = io();
  assert.equal(await run(['resources', 'add', 'orders-db', '--kind', 'redis', '--host', 'r'], exists), 2);
  assert.match(exists.stderr, /E_RESOURCE_EXISTS/);

  const l = io();
  assert.equal(await run(['resources', 'list', '--json'], l), 0);
  assert.deepEqual(JSON.parse(l.stdout).resources, [{ name: 'orders-db', kind: 'postgres', host: 'db.internal', port: 5432, mode: 'full' }]);
  const s = io();
  assert.equal(await run(['resources', 'show', 'orders-db', '--json'], s), 0, s.stderr);
  const shown = JSON.parse(s.stdout);
  assert.equal(shown.resolved.mode, 'full');
  assert.equal(shown.resolved.clientCertificate, 'CN=app');
  assert.ok(shown.resolved.trustedCertificates > 100, "trust store (Node's roots) + the resource CA");

  const e = io();
  assert.equal(await run(['resources', 'export'], e), 0);
  writeFileSync(join(dir, 'export.yaml'), e.stdout.replace('name: orders-db', 'name: orders-copy'));
  assert.equal(await run(['resources', 'import', 'export.yaml'], io()), 0);
  assert.deepEqual(readdirSync(join(data, 'resources')).sort(), ['orders-copy.yaml', 'orders-db.yaml']);
  // all or nothing: one bad document, nothing written
  writeFileSync(join(dir, 'two.yaml'), 'name: good-one\nkind: redis\nhost: r\n---\nname: bad-one\nkind: redis\nhost: r\ntls:\n  mode: nope\n');
  const bad = io();
  assert.equal(await run(['resources', 'import', 'two.yaml'], bad), 2);
  assert.match(bad.stderr, /^error E_RESOURCE_INVALID: two\.yaml document 2: tls\.mode: expected one of/);
  assert.equal(readdirSync(join(data, 'resources')).length, 2);

  assert.equal(await run(['resources', 'remove', 'orders-copy'], io()), 0);
  assert.deepEqual(readdirSync(join(data, 'resources')), ['orders-db.yaml']);
  // a typo in a hand-edited file is reported with the file and field, and the others still load
  writeFileSync(join(data, 'resources', 'typo.yaml'), 'kind: redis\nhost: r\ntls:\n  sevrername: x\n');
  const l2 = io();
  assert.equal(await run(['resources', 'list'], l2), 1);
  assert.match(l2.stdout, /orders-db/);
  assert.match(l2.stdout, /✗ E_RESOURCE_INVALID: resources\/typo\.yaml: tls\.sevrername: unknown field; did you mean "servername"\?/);
});

test('resources pin --from, then resources test, then the library client', async (t) => {
  const self = await createCertificate({ subject: 'CN=legacy-api.internal', dns: ['legacy-api.internal'] });
  const api = await startHttpsServer({ chain: [self.certPem], key: self.keyPem });
  t.after(() => api.close());
  const { io, data } = setup(t);
  const url = `https://127.0.0.1:${api.port}/v1`;
  assert.equal(await run(['resources', 'add', 'legacy-api', '--kind', 'https', '--url', url], io()), 0);
  const before = io();
  assert.equal(await run(['resources', 'test', 'legacy-api'], before), 1);
  assert.match(before.stdout, /✗ tls +the server's certificate #0 "legacy-api\.internal" is self-signed/);
  assert.match(before.stdout, /fix: pin it on this resource/);
  const noYes = io();
  assert.equal(await run(['resources', 'pin', 'legacy-api'], noYes), 2);
  assert.match(noYes.stderr, /E_CONFIRM/);
  const p = io();
  assert.equal(await run(['resources', 'pin', 'legacy-api', '--yes'], p), 0, p.stderr);
  assert.match(p.stdout, /presents "legacy-api\.internal" \(self-signed-leaf\)/);
  const after = io();
  assert.equal(await run(['resources', 'test', 'legacy-api', '--json'], after), 0, after.stdout);
  const r = JSON.parse(after.stdout);
  assert.deepEqual(
    r.layers.map((l: { layer: string; status: string }) => `${l.layer}:${l.status}`),
    ['dns:skipped', 'tcp:ok', 'tls:ok', 'auth:ok'],
  );
  // The library: options for the app's own client, from the same file.
  const handle = await resourceClient('legacy-api', { dataDir: data, env: {} });
  const { request } = await import('undici');
  const dispatcher = handle.dispatcher();
  const res = await request(url, { dispatcher });
  assert.equal(await res.body.text(), 'ok /v1');
  await dispatcher.close();
  // a different certificate on the same port: the pin refuses it
  const other = await createCertificate({ subject: 'CN=legacy-api.internal', dns: ['legacy-api.internal'] });
  const impostor = await startHttpsServer({ chain: [other.certPem], key: other.keyPem });
  t.after(() => impostor.close());
  writeFileSync(
    join(data, 'resources', 'legacy-api.yaml'),
    readFileSync(join(data, 'resources', 'legacy-api.yaml'), 'utf8').replace(`:${api.port}/`, `:${impostor.port}/`),
  );
  const swapped = io();
  assert.equal(await run(['resources', 'test', 'legacy-api'], swapped), 1);
  assert.match(swapped.stdout, /presents a different certificate than the one pinned/);
});
