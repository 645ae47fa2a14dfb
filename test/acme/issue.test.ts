/**
 * Issuance against a real ACME CA: Debian's pebble with pebble-challtestsrv as its DNS, on
 * loopback. Each challenge type is answered by certgate's own responders.
 */
import assert from 'node:assert/strict';
import { readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { AcmeIssuer } from '../../src/acme/issuer.ts';
import { inspect } from '../../src/diagnostics/inspect.ts';
import type { CertgateError } from '../../src/errors.ts';
import { decodeCertificate } from '../../src/pki/certificate.ts';
import { parseCertificates } from '../../src/pki/parse.ts';
import { startPebble } from '../helpers/pebble.ts';
import { startTlsServer } from '../helpers/servers.ts';
import { name, rig } from './helpers.ts';

const pebble = await startPebble();
test.after(() => pebble.close());
const dnsHook = `node ${join(import.meta.dirname, '..', 'helpers', 'dns-hook.mjs')}`;

async function verifyServed(certPem: string, keyPem: string, servername: string, t: { after(fn: () => unknown): void }) {
  const root = parseCertificates(Buffer.from(await pebble.issuingRoot()));
  const blocks = certPem.split(/(?=-----BEGIN CERTIFICATE-----)/);
  const server = await startTlsServer({ chain: blocks, key: keyPem });
  t.after(() => server.close());
  return inspect(`127.0.0.1:${server.port}`, { servername, ca: root, systemRoots: false });
}

for (const type of ['http-01', 'tls-alpn-01'] as const) {
  test(`${type}: a certificate with a valid chain, stored as a pair with the key 0600`, async (t) => {
    const r = await rig(pebble, { challenges: [type] });
    t.after(() => r.close());
    const host = name(type.replace(/-/g, ''));
    const result = await r.manager.obtain(host);
    assert.equal(result.issued, true);
    const served = await verifyServed(result.bundle.certPem, result.bundle.keyPem, host, t);
    assert.equal(served.status, 'ok', JSON.stringify(served.findings));
    const files = r.store.filePaths(host);
    assert.equal(statSync(files.key).mode & 0o777, 0o600);
    const leaf = decodeCertificate(parseCertificates(readFileSync(files.fullchain))[0]?.der ?? Buffer.alloc(0));
    assert.deepEqual(leaf.info.subjectAltNames.dns, [host]);
    assert.equal(leaf.info.publicKey.curve, 'P-256');
    const events = (await r.store.readEvents(host)).map((e) => e.type);
    assert.deepEqual(events, ['cert_obtaining', 'cert_obtained']);
    // Asked again: the store answers, the CA is not asked.
    const again = await r.manager.obtain(host);
    assert.equal(again.issued, false);
    assert.equal(again.bundle.meta.serialNumber, result.bundle.meta.serialNumber);
  });
}

test('dns-01 through the hook: a wildcard certificate', async (t) => {
  const r = await rig(pebble, { challenges: ['dns-01'], dnsHook, env: { ...process.env, CHALLTESTSRV: pebble.challtestsrvUrl } });
  t.after(() => r.close());
  const base = name('wild');
  const result = await r.manager.obtain(`*.${base}`);
  const leaf = decodeCertificate(parseCertificates(Buffer.from(result.bundle.certPem))[0]?.der ?? Buffer.alloc(0));
  assert.deepEqual(leaf.info.subjectAltNames.dns, [`*.${base}`]);
  const served = await verifyServed(result.bundle.certPem, result.bundle.keyPem, `anything.${base}`, t);
  assert.equal(served.status, 'ok', JSON.stringify(served.findings));
});

test('RSA and P-384 keys on request', async (t) => {
  const r = await rig(pebble, { keyType: 'ec-p384' });
  t.after(() => r.close());
  const a = await r.issuer.issue([name('p384')]);
  assert.equal(decodeCertificate(parseCertificates(Buffer.from(a.certPem))[0]?.der ?? Buffer.alloc(0)).info.publicKey.curve, 'P-384');
  const b = await r.issuer.issue([name('rsa')], { keyType: 'rsa-2048' });
  assert.equal(decodeCertificate(parseCertificates(Buffer.from(b.certPem))[0]?.der ?? Buffer.alloc(0)).info.publicKey.bits, 2048);
});

test('concurrent requests for one name share one issuance', async (t) => {
  const r = await rig(pebble);
  t.after(() => r.close());
  const host = name('shared');
  const [a, b, c] = await Promise.all([r.manager.obtain(host), r.manager.obtain(host), r.manager.obtain(host)]);
  assert.equal(a.bundle.meta.serialNumber, b.bundle.meta.serialNumber);
  assert.equal(b.bundle.meta.serialNumber, c.bundle.meta.serialNumber);
  assert.equal((await r.store.readEvents(host)).filter((e) => e.type === 'cert_obtaining').length, 1);
});

test('a validation that fails: the problem kept whole and explained, attempts counted, nothing stored', async (t) => {
  const r = await rig(pebble, { responder: false });
  t.after(() => r.close());
  const host = name('nobody-home');
  await assert.rejects(r.manager.obtain(host), (err: CertgateError & { problem?: { type: string; detail: string } }) => {
    assert.equal(err.code, 'E_ACME_CHALLENGE');
    assert.equal(err.problem?.type, 'urn:ietf:params:acme:error:connection');
    assert.match(err.problem?.detail ?? '', /connect|refused/i);
    // The port the CA used (Pebble validates on its own high port), not a guessed 80.
    assert.match(err.message, new RegExp(`could not reach port ${pebble.httpPort} `));
    assert.match(err.fix ?? '', new RegExp(`open port ${pebble.httpPort} `));
    return true;
  });
  assert.equal(await r.store.getBundle(host), null);
  const state = await r.store.getState(host);
  assert.equal(state.attempts, 1);
  assert.equal(state.lastError?.code, 'E_ACME_CHALLENGE');
  assert.ok(state.nextAttemptAt && Date.parse(state.nextAttemptAt) > r.clock.now.getTime());
  const types = (await r.store.readEvents(host)).map((e) => e.type);
  assert.deepEqual(types, ['cert_obtaining', 'cert_failed', 'renewal_scheduled']);
});

test('a CA that is down: a clear error, and the stored certificate is untouched', async (t) => {
  const r = await rig(pebble);
  t.after(() => r.close());
  const host = name('ca-down');
  const first = await r.manager.obtain(host);
  await pebble.stop();
  try {
    const other = new AcmeIssuer({ directory: pebble.directoryUrl, caRootPem: pebble.tlsCaPem, agreeToTerms: true, store: r.store, answers: r.answers });
    await assert.rejects(other.issue([name('x')]), (err: CertgateError) => err.code === 'E_ACME_UNREACHABLE' && /cannot be reached/.test(err.message));
    await assert.rejects(r.manager.obtain(host, { force: true }), (err: CertgateError) => err.code === 'E_ACME_UNREACHABLE');
    const still = await r.store.getBundle(host);
    assert.equal(still?.meta.serialNumber, first.bundle.meta.serialNumber);
    assert.equal(still?.keyPem, first.bundle.keyPem);
  } finally {
    await pebble.restart();
  }
});

test('bad configuration is refused before anything is asked or written', async (t) => {
  const r = await rig(pebble);
  t.after(() => r.close());
  const base = { store: r.store, answers: r.answers, agreeToTerms: true };
  const codeOf = (fn: () => unknown) => {
    try {
      fn();
    } catch (e) {
      return (e as CertgateError).code;
    }
    return 'none';
  };
  assert.equal(
    codeOf(() => new AcmeIssuer({ ...base, directory: 'letsencrypt' })),
    'E_ACME_EMAIL',
  );
  assert.equal(
    codeOf(() => new AcmeIssuer({ ...base, directory: 'letsencrypt', email: 'not-an-email' })),
    'E_ACME_EMAIL',
  );
  assert.equal(
    codeOf(() => new AcmeIssuer({ ...base, directory: 'http://plain.example/dir' })),
    'E_ACME_CONFIG',
  );
  assert.equal(
    codeOf(() => new AcmeIssuer({ ...base, directory: 'not a url' })),
    'E_ACME_CONFIG',
  );
  assert.equal(
    codeOf(() => new AcmeIssuer({ ...base, directory: pebble.directoryUrl, agreeToTerms: false })),
    'E_ACME_CONFIG',
  );
  const warnings: string[] = [];
  new AcmeIssuer({ ...base, directory: 'letsencrypt', email: 'certs@appwrite.io', onWarning: (w) => warnings.push(w) });
  assert.match(warnings[0] ?? '', /looks like a placeholder/);
  // a directory that is not ACME
  const wrong = new AcmeIssuer({ ...base, directory: `${pebble.managementUrl}/roots/0`, caRootPem: pebble.tlsCaPem });
  await assert.rejects(wrong.issue([name()]), (e: CertgateError) => ['E_ACME_CONFIG', 'E_ACME_PROBLEM'].includes(e.code));
  // a directory whose HTTPS certificate nobody trusts
  const { createCertificate } = await import('../../src/pki/generate.ts');
  const self = await createCertificate({ subject: 'CN=127.0.0.1', ip: ['127.0.0.1'] });
  const stranger = await startTlsServer({ chain: [self.certPem], key: self.keyPem });
  t.after(() => stranger.close());
  const untrusted = new AcmeIssuer({ ...base, directory: `https://127.0.0.1:${stranger.port}/dir` });
  await assert.rejects(untrusted.issue([name()]), (e: CertgateError) => e.code === 'E_ACME_UNREACHABLE' && /CERTGATE_ACME_CA_ROOT/.test(e.fix ?? ''));
});

test('the manager bounds issuance concurrency and spends the account order budget, then holds back', async (t) => {
  const r = await rig(pebble);
  t.after(() => r.close());
  const { CertManager } = await import('../../src/manager/manager.ts');
  let inFlight = 0;
  let most = 0;
  const counting = Object.create(r.issuer) as typeof r.issuer;
  counting.issue = async (...args: Parameters<typeof r.issuer.issue>) => {
    inFlight++;
    most = Math.max(most, inFlight);
    try {
      return await r.issuer.issue(...args);
    } finally {
      inFlight--;
    }
  };
  const manager = new CertManager({
    store: r.store,
    locker: r.locker,
    issuers: [counting],
    concurrency: 2,
    ordersPerAccount: { capacity: 5, periodMs: 3 * 3600_000 },
  });
  const hosts = Array.from({ length: 5 }, () => name('bounded'));
  await Promise.all(hosts.map((h) => manager.obtain(h)));
  assert.equal(most, 2, 'never more than 2 orders in flight');
  await assert.rejects(
    manager.obtain(name('over')),
    (e: CertgateError) => e.code === 'E_ACME_RATE_LIMITED' && /holds back/.test(e.message) && /wait until/.test(e.fix ?? ''),
  );
});
