import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { runDoctor } from '../../src/doctor/index.ts';
import { FsStore } from '../../src/store/fs.ts';
import { type Pebble, startPebble } from '../helpers/pebble.ts';
import { settings } from '../helpers/settings.ts';
import { tempDir } from '../helpers/tmp.ts';
import { dns, only, resolverFor } from './helpers.ts';

// Records live in challtestsrv's DNS; every name not given one answers A 127.0.0.1, no AAAA.
let pebble: Pebble;
before(async () => {
  pebble = await startPebble();
});
after(() => pebble.close());

const HOST = ['127.0.0.1', '2001:db8::10'];

function doctor(data: string, domain: string, id: string, over: Parameters<typeof settings>[1] = {}) {
  return runDoctor(settings(data, { domain, acmeAgreeTos: true, acmeEmail: 'ops@certgate.dev', ...over }), {
    only: [id],
    resolver: resolverFor(pebble),
    hostAddresses: HOST,
  });
}

test('dns-address: an A record pointing here passes', async (t) => {
  const c = only(await doctor(tempDir(t), 'here.certgate.dev', 'dns-address'), 'dns-address:here.certgate.dev');
  assert.equal(c.status, 'pass');
  assert.match(c.detail, /A 127\.0\.0\.1/);
});

test('dns-address: an A record pointing at another machine fails with the record to set', async (t) => {
  await dns.a(pebble, 'elsewhere.certgate.dev', ['192.0.2.7']);
  const c = only(await doctor(tempDir(t), 'elsewhere.certgate.dev', 'dns-address'), 'dns-address:elsewhere.certgate.dev');
  assert.equal(c.status, 'fail');
  assert.match(c.detail, /192\.0\.2\.7: not this host/);
  assert.match(c.fix ?? '', /point elsewhere\.certgate\.dev at this host \(A 127\.0\.0\.1, AAAA 2001:db8::10\)/);
});

test('dns-address: A here but AAAA elsewhere warns (only IPv4 matches)', async (t) => {
  await dns.aaaa(pebble, 'half.certgate.dev', ['2001:db8::99']);
  const c = only(await doctor(tempDir(t), 'half.certgate.dev', 'dns-address'), 'dns-address:half.certgate.dev');
  assert.equal(c.status, 'warn');
  assert.match(c.detail, /only the IPv4 records point here/);
  assert.match(c.fix ?? '', /AAAA at 2001:db8::10, or remove the AAAA record/);
});

test('dns-address: every registered custom domain is checked', async (t) => {
  const data = tempDir(t);
  const store = new FsStore({ root: data });
  await store.putDocument('domains', { main: null, mainSource: null, custom: [{ name: 'custom.certgate.dev', addedAt: new Date().toISOString() }] });
  const r = await doctor(data, 'main.certgate.dev', 'dns-address');
  assert.deepEqual(
    r.checks.map((c) => c.id),
    ['dns-address:main.certgate.dev', 'dns-address:custom.certgate.dev'],
  );
});

test("caa: no CAA record lets Let's Encrypt issue", async (t) => {
  const c = only(await doctor(tempDir(t), 'nocaa.certgate.dev', 'caa'), 'caa:nocaa.certgate.dev');
  assert.equal(c.status, 'pass');
});

test('caa: a record for letsencrypt.org passes (found on the parent)', async (t) => {
  await dns.caa(pebble, 'le-ok.dev', [{ tag: 'issue', value: 'letsencrypt.org' }]);
  const c = only(await doctor(tempDir(t), 'app.le-ok.dev', 'caa'), 'caa:app.le-ok.dev');
  assert.equal(c.status, 'pass');
  assert.match(c.detail, /CAA at le-ok\.dev allows letsencrypt\.org/);
});

test("caa: a record that allows only sectigo.com fails for Let's Encrypt with the record to add", async (t) => {
  await dns.caa(pebble, 'sectigo-only.certgate.dev', [{ tag: 'issue', value: 'sectigo.com' }]);
  const c = only(await doctor(tempDir(t), 'sectigo-only.certgate.dev', 'caa'), 'caa:sectigo-only.certgate.dev');
  assert.equal(c.status, 'fail');
  assert.match(c.detail, /allows only sectigo\.com/);
  assert.match(c.fix ?? '', /0 issue "letsencrypt\.org"/);
});

test('caa: the same record passes for ZeroSSL (sectigo.com)', async (t) => {
  await dns.caa(pebble, 'zero.certgate.dev', [{ tag: 'issue', value: 'sectigo.com' }]);
  const c = only(await doctor(tempDir(t), 'zero.certgate.dev', 'caa', { acmeDirectory: 'zerossl' }), 'caa:zero.certgate.dev');
  assert.equal(c.status, 'pass');
});
