/**
 * The storage contract: what every Storage + Locker backend must do. A backend's test file
 * calls storageContract() with a factory; the filesystem backend passes it today, and a
 * PostgreSQL backend must pass the same tests to be a drop-in.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { Locker, Storage } from '../../src/store/storage.ts';

export interface Backend {
  storage: Storage;
  locker: Locker;
  /** A second locker on the same backing store, as another process or node would have. */
  otherLocker: Locker;
  /**
   * Whether releases carry a fence and storeGroup honours a WriteCondition. A backend without
   * fences says why it needs none; the fencing tests are then skipped with that reason.
   */
  fencing: true | { skip: string };
  close(): Promise<void>;
}

export interface BackendOptions {
  /** A short lease, for the tests of a lapsed holder (ms). */
  leaseMs?: number;
}

export function storageContract(name: string, make: (t: { after(fn: () => unknown): void }, options?: BackendOptions) => Promise<Backend>): void {
  const setup = async (t: { after(fn: () => unknown): void }, options?: BackendOptions) => {
    const b = await make(t, options);
    t.after(() => b.close());
    return b;
  };

  test(`${name}: a stored key loads back byte for byte; an absent one is null`, async (t) => {
    const { storage } = await setup(t);
    const bytes = Buffer.from([0, 1, 2, 255, 10, 13]);
    await storage.store('a/b/bin', bytes);
    assert.deepEqual(await storage.load('a/b/bin'), bytes);
    assert.equal(await storage.load('a/b/none'), null);
  });

  test(`${name}: store replaces the whole value`, async (t) => {
    const { storage } = await setup(t);
    await storage.store('k', 'a long first value');
    await storage.store('k', 'short');
    assert.equal((await storage.load('k'))?.toString(), 'short');
  });

  test(`${name}: exists and stat see leaves; stat gives the size`, async (t) => {
    const { storage } = await setup(t);
    await storage.store('dir/leaf', 'four');
    assert.equal(await storage.exists('dir/leaf'), true);
    assert.equal(await storage.exists('dir/nope'), false);
    assert.equal((await storage.stat('dir/leaf'))?.size, 4);
    assert.equal(await storage.stat('dir/nope'), null);
  });

  test(`${name}: list gives a directory's direct children, sorted; recursive every leaf below`, async (t) => {
    const { storage } = await setup(t);
    for (const k of ['d/b', 'd/a', 'd/sub/x', 'd/sub/deeper/y', 'other/z']) await storage.store(k, k);
    assert.deepEqual(await storage.list('d', false), ['d/a', 'd/b', 'd/sub']);
    assert.deepEqual(await storage.list('d', true), ['d/a', 'd/b', 'd/sub/deeper/y', 'd/sub/x']);
    assert.deepEqual(await storage.list('absent', true), []);
  });

  test(`${name}: delete removes a key, or a directory with everything under it; absent keys are fine`, async (t) => {
    const { storage } = await setup(t);
    await storage.store('d/a', '1');
    await storage.store('d/sub/b', '2');
    await storage.delete('d/a');
    assert.equal(await storage.load('d/a'), null);
    await storage.delete('d');
    assert.deepEqual(await storage.list('d', true), []);
    await storage.delete('never/was');
  });

  test(`${name}: storeGroup replaces the whole set under a prefix at once`, async (t) => {
    const { storage } = await setup(t);
    await storage.storeGroup('certificates/x', {
      'cert.pem': { value: 'old cert' },
      'key.pem': { value: 'old key', private: true },
      extra: { value: 'gone later' },
    });
    await storage.storeGroup('certificates/x', { 'cert.pem': { value: 'new cert' }, 'key.pem': { value: 'new key', private: true } });
    assert.equal((await storage.load('certificates/x/cert.pem'))?.toString(), 'new cert');
    assert.equal((await storage.load('certificates/x/key.pem'))?.toString(), 'new key');
    assert.equal(await storage.load('certificates/x/extra'), null, 'the old set is replaced, not merged');
    assert.deepEqual(await storage.list('certificates', false), ['certificates/x']);
  });

  test(`${name}: readers during storeGroup never see a key missing or half written`, async (t) => {
    const { storage } = await setup(t);
    // Each version's values are one digit repeated: a torn write would mix digits or cut it short.
    const value = (i: number) => String(i % 10).repeat(64 * 1024);
    await storage.storeGroup('g', { a: { value: value(0) }, b: { value: value(0) } });
    let stop = false;
    const bad: string[] = [];
    const reader = (async () => {
      while (!stop) {
        for (const key of ['g/a', 'g/b']) {
          const v = (await storage.load(key))?.toString();
          if (v === undefined) bad.push(`${key} missing`);
          else if (v.length !== 64 * 1024 || v !== (v[0] as string).repeat(v.length)) bad.push(`${key} torn (${v.length} bytes)`);
        }
      }
    })();
    for (let i = 1; i <= 30; i++) await storage.storeGroup('g', { a: { value: value(i) }, b: { value: value(i) } });
    stop = true;
    await reader;
    assert.deepEqual(bad.slice(0, 3), []);
    assert.equal((await storage.load('g/a'))?.toString()[0], '0', 'the last version (30) is what stays');
  });

  test(`${name}: delete of a group removes all of it`, async (t) => {
    const { storage } = await setup(t);
    await storage.storeGroup('certificates/y', { a: { value: '1' }, b: { value: '2' } });
    await storage.delete('certificates/y');
    assert.equal(await storage.load('certificates/y/a'), null);
    assert.deepEqual(await storage.list('certificates', true), []);
  });

  test(`${name}: append adds lines in order, concurrent appends do not interleave`, async (t) => {
    const { storage } = await setup(t);
    await Promise.all(Array.from({ length: 50 }, (_, i) => storage.append('log/x.jsonl', `${JSON.stringify({ i, pad: 'x'.repeat(200) })}\n`)));
    const lines = (await storage.load('log/x.jsonl'))?.toString().trim().split('\n') ?? [];
    assert.equal(lines.length, 50);
    assert.deepEqual(
      lines.map((l) => (JSON.parse(l) as { i: number }).i).sort((a, b) => a - b),
      Array.from({ length: 50 }, (_, i) => i),
    );
  });

  test(`${name}: keys with traversal or odd characters are refused`, async (t) => {
    const { storage } = await setup(t);
    for (const bad of ['../x', 'a/../../b', '/abs', 'a//b', 'a/b c', '']) await assert.rejects(storage.store(bad, 'x'), /not a safe path/, bad);
  });

  test(`${name}: checkWritable passes on a store with room`, async (t) => {
    const { storage } = await setup(t);
    await storage.checkWritable(16 * 1024);
  });

  test(`${name}: tryLock gives the lock once; a second taker gets null until it is released`, async (t) => {
    const { locker, otherLocker } = await setup(t);
    const release = await locker.tryLock('issue:a.example.com');
    assert.ok(release);
    assert.equal(await otherLocker.tryLock('issue:a.example.com'), null);
    assert.ok(await otherLocker.tryLock('issue:b.example.com'), 'other keys are free');
    await release();
    const again = await otherLocker.tryLock('issue:a.example.com');
    assert.ok(again);
    await again();
  });

  test(`${name}: lock waits for the holder, says once who it waits for, then gets the lock`, async (t) => {
    const { locker, otherLocker } = await setup(t);
    const release = await locker.lock('k');
    const waits: unknown[] = [];
    const second = otherLocker.lock('k', { onWait: (h) => waits.push(h) });
    await new Promise((r) => setTimeout(r, 200));
    assert.equal(waits.length, 1);
    assert.equal((waits[0] as { pid: number }).pid, process.pid);
    await release();
    const r2 = await second;
    await r2();
  });

  test(`${name}: a waiting lock gives up when its signal aborts`, async (t) => {
    const { locker, otherLocker } = await setup(t);
    const release = await locker.lock('k');
    t.after(() => release());
    const ac = new AbortController();
    const waiting = otherLocker.lock('k', { signal: ac.signal });
    setTimeout(() => ac.abort(new Error('stop waiting')), 100);
    await assert.rejects(waiting, /stop waiting/);
  });

  const fenced = async (t: { after(fn: () => unknown): void; skip(reason: string): void }, options?: BackendOptions) => {
    const b = await setup(t, options);
    if (b.fencing !== true) {
      t.skip(b.fencing.skip);
      return null;
    }
    return b;
  };

  test(`${name}: every acquisition of a lock has a higher fence than the last, across lockers`, async (t) => {
    const b = await fenced(t);
    if (!b) return;
    const fences: number[] = [];
    for (const l of [b.locker, b.otherLocker, b.locker]) {
      const r = await l.lock('fence-k');
      fences.push(r.fence as number);
      await r();
    }
    assert.ok(
      fences.every((f, i) => Number.isInteger(f) && (i === 0 || f > (fences[i - 1] as number))),
      `fences ${fences}`,
    );
  });

  test(`${name}: a group written under the current holder's fence is written`, async (t) => {
    const b = await fenced(t);
    if (!b) return;
    const r = await b.locker.lock('issue-a');
    await b.storage.storeGroup('certificates/a', { k: { value: 'mine' } }, { lock: 'issue-a', fence: r.fence as number });
    assert.equal((await b.storage.load('certificates/a/k'))?.toString(), 'mine');
    await r();
  });

  test(`${name}: a group write under a fence that is no longer current is refused (E_FENCED); the newer group stays whole`, async (t) => {
    const b = await fenced(t);
    if (!b) return;
    // The old holder's lease is gone (here released; a paused process is test/cluster's case).
    const old = await b.locker.lock('issue-a');
    await old();
    const fence = old.fence as number;
    const fresh = await b.otherLocker.lock('issue-a');
    await b.storage.storeGroup('certificates/a', { cert: { value: 'new cert' }, key: { value: 'new key' } }, { lock: 'issue-a', fence: fresh.fence as number });
    await assert.rejects(
      b.storage.storeGroup('certificates/a', { cert: { value: 'old cert' }, key: { value: 'old key' } }, { lock: 'issue-a', fence }),
      (err: { code?: string }) => err.code === 'E_FENCED',
    );
    assert.equal((await b.storage.load('certificates/a/cert'))?.toString(), 'new cert');
    assert.equal((await b.storage.load('certificates/a/key'))?.toString(), 'new key');
    await fresh();
  });

  test(`${name}: a lease not renewed lapses: another locker takes it, the old holder is told it lost it`, async (t) => {
    const b = await fenced(t, { leaseMs: 300 });
    if (!b) return;
    const held = await b.locker.lock('lease-k');
    assert.equal(await b.otherLocker.tryLock('lease-k'), null, 'held while renewed');
    // Renewed every third of the lease: it stays held well past the lease itself.
    await new Promise((r) => setTimeout(r, 700));
    assert.equal(await b.otherLocker.tryLock('lease-k'), null, 'still held after twice the lease');
    assert.equal(held.lost?.aborted, false);
    await held();
    const next = await b.otherLocker.tryLock('lease-k');
    assert.ok(next && (next.fence as number) > (held.fence as number));
    await next();
  });
}
