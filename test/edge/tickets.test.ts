/**
 * TLS session ticket keys shared through the store: one process rotates them under the lock,
 * every serving process reads them, so a ticket resumes on any worker and on any process sharing
 * the data directory. A rotation costs one full handshake to a ticket issued under the old key.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { type TLSSocket, connect as tlsConnect } from 'node:tls';
import { TICKET_KEYS_KEY, TicketKeys } from '../../src/edge/tickets.ts';
import type { CertgateError } from '../../src/errors.ts';
import { ARMOR_BEGIN, Keyring, parseStoreKey } from '../../src/store/crypt.ts';
import { FsLocker, FsStorage } from '../../src/store/fs.ts';
import { rekeyStore } from '../../src/store/rekey.ts';
import { Repository } from '../../src/store/repository.ts';
import { freePort } from '../helpers/daemons.ts';
import { tempDir } from '../helpers/tmp.ts';
import { startEdge, startServe, waitFor } from './helpers.ts';

interface Visit {
  reused: boolean;
  session: Buffer | undefined;
  body: string;
}

/** One TLS connection (offering `session`), one GET `path`, then close; the newest ticket the server sent. */
function visit(port: number, ca: string, path: string, session?: Buffer): Promise<Visit> {
  return new Promise((resolve, reject) => {
    let latest: Buffer | undefined;
    const s: TLSSocket = tlsConnect(
      { port, host: '127.0.0.1', servername: 'localhost', ca: [ca], ALPNProtocols: ['http/1.1'], ...(session ? { session } : {}) },
      () => s.write(`GET ${path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n`),
    );
    s.on('session', (t) => {
      latest = t;
    });
    let body = '';
    s.on('data', (d) => {
      body += d;
    });
    s.on('end', () => resolve({ reused: s.isSessionReused(), session: latest, body }));
    s.on('error', reject);
    s.setTimeout(10_000, () => s.destroy(new Error('timed out')));
  });
}

function childrenOf(pid: number): number[] {
  try {
    return readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim().split(/\s+/).filter(Boolean).map(Number);
  } catch {
    return [];
  }
}

test('rotate writes a current and a next key (0600) once; the next takes over at its time and a new next is written', async (t) => {
  const dir = tempDir(t);
  let now = Date.parse('2030-01-01T00:00:00Z');
  const storage = new FsStorage({ root: dir });
  const keys = new TicketKeys({ storage, locker: new FsLocker({ root: dir }), rotateMs: 3600_000, leadMs: 600_000, clock: () => now });
  assert.equal(await keys.rotate(), true);
  assert.equal(statSync(storage.pathOf(TICKET_KEYS_KEY)).mode & 0o777, 0o600);
  const first = keys.current();
  assert.ok(first);
  assert.equal(first.key.length, 48);
  assert.equal(keys.nextChangeAt(), now + 3600_000);
  assert.equal(await keys.rotate(), false, 'nothing to do until the next key takes over');

  const reader = new TicketKeys({ storage, clock: () => now });
  await reader.load();
  assert.deepEqual(reader.current()?.key, first.key, 'a reader uses the same key');

  now += 3600_000;
  assert.notDeepEqual(reader.current()?.key, first.key, 'the reader switches at the scheduled time, without reading again');
  const second = reader.current();
  assert.equal(await keys.rotate(), true);
  assert.deepEqual(keys.current()?.key, second?.key);
  assert.equal(keys.nextChangeAt(), now + 3600_000);
  const stored = JSON.parse(readFileSync(storage.pathOf(TICKET_KEYS_KEY), 'utf8')) as { keys: unknown[] };
  assert.equal(stored.keys.length, 2, 'the old key is dropped: Node cannot decrypt with it anyway');
});

test('a key left for longer than its period is replaced no sooner than the lead time', async (t) => {
  const dir = tempDir(t);
  let now = Date.parse('2030-01-01T00:00:00Z');
  const storage = new FsStorage({ root: dir });
  const keys = new TicketKeys({ storage, locker: new FsLocker({ root: dir }), rotateMs: 3600_000, leadMs: 600_000, clock: () => now });
  await keys.rotate();
  now += 5 * 3600_000; // nobody rotated meanwhile: the "next" key became current 4 h ago
  await keys.rotate();
  assert.ok(keys.current(), 'the old next key serves meanwhile');
  assert.equal(keys.nextChangeAt(), now + 600_000, 'its successor takes over after the lead time, not at once');
});

test('after a rotation a ticket under the old key gets a full handshake once; the new ticket resumes', async (t) => {
  const dir = tempDir(t);
  let now = Date.now();
  const storage = new FsStorage({ root: join(dir, 'data') });
  const keys = new TicketKeys({ storage, locker: new FsLocker({ root: join(dir, 'data') }), rotateMs: 3600_000, leadMs: 600_000, clock: () => now });
  await keys.rotate();
  const logs: string[] = [];
  const { edge, https, caPem } = await startEdge(dir, { ticketKeys: keys, log: (e) => logs.push(e.msg) });
  t.after(() => edge.close());
  const a = await visit(https, caPem, '/a');
  const b = await visit(https, caPem, '/b', a.session);
  assert.equal(b.reused, true, 'resumed under the first key');
  now += 3600_000;
  await edge.refreshTickets();
  const c = await visit(https, caPem, '/c', b.session);
  assert.equal(c.reused, false, 'a ticket under the old key: full handshake');
  const d = await visit(https, caPem, '/d', c.session);
  assert.equal(d.reused, true, 'the ticket from that handshake resumes');
  assert.equal(logs.filter((m) => /^TLS session ticket key [0-9a-f]{8} in use$/.test(m)).length, 2);
  const secret = keys.current()?.key.toString('base64') as string;
  assert.ok(!logs.some((m) => m.includes(secret)), 'never a key in the log');
});

test('serve --workers 2: a client resumes on both workers, more than 95% of its handshakes', { timeout: 90_000 }, async (t) => {
  const dir = tempDir(t);
  const [https, http] = [await freePort(), await freePort()];
  const s = startServe(['--workers', '2', '--access-log', '--https-port', String(https), '--http-port', String(http), '--host', '127.0.0.1'], {
    CERTGATE_DATA: join(dir, 'data'),
  });
  t.after(() => {
    for (const pid of childrenOf(s.child.pid as number)) process.kill(pid, 'SIGKILL');
    if (s.child.exitCode === null) s.child.kill('SIGKILL');
  });
  await waitFor(() => s.err().includes('trust it:'), 'the banner', 30_000);
  const ca = readFileSync(join(dir, 'data', 'local-ca', 'root.pem'), 'utf8');
  // Connections from four clients at once, so that the kernel hands them to both workers.
  const N = 50;
  const results: Array<{ path: string; reused: boolean }> = [];
  await Promise.all(
    [0, 1, 2, 3].map(async (c) => {
      let session = (await visit(https, ca, `/c${c}-first`)).session;
      for (let i = 0; i < N; i++) {
        const v = await visit(https, ca, `/c${c}-${i}`, session);
        results.push({ path: `/c${c}-${i}`, reused: v.reused });
        session = v.session ?? session;
      }
    }),
  );
  await waitFor(() => (s.out().match(/\n/g) ?? []).length >= results.length + 4, 'the access log entries');
  const workerOf = new Map<string, number>();
  for (const line of s.out().trim().split('\n')) {
    const e = JSON.parse(line) as { path: string; worker: number };
    workerOf.set(e.path, e.worker);
  }
  const reused = results.filter((r) => r.reused);
  assert.ok(reused.length / results.length > 0.95, `${reused.length} of ${results.length} resumed`);
  const byWorker = new Set(reused.map((r) => workerOf.get(r.path)));
  assert.equal(byWorker.size, 2, `resumed handshakes on both workers (${[...byWorker].join(', ')})`);
  s.child.kill('SIGTERM');
  assert.equal(await s.exited, 0);
});

test('a ticket from one serve process resumes on another serve process sharing the data directory', { timeout: 60_000 }, async (t) => {
  const dir = tempDir(t);
  const data = join(dir, 'data');
  const one = await freePort();
  const a = startServe(['--https-port', String(one), '--http-port', String(await freePort()), '--host', '127.0.0.1'], { CERTGATE_DATA: data });
  t.after(() => {
    if (a.child.exitCode === null) a.child.kill('SIGKILL');
  });
  await waitFor(() => a.err().includes('trust it:'), 'the first banner', 30_000);
  const two = await freePort();
  const b = startServe(['--https-port', String(two), '--http-port', String(await freePort()), '--host', '127.0.0.1'], { CERTGATE_DATA: data });
  t.after(() => {
    if (b.child.exitCode === null) b.child.kill('SIGKILL');
  });
  await waitFor(() => b.err().includes('trust it:'), 'the second banner', 30_000);
  const ca = readFileSync(join(data, 'local-ca', 'root.pem'), 'utf8');
  const first = await visit(one, ca, '/on-one');
  const other = await visit(two, ca, '/on-two', first.session);
  assert.equal(other.reused, true, 'resumed on the other process');
  const fresh = await visit(two, ca, '/fresh-on-two');
  const back = await visit(one, ca, '/back', fresh.session);
  assert.equal(back.reused, true, 'and the other way round');
  const keyLine = /TLS session ticket key ([0-9a-f]{8}) in use/;
  assert.equal(keyLine.exec(a.err())?.[1], keyLine.exec(b.err())?.[1], 'both say the same key id');
  a.child.kill('SIGTERM');
  b.child.kill('SIGTERM');
  assert.deepEqual(await Promise.all([a.exited, b.exited]), [0, 0]);
});

test('rotate while another process holds the lock: reads what is stored, writes nothing', async (t) => {
  const dir = tempDir(t);
  const storage = new FsStorage({ root: dir });
  const locker = new FsLocker({ root: dir });
  const writer = new TicketKeys({ storage, locker });
  await writer.rotate();
  const held = await locker.tryLock('ticket-keys');
  assert.ok(held);
  t.after(() => held());
  const other = new TicketKeys({ storage, locker });
  assert.equal(await other.rotate(), false);
  assert.deepEqual(other.current()?.key, writer.current()?.key, 'it uses the stored key');
});

test('with a store key the ticket keys are sealed at rest; the same key reads them, another is refused, and store rekey moves them', async (t) => {
  const dir = tempDir(t);
  const storage = new FsStorage({ root: dir });
  const locker = new FsLocker({ root: dir });
  const codecOf = (ring: Keyring) => ({
    seal: (text: string) => ring.seal('tickets', 'tickets', text),
    open: (text: string) => ring.open('tickets', 'tickets', text, TICKET_KEYS_KEY),
  });
  const k1 = parseStoreKey(randomBytes(32).toString('hex'));
  const ring1 = new Keyring({ current: k1 });
  const writer = new TicketKeys({ storage, locker, codec: codecOf(ring1) });
  assert.equal(await writer.rotate(), true);
  const raw = readFileSync(storage.pathOf(TICKET_KEYS_KEY), 'utf8');
  assert.ok(raw.startsWith(ARMOR_BEGIN), 'an envelope, not JSON');
  assert.ok(!raw.includes(writer.current()?.key.toString('base64') ?? '-'), 'the key is not readable in the file');
  const reader = new TicketKeys({ storage, codec: codecOf(ring1) });
  await reader.load();
  assert.deepEqual(reader.current()?.key, writer.current()?.key);
  const stranger = new TicketKeys({ storage, codec: codecOf(new Keyring({ current: parseStoreKey(randomBytes(32).toString('hex')) })) });
  await assert.rejects(stranger.load(), (e: CertgateError) => e.code === 'E_STORE_KEY_WRONG');

  const k2 = parseStoreKey(randomBytes(32).toString('hex'));
  const report = await rekeyStore({ repository: new Repository(storage), locker, from: [k1], to: k2 });
  assert.deepEqual(report.tickets, { total: 1, rewritten: 1, unchanged: 0 });
  const after = new TicketKeys({ storage, codec: codecOf(new Keyring({ current: k2 })) });
  await after.load();
  assert.deepEqual(after.current()?.key, writer.current()?.key, 'the same ticket key, under the new store key');
});
