/**
 * Bundles for other runtimes leave out expired certificates. The clock is injected: "now" is
 * set just past the earliest notAfter among Node's bundled roots, so some root is expired then,
 * whatever today's date.
 */
import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { rootCertificates } from 'node:tls';
import { run } from '../../src/cli/run.ts';
import { exportBundle, writeEnvFiles } from '../../src/trust/export.ts';
import type { TrustSet } from '../../src/trust/store.ts';
import { fakeIo } from '../helpers/io.ts';
import { tempDir } from '../helpers/tmp.ts';

const byExpiry = [...rootCertificates].map((pem) => ({ pem, notAfter: Date.parse(new X509Certificate(pem).validTo) })).sort((a, b) => a.notAfter - b.notAfter);
const earliest = byExpiry[0] as { pem: string; notAfter: number };
const now = new Date(earliest.notAfter + 1000);
const expiredThen = byExpiry.filter((r) => r.notAfter < now.getTime());
const body = (pem: string) => pem.replace(/-----[^-]+-----|\s+/g, '');

const set: TrustSet = { version: 1, entries: [], problems: [], ca: [...rootCertificates], extra: [], loadedAt: new Date() };

test('trust export leaves out the roots expired at "now" and says how many', () => {
  const r = exportBundle(set, { now });
  assert.ok(expiredThen.length >= 1);
  assert.equal(r.expired.length, expiredThen.length);
  assert.equal(r.count, rootCertificates.length - expiredThen.length);
  assert.equal(r.pem.match(/BEGIN CERTIFICATE/g)?.length, r.count);
  assert.equal(body(r.pem).includes(body(earliest.pem)), false, 'the expired root is not in the bundle');
  assert.equal(r.expired[0]?.notAfter, new Date(earliest.notAfter).toISOString());
});

test('trust env writes its bundles without the roots expired at "now" and lists them', async (t) => {
  const dir = tempDir(t);
  const r = await writeEnvFiles(set, dir, { now });
  assert.equal(r.expired.length, expiredThen.length);
  const bundle = readFileSync(r.bundle, 'utf8');
  assert.equal(bundle.match(/BEGIN CERTIFICATE/g)?.length, rootCertificates.length - expiredThen.length);
  assert.equal(body(bundle).includes(body(earliest.pem)), false);
});

test('trust export --out into a directory that does not exist is refused, and nothing is created', async (t) => {
  const dir = tempDir(t);
  const io = fakeIo({ cwd: dir, env: { CERTGATE_DATA: join(dir, 'data') } });
  assert.equal(await run(['trust', 'export', '--out', join(dir, 'nope', 'deeper', 'x.pem')], io), 2);
  assert.match(io.stderr, /^error E_FILE_NOT_FOUND: --out .*does not exist/);
  assert.equal(existsSync(join(dir, 'nope')), false);
});
