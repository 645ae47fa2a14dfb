/**
 * Part 1, faults: kill -9 at random points of `certgate issue`, `renew` (against Pebble), `trust
 * add` and of store writes; then every name holds a matching certificate/key pair or none, no temp
 * file is left, and no lock blocks the next `issue`. Then the CA down, slow (a delaying proxy),
 * answering 500 (an HTTPS shim) and rejecting nonces; and an upstream that resets or hangs.
 */
import { createPrivateKey, X509Certificate } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer as createHttpsServer, request as httpsRequest } from 'node:https';
import { type AddressInfo, createServer as createNetServer, connect as netConnect, type Socket } from 'node:net';
import { join } from 'node:path';
import { ChallengeAnswers } from '../src/acme/challenges.ts';
import { CertCache } from '../src/cache/cache.ts';
import { Edge } from '../src/edge/edge.ts';
import { LocalCa } from '../src/localca/local-ca.ts';
import { createCertificate } from '../src/pki/generate.ts';
import { parseInput } from '../src/pki/parse.ts';
import { freePort } from '../test/helpers/daemons.ts';
import { type Pebble, startPebble } from '../test/helpers/pebble.ts';
import { BIN, bounded, type CliResult, cleanEnv, cli, collectKeys, OUT, QUICK, rng, SEED, Summary, sleep, spawnLogged, stop } from './lib.ts';

const S = new Summary('faults');
const random = rng(SEED);
const COUNTS = QUICK ? { issue: 20, renew: 15, trust: 25, store: 30 } : { issue: 140, renew: 90, trust: 150, store: 160 };
const work = join(OUT, 'faults');
rmSync(work, { recursive: true, force: true });
mkdirSync(work, { recursive: true });

// ---------- checks on a data directory ----------

const TEMP = /^\..+\.[0-9a-f]{12}\.(tmp|link)$/;

function walk(dir: string, found: (path: string, name: string) => void, depth = 0): void {
  if (depth > 8 || !existsSync(dir)) return;
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    found(p, e.name);
    if (e.isDirectory()) walk(p, found, depth + 1);
  }
}

function tempFiles(dir: string): string[] {
  const out: string[] = [];
  walk(dir, (p, n) => {
    if (TEMP.test(n)) out.push(p);
  });
  return out;
}

/** Each name under certificates/: a certificate and the key that matches it, or nothing. */
function pairs(data: string): { names: number; paired: number; broken: string[] } {
  const certs = join(data, 'certificates');
  const broken: string[] = [];
  let names = 0;
  let paired = 0;
  if (!existsSync(certs)) return { names, paired, broken };
  for (const seg of readdirSync(certs)) {
    if (seg.startsWith('.') || seg === 'index.log') continue;
    names++;
    const chain = join(certs, seg, 'fullchain.pem');
    const key = join(certs, seg, 'privkey.pem');
    const hasChain = existsSync(chain);
    const hasKey = existsSync(key);
    if (!hasChain && !hasKey) continue;
    if (hasChain !== hasKey) {
      broken.push(`${seg}: ${hasChain ? 'certificate without key' : 'key without certificate'}`);
      continue;
    }
    try {
      const leaf = new X509Certificate(readFileSync(chain));
      if (leaf.checkPrivateKey(createPrivateKey(readFileSync(key)))) paired++;
      else broken.push(`${seg}: the key does not match the certificate`);
    } catch (err) {
      broken.push(`${seg}: ${(err as Error).message}`);
    }
  }
  return { names, paired, broken };
}

/** Lock files whose holder is dead: counted, then removed (what a locker that checks the PID would do). */
function reapLocks(data: string): { left: number; empty: number } {
  const dir = join(data, 'locks');
  let left = 0;
  let empty = 0;
  if (!existsSync(dir)) return { left, empty };
  for (const f of readdirSync(dir)) {
    const p = join(dir, f);
    let pid = 0;
    try {
      pid = (JSON.parse(readFileSync(p, 'utf8')) as { pid: number }).pid;
    } catch {
      empty++;
    }
    let alive = false;
    try {
      if (pid) process.kill(pid, 0);
      alive = pid > 0;
    } catch {
      alive = false;
    }
    if (!alive) {
      left++;
      rmSync(p, { force: true });
    }
  }
  return { left, empty };
}

function orphanVersions(data: string): number {
  const versions = join(data, 'certificates', '.versions');
  if (!existsSync(versions)) return 0;
  let n = 0;
  for (const seg of readdirSync(versions)) {
    const ids = readdirSync(join(versions, seg));
    n += Math.max(0, ids.length - 1);
  }
  return n;
}

// ---------- a killer ----------

interface KillStats {
  kills: number;
  finished: number;
  locksLeft: number;
  emptyLocks: number;
  broken: string[];
}

async function killAt(log: string, args: string[], env: Record<string, string>, delayMs: number): Promise<'killed' | 'finished'> {
  const c = spawnLogged(log, process.execPath, args, { env, cwd: work });
  const timer = setTimeout(() => c.child.kill('SIGKILL'), delayMs);
  const { signal } = await c.exited;
  clearTimeout(timer);
  return signal === 'SIGKILL' ? 'killed' : 'finished';
}

function acmeEnv(p: Pebble, data: string, caFile: string, extra: Record<string, string> = {}): Record<string, string> {
  writeFileSync(caFile, p.tlsCaPem);
  return cleanEnv({
    CERTGATE_DATA: data,
    CERTGATE_ACME_DIRECTORY: p.directoryUrl,
    CERTGATE_ACME_CA_ROOT: caFile,
    CERTGATE_ACME_EMAIL: 'ops@certgate.dev',
    CERTGATE_ACME_AGREE_TOS: 'true',
    CERTGATE_HTTP_PORT: String(p.httpPort),
    CERTGATE_HTTPS_PORT: String(p.tlsPort),
    CERTGATE_CHALLENGES: 'http-01',
    CERTGATE_DOMAIN: 'main.faults-example.com',
    ...extra,
  });
}

// ---------- lane 1: issue and renew against Pebble ----------

async function acmeLane(p: Pebble): Promise<void> {
  const data = join(work, 'acme-data');
  const env = acmeEnv(p, data, join(work, 'pebble-ca.pem'));
  const names = Array.from({ length: 6 }, (_, i) => `n${i}.faults-example.com`);
  for (const n of names) {
    const r = await cli(['domains', 'add', n], env, { log: 'faults-cli' });
    if (r.code !== 0) throw new Error(`domains add ${n}: ${r.err}`);
  }
  const clean = await cli(['issue', names[0] as string, '--force'], env, { log: 'faults-cli' });
  S.check('a clean issue before the kills', clean.code === 0, `${Math.round(clean.ms)} ms`);
  // The kill point is uniform over a typical issuance (a slow first run under load would make most runs finish first).
  const issueMs = Math.min(1500, Math.max(600, clean.ms));

  const st: KillStats = { kills: 0, finished: 0, locksLeft: 0, emptyLocks: 0, broken: [] };
  let lockWait: CliResult | null = null;
  for (let i = 0; i < COUNTS.issue * 5 && st.kills < COUNTS.issue; i++) {
    const name = names[i % names.length] as string;
    const outcome = await killAt('faults-issue', [BIN, 'issue', name, '--force'], env, 50 + random() * issueMs);
    if (outcome === 'killed') st.kills++;
    else st.finished++;
    const pr = pairs(data);
    st.broken.push(...pr.broken);
    if (!lockWait && existsSync(join(data, 'locks')) && readdirSync(join(data, 'locks')).length) {
      // How long the next issue of that name waits for a dead holder's lock, today.
      lockWait = await cli(['issue', name, '--force'], env, { log: 'faults-cli', timeoutMs: QUICK ? 15_000 : 135_000 });
    }
    const locks = reapLocks(data);
    st.locksLeft += locks.left;
    st.emptyLocks += locks.empty;
  }
  S.figure('issue: kills (finished before the kill)', `${st.kills} (${st.finished})`);
  S.figure('issue: dead holders left a lock', `${st.locksLeft} times (${st.emptyLocks} empty lock files)`);
  if (lockWait)
    S.check(
      'the next issue after a killed one finishes within 5 s',
      lockWait.ms < 5000 && lockWait.code === 0,
      `${lockWait.timedOut ? 'still waiting when stopped at' : 'took'} ${Math.round(lockWait.ms)} ms (exit ${lockWait.code})`,
    );
  S.check('issue kills: every name has a matching pair or none', st.broken.length === 0, st.broken.slice(0, 3).join('; '));

  // Renew: certificates live 8 s (pebble), so a third of it later they are due again.
  for (const n of names) await cli(['issue', n, '--force'], env, { log: 'faults-cli' });
  await sleep(6000);
  const rs: KillStats = { kills: 0, finished: 0, locksLeft: 0, emptyLocks: 0, broken: [] };
  for (let i = 0; i < COUNTS.renew * 5 && rs.kills < COUNTS.renew; i++) {
    const outcome = await killAt('faults-renew', [BIN, 'renew'], env, 50 + random() * issueMs);
    if (outcome === 'killed') rs.kills++;
    else rs.finished++;
    rs.broken.push(...pairs(data).broken);
    const locks = reapLocks(data);
    rs.locksLeft += locks.left;
    rs.emptyLocks += locks.empty;
  }
  S.figure('renew: kills (finished before the kill)', `${rs.kills} (${rs.finished})`);
  S.figure('renew: dead holders left a lock', `${rs.locksLeft} times`);
  S.check('renew kills: every name has a matching pair or none', rs.broken.length === 0, rs.broken.slice(0, 3).join('; '));
  await sleep(6000);
  const after = await cli(['renew', '--json'], env, { log: 'faults-cli', timeoutMs: 60_000 });
  let renewed = -1;
  try {
    renewed = (JSON.parse(after.out) as { renewed: string[] }).renewed.length;
  } catch {
    // reported below
  }
  S.check(
    'a renew after the kills renews what is due',
    after.code === 0 && renewed > 0,
    `exit ${after.code}, renewed ${renewed}, ${Math.round(after.ms)} ms ${after.err.slice(0, 200)}`,
  );
  const final = pairs(data);
  S.check('after issue/renew kills: all names paired', final.broken.length === 0 && final.paired === names.length, `${final.paired}/${names.length} paired`);
  const temps = tempFiles(data);
  S.known(
    'after issue/renew kills: no temp files left',
    temps.length === 0,
    `${temps.length} left, e.g. ${temps.slice(0, 2).join(', ')}: atomicSymlink's temp link (certificates/.NAME.HEX.link) or a temp file of an unswapped version; nothing sweeps them`,
  );
  S.figure('issue/renew: superseded version directories left', orphanVersions(data));
  collectKeys(data, 'faults');
}

// ---------- lane 2: trust add and store writes ----------

async function trustAndStoreLane(): Promise<void> {
  const data = join(work, 'trust-data');
  const input = join(work, 'cas');
  mkdirSync(input, { recursive: true });
  const files: string[] = [];
  for (let i = 0; i < 30; i++) {
    const ca = await createCertificate({ subject: `CN=Faults CA ${i}, O=certgate reliability`, ca: true });
    const f = join(input, `ca-${i}.pem`);
    writeFileSync(f, ca.certPem);
    files.push(f);
  }
  const env = cleanEnv({ CERTGATE_DATA: data });
  let kills = 0;
  let finished = 0;
  const junk: string[] = [];
  for (let i = 0; i < COUNTS.trust * 3 && kills < COUNTS.trust; i++) {
    const pick = [0, 1, 2].map(() => files[Math.floor(random() * files.length)] as string);
    if (i % 10 === 9) rmSync(join(data, 'ca-certs'), { recursive: true, force: true }); // start over now and then
    const outcome = await killAt('faults-trust', [BIN, 'trust', 'add', ...pick, '--yes'], env, 30 + random() * 350);
    if (outcome === 'killed') kills++;
    else finished++;
    const dir = join(data, 'ca-certs');
    for (const f of existsSync(dir) ? readdirSync(dir) : []) {
      if (f.startsWith('.')) continue;
      try {
        const parsed = parseInput(readFileSync(join(dir, f)));
        if (!parsed.certificates.length) junk.push(`${f}: no certificate`);
      } catch (err) {
        junk.push(`${f}: ${(err as Error).message}`);
      }
    }
  }
  S.figure('trust add: kills (finished before the kill)', `${kills} (${finished})`);
  S.check('trust add kills: every ca-certs file is a whole certificate', junk.length === 0, junk.slice(0, 3).join('; '));
  const trustTemps = tempFiles(data);
  S.check('trust add kills: no temp files left in ca-certs', trustTemps.length === 0, `${trustTemps.length} left, e.g. ${trustTemps.slice(0, 2).join(', ')}`);
  const list = await cli(['trust', 'list', '--json'], env, { log: 'faults-cli' });
  let problems = -1;
  try {
    problems = (JSON.parse(list.out) as { problems: unknown[] }).problems.length;
  } catch {
    // reported below
  }
  S.check(
    'trust list after the kills reports no problem',
    list.code === 0 && problems === 0,
    `exit ${list.code}, ${problems} problems${problems ? `: ${list.out.slice(0, 300)}` : ''}`,
  );

  // Store writes: a child writing pairs over and over, killed at random.
  const root = join(work, 'store-data');
  const names = ['s0.example.com', 's1.example.com', 's2.example.com'];
  let sk = 0;
  let sf = 0;
  const broken: string[] = [];
  for (let i = 0; i < COUNTS.store * 3 && sk < COUNTS.store; i++) {
    const outcome = await killAt('faults-store', [join(import.meta.dirname, 'store-writer.mjs'), root, ...names], cleanEnv(), 120 + random() * 500);
    if (outcome === 'killed') sk++;
    else sf++;
    broken.push(...pairs(root).broken);
  }
  S.figure('store writes: kills (finished before the kill)', `${sk} (${sf})`);
  S.check('store write kills: every name has a matching pair or none', broken.length === 0, broken.slice(0, 3).join('; '));
  const storeTemps = tempFiles(root);
  S.known(
    'store write kills: no temp files left',
    storeTemps.length === 0,
    `${storeTemps.length} temp files left after ${sk} kills (e.g. ${storeTemps
      .slice(0, 2)
      .map((t) => t.slice(root.length))
      .join(', ')}): a temp symlink beside the live link, or a temp file in a version the kill left unswapped; nothing sweeps them`,
  );
  S.figure('store writes: superseded version directories left', orphanVersions(root));
  collectKeys(root, 'faults-store');
  S.figure('kills in all (trust add + store writes)', kills + sk);
}

// ---------- the CA misbehaving ----------

/** A TCP proxy that holds every chunk `delayMs` before passing it on. */
async function slowProxy(target: number, delayMs: number): Promise<{ port: number; close: () => void; chunks: () => number }> {
  let chunks = 0;
  const sockets = new Set<Socket>();
  const server = createNetServer((client) => {
    const up = netConnect({ port: target, host: '127.0.0.1' });
    sockets.add(client);
    sockets.add(up);
    const pipe = (from: Socket, to: Socket) =>
      from.on('data', (d) => {
        chunks++;
        setTimeout(() => to.writable && to.write(d), delayMs);
      });
    pipe(client, up);
    pipe(up, client);
    const end = () => {
      setTimeout(() => {
        client.destroy();
        up.destroy();
      }, delayMs);
    };
    client.on('close', end).on('error', end);
    up.on('close', end).on('error', end);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const close = () => {
    for (const s of sockets) s.destroy();
    server.close();
  };
  return { port: (server.address() as AddressInfo).port, close, chunks: () => chunks };
}

async function caFaults(p: Pebble): Promise<void> {
  const data = join(work, 'ca-data');
  const caFile = join(work, 'pebble-ca-2.pem');
  const env = acmeEnv(p, data, caFile);
  const name = 'ca.faults-example.com';
  await cli(['domains', 'add', name], env, { log: 'faults-cli' });
  const first = await cli(['issue', name, '--force'], env, { log: 'faults-cli' });
  S.check('CA up: issue', first.code === 0, `${Math.round(first.ms)} ms`);

  // Slow: every chunk held 150 ms each way.
  const proxy = await slowProxy(Number(new URL(p.directoryUrl).port), 150);
  const slowEnv = { ...env, CERTGATE_ACME_DIRECTORY: `https://127.0.0.1:${proxy.port}/dir` };
  const slow = await cli(['issue', name, '--force'], slowEnv, { log: 'faults-cli', timeoutMs: 90_000 });
  S.check(
    'CA slow (150 ms per chunk through a proxy): issue succeeds',
    slow.code === 0,
    `${Math.round(slow.ms)} ms, ${proxy.chunks()} chunks relayed; ${slow.err.slice(0, 200)}`,
  );
  S.figure('issue through the slow proxy (ms)', Math.round(slow.ms));
  proxy.close();

  // Answering 500: an HTTPS shim with its own CA.
  const shimCa = await createCertificate({ subject: 'CN=Shim CA', ca: true });
  const shimLeaf = await createCertificate({ subject: 'CN=localhost', issuer: shimCa, dns: ['localhost'], ip: ['127.0.0.1'] });
  let shimHits = 0;
  const shim = createHttpsServer({ cert: shimLeaf.certPem, key: shimLeaf.keyPem }, (req, res) => {
    shimHits++;
    req.resume();
    res.writeHead(500, { 'content-type': 'application/problem+json', 'replay-nonce': 'bm9uY2U' });
    res.end(JSON.stringify({ type: 'urn:ietf:params:acme:error:serverInternal', detail: 'the shim always fails' }));
  });
  await new Promise<void>((r) => shim.listen(0, '127.0.0.1', r));
  writeFileSync(join(work, 'shim-ca.pem'), shimCa.certPem);
  const before = pairs(data);
  const fivehundred = await cli(
    ['issue', name, '--force'],
    { ...env, CERTGATE_ACME_DIRECTORY: `https://127.0.0.1:${(shim.address() as AddressInfo).port}/dir`, CERTGATE_ACME_CA_ROOT: join(work, 'shim-ca.pem') },
    { log: 'faults-cli', timeoutMs: 60_000 },
  );
  shim.close();
  shim.closeAllConnections();
  const after = pairs(data);
  S.check(
    'CA answering 500: issue fails cleanly with a code, the stored pair stays',
    !fivehundred.timedOut && fivehundred.code !== 0 && /error E_[A-Z_]+/.test(fivehundred.err) && after.paired === before.paired,
    `exit ${fivehundred.code} in ${Math.round(fivehundred.ms)} ms, ${shimHits} requests: ${fivehundred.err.split('\n')[0]}`,
  );

  // Down: pebble stopped.
  await p.stop();
  const down = await cli(['issue', name, '--force'], env, { log: 'faults-cli', timeoutMs: 60_000 });
  S.check(
    'CA down: issue fails with E_ACME_UNREACHABLE',
    down.code === 2 && /E_ACME_UNREACHABLE/.test(down.err),
    `exit ${down.code} in ${Math.round(down.ms)} ms: ${down.err.split('\n')[0]}`,
  );
  S.figure('issue with the CA down (ms)', Math.round(down.ms));
  await p.restart();
  // Pebble forgets its accounts when it restarts: the stored account no longer exists there.
  const back = await cli(['issue', name, '--force'], env, { log: 'faults-cli', timeoutMs: 60_000 });
  S.known(
    'CA back after a restart (it forgot the account): issue succeeds',
    back.code === 0,
    `exit ${back.code} in ${Math.round(back.ms)} ms ${back.err.split('\n').slice(0, 2).join(' ')}; src/acme/issuer.ts keeps the stored account URL after accountDoesNotExist`,
  );
  collectKeys(data, 'faults-ca');
}

async function badNonce(): Promise<void> {
  const p = await startPebble({ nonceReject: 40 });
  try {
    const data = join(work, 'nonce-data');
    const env = acmeEnv(p, data, join(work, 'pebble-ca-3.pem'));
    let ok = 0;
    const n = QUICK ? 3 : 8;
    const times: number[] = [];
    for (let i = 0; i < n; i++) {
      const name = `nonce${i}.faults-example.com`;
      await cli(['domains', 'add', name], env, { log: 'faults-cli' });
      const r = await cli(['issue', name], env, { log: 'faults-cli', timeoutMs: 60_000 });
      if (r.code === 0) ok++;
      else console.log(`    badNonce issue ${name}: exit ${r.code} ${r.err.split('\n')[0]}`);
      times.push(r.ms);
    }
    S.check('badNonce (PEBBLE_WFE_NONCEREJECT=40): every issue succeeds', ok === n, `${ok}/${n}, slowest ${Math.round(Math.max(...times))} ms`);
    collectKeys(data, 'faults-nonce');
  } finally {
    await p.close();
  }
}

// ---------- the upstream misbehaving ----------

function get(port: number, servername: string, path: string, ca: string, timeoutMs = 10_000): Promise<number> {
  return new Promise((resolve) => {
    const req = httpsRequest({ host: '127.0.0.1', port, path, servername, headers: { host: servername }, ca, agent: false, timeout: timeoutMs }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode ?? 0));
      res.on('error', () => resolve(-1));
    });
    req.on('timeout', () => req.destroy());
    req.on('error', () => resolve(-1));
    req.end();
  });
}

async function upstreamFaults(): Promise<void> {
  const sockets = new Set<Socket>();
  const raw = async (onData: (s: Socket) => void) => {
    const srv = createNetServer((s) => {
      sockets.add(s);
      s.on('error', () => {});
      s.once('data', () => onData(s));
    });
    await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
    return { srv, url: `http://127.0.0.1:${(srv.address() as AddressInfo).port}` };
  };
  const reset = await raw((s) => s.resetAndDestroy());
  const hang = await raw(() => {});
  const half = await raw((s) => {
    s.write('HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\npartial');
    setTimeout(() => s.resetAndDestroy(), 50);
  });
  const good = await raw((s) => s.end('HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok'));
  const data = join(work, 'serve-data');
  const [https, http] = await Promise.all([freePort(), freePort()]);
  const serve = spawnLogged(
    'faults-serve',
    process.execPath,
    [
      BIN,
      'serve',
      '--data',
      data,
      '--mode',
      'development',
      '--host',
      '127.0.0.1',
      '--https-port',
      String(https),
      '--http-port',
      String(http),
      '--upstream',
      good.url,
      '--route',
      `reset.test=${reset.url},hang.test=${hang.url},half.test=${half.url}`,
    ],
    { env: cleanEnv() },
  );
  try {
    await bounded('serve start', 20_000, async () => {
      while (!serve.err().includes('https://localhost')) {
        if (serve.child.exitCode !== null) throw new Error(`serve exited: ${serve.err()}`);
        await sleep(50);
      }
    });
    const ca = readFileSync(join(data, 'local-ca', 'root.pem'), 'utf8');
    const codes = { reset: [] as number[], half: [] as number[] };
    for (let i = 0; i < 10; i++) {
      codes.reset.push(await get(https, 'reset.test', '/', ca));
      codes.half.push(await get(https, 'half.test', '/', ca));
    }
    S.check(
      'an upstream that resets: 502',
      codes.reset.every((c) => c === 502),
      codes.reset.join(','),
    );
    S.check(
      'an upstream that resets mid-answer: the client sees an error, never a truncated 200 as complete',
      codes.half.every((c) => c === 502 || c === -1),
      codes.half.join(','),
    );
    const hung = get(https, 'hang.test', '/', ca, 4000);
    const meanwhile: number[] = [];
    for (let i = 0; i < 20; i++) meanwhile.push(await get(https, 'localhost', '/', ca));
    S.check(
      'an upstream that hangs: other requests are served meanwhile',
      meanwhile.every((c) => c === 200),
      `${meanwhile.filter((c) => c === 200).length}/20`,
    );
    await hung;
    S.check('serve is still running after the upstream faults', serve.child.exitCode === null && (await get(https, 'localhost', '/', ca)) === 200);
  } finally {
    await stop(serve);
    for (const s of sockets) s.destroy();
    for (const x of [reset, hang, half, good]) x.srv.close();
  }

  // The 504 itself, with a short upstream timeout (serve's is 120 s and has no flag).
  const dir = join(work, 'edge-hang');
  const localCa = new LocalCa({ dir: join(dir, 'local-ca') });
  const { certPem } = await localCa.load();
  const hang2 = await raw(() => {});
  const edge = new Edge({
    httpsPort: 0,
    httpPort: 0,
    host: '127.0.0.1',
    upstream: hang2.url,
    cache: new CertCache(),
    localCa,
    answers: new ChallengeAnswers(),
    upstreamTimeoutMs: 1500,
    drainMs: 500,
  });
  const ports = await edge.start();
  try {
    const t0 = performance.now();
    const status = await get(ports.https as number, 'localhost', '/', certPem, 10_000);
    const ms = performance.now() - t0;
    S.check('an upstream that hangs: 504 once the upstream timeout passes (Edge, 1.5 s)', status === 504 && ms < 4000, `${status} after ${Math.round(ms)} ms`);
  } finally {
    await edge.close();
    for (const s of sockets) s.destroy();
    hang2.srv.close();
  }
}

// ---------- run ----------

const pebble = await startPebble({ validitySeconds: 8 });
try {
  await bounded('kills', QUICK ? 240_000 : 900_000, () => Promise.all([acmeLane(pebble), trustAndStoreLane()]));
  await bounded('CA faults', 240_000, () => caFaults(pebble));
  await bounded('badNonce', 180_000, badNonce);
  await bounded('upstream faults', 60_000, upstreamFaults);
} catch (err) {
  S.check('the faults part ran to its end', false, (err as Error).stack ?? String(err));
} finally {
  await pebble.close();
}
S.finish();
