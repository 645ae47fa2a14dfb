/**
 * `certgate serve --workers N`: a primary and N worker processes on shared ports. Requests are
 * served by the workers; SIGHUP reaches them all; a worker that dies is replaced; SIGTERM
 * drains them and exits 0; a busy port is one error line. With ACME, an HTTP-01 answer is
 * shared through the data directory, so the CA's request may reach any worker.
 */
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { createServer as createHttpServer, request as httpRequest, type IncomingMessage, type ServerResponse } from 'node:http';
import { createServer as createNetServer } from 'node:net';
import { join } from 'node:path';
import { test } from 'node:test';
import { connect as tlsConnect } from 'node:tls';
import { ChallengeAnswers } from '../../src/acme/challenges.ts';
import { name } from '../acme/helpers.ts';
import { freePort } from '../helpers/daemons.ts';
import { pebbleFlags, startPebble } from '../helpers/pebble.ts';
import { tempDir } from '../helpers/tmp.ts';
import { httpsGet, startServe, startUpstream, waitFor } from './helpers.ts';

const get = async (port: number, ca: string) => (await httpsGet(port, '/', ca)).status;

function childrenOf(pid: number): number[] {
  try {
    return readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim().split(/\s+/).filter(Boolean).map(Number);
  } catch {
    return [];
  }
}

test('serve --workers 2: served by worker processes; SIGHUP reaches each; a dead worker is replaced; SIGTERM drains and exits 0', {
  timeout: 90_000,
}, async (t) => {
  const dir = tempDir(t);
  const [a, b] = [await startUpstream(), await startUpstream()];
  t.after(() => Promise.all([a.close(), b.close()]));
  const [https, http] = [await freePort(), await freePort()];
  const config = join(dir, 'certgate.yaml');
  const write = (upstream: string) => writeFileSync(config, `upstream: ${upstream}\nworkers: 2\nlisten: { https: ${https}, http: ${http}, host: 127.0.0.1 }\n`);
  write(a.url);
  const s = startServe(['--config', config], { CERTGATE_DATA: join(dir, 'data') });
  t.after(() => {
    for (const pid of childrenOf(s.child.pid as number)) process.kill(pid, 'SIGKILL');
    if (s.child.exitCode === null) s.child.kill('SIGKILL');
  });
  await waitFor(() => s.err().includes('trust it:'), 'the banner');
  assert.match(s.err(), /2 worker processes/);
  const workers = childrenOf(s.child.pid as number);
  assert.equal(workers.length, 2, 'two worker processes under the primary');
  const ca = readFileSync(join(dir, 'data', 'local-ca', 'root.pem'), 'utf8');
  for (let i = 0; i < 10; i++) assert.equal(await get(https, ca), 200);
  assert.equal(a.seen.length, 10);

  write(b.url);
  s.child.kill('SIGHUP');
  await waitFor(() => (s.err().match(/"worker":\d+,"msg":"SIGHUP: configuration and certificates reloaded"/g) ?? []).length === 2, 'both workers to reload');
  for (let i = 0; i < 10; i++) assert.equal(await get(https, ca), 200);
  assert.equal(b.seen.length, 10, 'every worker uses the new upstream');

  process.kill(workers[0] as number, 'SIGKILL');
  await waitFor(() => /worker \d+ exited \(SIGKILL\); starting another/.test(s.err()), 'the replacement');
  await waitFor(() => childrenOf(s.child.pid as number).length === 2 && childrenOf(s.child.pid as number).every((p) => p !== workers[0]), 'two workers again');
  let ok = 0;
  for (let i = 0; i < 10; i++) ok += (await get(https, ca).catch(() => 0)) === 200 ? 1 : 0;
  assert.equal(ok, 10, 'served throughout');

  const pids = [s.child.pid as number, ...childrenOf(s.child.pid as number)];
  s.child.kill('SIGTERM');
  assert.equal(await s.exited, 0);
  await waitFor(() => pids.every((p) => !existsPid(p)), 'every process to be gone', 10_000);
  await assert.rejects(get(https, ca), /ECONNREFUSED/);
});

function existsPid(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

test('serve --workers 2 on a busy port: one error line, exit 2, no worker left behind', { timeout: 30_000 }, async (t) => {
  const dir = tempDir(t);
  const busy = createNetServer();
  await new Promise<void>((r) => busy.listen(0, '127.0.0.1', r));
  t.after(() => new Promise((r) => busy.close(r)));
  const port = (busy.address() as { port: number }).port;
  const s = startServe(['--workers', '2', '--https-port', String(port), '--http-port', String(await freePort()), '--host', '127.0.0.1'], {
    CERTGATE_DATA: join(dir, 'data'),
  });
  assert.equal(await s.exited, 2);
  assert.match(s.err(), new RegExp(`^error E_PORT_IN_USE: port ${port} \\(HTTPS\\) is in use`));
  assert.equal(
    s
      .err()
      .trim()
      .split('\n')
      .filter((l) => l.startsWith('error')).length,
    1,
  );
});

test('HTTP-01 answers are shared through the data directory: any process answers the CA', async (t) => {
  const dir = tempDir(t);
  const one = new ChallengeAnswers({ sharedDir: join(dir, 'challenges') });
  const two = new ChallengeAnswers({ sharedDir: join(dir, 'challenges') });
  const server = createHttpServer((req: IncomingMessage, res: ServerResponse) => {
    if (!two.handleHttp(req, res)) res.writeHead(418).end();
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  t.after(() => new Promise((r) => server.close(r)));
  const port = (server.address() as { port: number }).port;
  const fetch = (path: string) =>
    new Promise<{ status: number; body: string }>((resolve, reject) => {
      const req = httpRequest({ host: '127.0.0.1', port, path }, (res) => {
        let body = '';
        res.on('data', (d) => {
          body += d;
        });
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
      });
      req.on('error', reject);
      req.end();
    });
  one.setHttp('tok-123', 'tok-123.thumb');
  assert.deepEqual(await fetch('/.well-known/acme-challenge/tok-123'), { status: 200, body: 'tok-123.thumb' }, 'answered by the other one');
  one.deleteHttp('tok-123');
  assert.equal((await fetch('/.well-known/acme-challenge/tok-123')).status, 404);
  assert.equal((await fetch('/.well-known/acme-challenge/..%2f..%2fetc%2fpasswd')).status, 418, 'not a token: not a challenge path at all');
});

test('serve --workers 2 with Pebble: on-demand names get valid certificates at their first handshake (HTTP-01 answers shared)', {
  timeout: 90_000,
}, async (t) => {
  const dir = tempDir(t);
  const pebble = await startPebble();
  t.after(() => pebble.close());
  const ask = createHttpServer((req, res) => {
    const domain = new URL(req.url ?? '/', 'http://x').searchParams.get('domain') ?? '';
    res.writeHead(domain.startsWith('wk-') ? 200 : 403).end();
  });
  await new Promise<void>((r) => ask.listen(0, '127.0.0.1', r));
  t.after(() => new Promise((r) => ask.close(r)));
  const https = await freePort();
  const s = startServe(
    [
      '--workers',
      '2',
      '--https-port',
      String(https),
      '--host',
      '127.0.0.1',
      ...pebbleFlags(pebble, join(dir, 'pebble-tls-ca.pem')),
      '--ask',
      `http://127.0.0.1:${(ask.address() as { port: number }).port}/`,
    ],
    { CERTGATE_DATA: join(dir, 'data') },
  );
  t.after(() => {
    for (const pid of childrenOf(s.child.pid as number)) process.kill(pid, 'SIGKILL');
    if (s.child.exitCode === null) s.child.kill('SIGKILL');
  });
  await waitFor(() => s.err().includes('trust it:'), 'the banner');
  const root = await pebble.issuingRoot();
  const names = [0, 1, 2, 3, 4, 5].map(() => name('wk'));
  const results = await Promise.all(
    names.map(
      (n) =>
        new Promise<boolean>((resolve) => {
          const c = tlsConnect({ port: https, host: '127.0.0.1', servername: n, ca: [root] }, () => {
            resolve(c.authorized);
            c.destroy();
          });
          c.on('error', () => resolve(false));
        }),
    ),
  );
  assert.deepEqual(
    results,
    names.map(() => true),
    `every name served a valid certificate at its first handshake\n${s.err()}`,
  );
  assert.doesNotMatch(s.err(), /tls-alpn-01 is not used/, 'no warning unless tls-alpn-01 was asked for');
  s.child.kill('SIGTERM');
  assert.equal(await s.exited, 0);
});
