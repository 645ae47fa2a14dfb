/**
 * Obtain's bookkeeping: only failures that reached the CA count as attempts; a local mistake
 * (an unreachable CA, a bad setting) pauses the name without spending its five tries; a store
 * that cannot keep the pair (a full disk) refuses before any order is placed.
 */
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import type { AcmeIssuer } from '../../src/acme/issuer.ts';
import { AcmeError } from '../../src/acme/problems.ts';
import { CertgateError } from '../../src/errors.ts';
import { CertManager } from '../../src/manager/manager.ts';
import { createCertificate } from '../../src/pki/generate.ts';
import { FsLocker, FsStore } from '../../src/store/fs.ts';
import { certMeta } from '../../src/store/meta.ts';
import { mountSkip, tinyDisk } from '../helpers/disk.ts';
import { tempDir } from '../helpers/tmp.ts';

/** The CA boundary: counts orders, fails with the given error or issues a generated certificate. */
function issuer(fail: CertgateError | null): { issuer: AcmeIssuer; orders: () => number } {
  let orders = 0;
  const fake = {
    id: fail ? `failing:${fail.code}` : 'working',
    canReplace: () => false,
    issue: async (names: string[]) => {
      orders++;
      if (fail) throw fail;
      const c = await createCertificate({ subject: `CN=${names[0]}`, dns: names });
      return { certPem: c.certPem, keyPem: c.keyPem, meta: certMeta(c.certPem, { name: names[0] as string, names, directory: 'test', keyType: 'ec-p256' }) };
    },
  };
  return { issuer: fake as unknown as AcmeIssuer, orders: () => orders };
}

function manager(root: string, fail: CertgateError | null) {
  const store = new FsStore({ root });
  const i = issuer(fail);
  return { store, orders: i.orders, manager: new CertManager({ store, locker: new FsLocker({ root }), issuers: [i.issuer] }) };
}

test('a failure the CA answered counts as an attempt', async (t) => {
  const m = manager(tempDir(t), new CertgateError('E_ACME_PROBLEM', 'the CA refused', 'fix it'));
  await assert.rejects(m.manager.obtain('a.example.com'), /the CA refused/);
  assert.equal((await m.store.getState('a.example.com')).attempts, 1);
});

test("a refusal carrying the CA's problem document counts, whatever its code (a CAA record: E_DOMAIN_NOT_ALLOWED)", async (t) => {
  const refused = new AcmeError('E_DOMAIN_NOT_ALLOWED', 'CAA forbids this CA', 'add a CAA record for the CA', {
    type: 'urn:ietf:params:acme:error:caa',
    detail: 'CAA record for a.example.com prevents issuance',
  });
  const m = manager(tempDir(t), refused);
  await assert.rejects(m.manager.obtain('a.example.com'), /CAA forbids/);
  assert.equal((await m.store.getState('a.example.com')).attempts, 1);
});

test('a CA that cannot be reached does not spend an attempt; the name pauses briefly instead', async (t) => {
  const m = manager(tempDir(t), new CertgateError('E_ACME_UNREACHABLE', 'connection refused', 'start the CA'));
  for (let i = 0; i < 6; i++) await assert.rejects(m.manager.obtain('a.example.com'), /connection refused/);
  const state = await m.store.getState('a.example.com');
  assert.equal(state.attempts, 0);
  assert.equal(state.flagged, false, 'six local failures do not lock the name out');
  assert.equal(state.lastError?.code, 'E_ACME_UNREACHABLE');
  assert.ok(state.nextAttemptAt && Date.parse(state.nextAttemptAt) > Date.now());
});

test('a data directory that cannot take a file refuses before any order is placed', async (t) => {
  const root = tempDir(t);
  // A file where the data directory should be: nothing can be written under it.
  writeFileSync(join(root, 'blocked'), 'x');
  const blocked = manager(join(root, 'blocked', 'data'), null);
  await assert.rejects(blocked.manager.obtain('a.example.com'), (e: CertgateError) => e.code === 'E_STORE');
  assert.equal(blocked.orders(), 0, 'no order was placed');
});

test('a full disk refuses before any order is placed (nothing ordered, finalised and thrown away)', { skip: mountSkip }, async (t) => {
  const disk = tinyDisk(t, { size: '64k' });
  const m = manager(join(disk, 'data'), null);
  // The lock file fits; a certificate pair does not.
  writeFileSync(join(disk, 'filler'), Buffer.alloc(52 * 1024));
  await assert.rejects(m.manager.obtain('a.example.com'), (e: CertgateError) => e.code === 'E_STORE' && /free disk space/.test(e.fix ?? ''));
  assert.equal(m.orders(), 0);
});

test('another process holding the name: the waiter says whom it waits for, then gets it', async (t) => {
  const root = tempDir(t);
  const held = await new FsLocker({ root }).lock('issue-a.example.com');
  const waits: string[] = [];
  const store = new FsStore({ root });
  const m = new CertManager({
    store,
    locker: new FsLocker({ root, pollMs: 20 }),
    issuers: [issuer(null).issuer],
    onLockWait: (name, h) => waits.push(`${name} ${h?.pid}`),
  });
  const obtaining = m.obtain('a.example.com');
  await new Promise((r) => setTimeout(r, 200));
  assert.deepEqual(waits, [`a.example.com ${process.pid}`]);
  await held();
  assert.equal((await obtaining).issued, true);
});

test("a name's issuers are tried in turn: the second issues when the first fails, and nothing is counted", async (t) => {
  const root = tempDir(t);
  const store = new FsStore({ root });
  const first = issuer(new CertgateError('E_ACME_PROBLEM', 'the first CA refused', 'fix it'));
  const second = issuer(null);
  const m = new CertManager({ store, locker: new FsLocker({ root }), issuers: [first.issuer, second.issuer] });
  const r = await m.obtain('a.example.com');
  assert.equal(r.issued, true);
  assert.deepEqual([first.orders(), second.orders()], [1, 1]);
  assert.equal((await store.getState('a.example.com')).attempts, 0);
  const failed = (await store.readEvents('a.example.com')).find((e) => e.type === 'cert_failed');
  assert.equal(failed?.data?.issuer, 'failing:E_ACME_PROBLEM');
});
