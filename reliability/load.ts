/**
 * Part 2, load:
 *  - soak: keep-alive (through the trust store's dispatcher, whose ca-certs directory holds serve's
 *    local CA and gets new files meanwhile: live trust reloads) and new-connection HTTPS through
 *    `certgate serve --upstream`, with SIGHUP reloads; zero failed requests; RSS at start and end.
 *  - random-SNI flood with on-demand on (an ask endpoint that allows three names, Pebble behind):
 *    no order for any other name; the legitimate names' handshake+request p50/p99.
 *  - slowloris groups (header trickle, silent TCP, slow body, HTTP/2 CONTINUATION never ending,
 *    and a CONTINUATION flood) against the HTTPS and HTTP ports: cut on time, legitimate clients
 *    served meanwhile.
 * RELIABILITY_SOAK_SECONDS overrides the soak (full 600, quick 60).
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { createServer, request as httpRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { type AddressInfo, connect as netConnect, type Socket } from 'node:net';
import { join } from 'node:path';
import { connect as tlsConnect } from 'node:tls';
import { request as undiciRequest } from 'undici';
import { createCertificate } from '../src/pki/generate.ts';
import { createTrustStore } from '../src/trust/store.ts';
import { freePort } from '../test/helpers/daemons.ts';
import { startPebble } from '../test/helpers/pebble.ts';
import { frame, hpack, PREFACE, SETTINGS } from './h2.ts';
import { BIN, bounded, type Child, cleanEnv, cli, collectKeys, OUT, percentile, QUICK, rng, SEED, Summary, sleep, spawnLogged, stop } from './lib.ts';

const S = new Summary('load');
const random = rng(SEED);
const SOAK_S = Number(process.env.RELIABILITY_SOAK_SECONDS ?? (QUICK ? 60 : 600));

// ---------- an app ----------
const app = createServer((req, res) => {
  req.resume();
  req.on('end', () => {
    res.writeHead(200, { 'content-type': 'text/plain', 'content-length': '5' });
    res.end('hello');
  });
});
app.keepAliveTimeout = 10_000;
await new Promise<void>((r) => app.listen(0, '127.0.0.1', r));
const appUrl = `http://127.0.0.1:${(app.address() as AddressInfo).port}`;

function rss(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) : 0;
}

async function startServe(log: string, args: string[], env: Record<string, string> = cleanEnv()): Promise<{ serve: Child; https: number; http: number }> {
  const [https, http] = await Promise.all([freePort(), freePort()]);
  const serve = spawnLogged(log, process.execPath, [BIN, 'serve', '--host', '127.0.0.1', '--https-port', String(https), '--http-port', String(http), ...args], {
    env,
  });
  await bounded(`${log} start`, 30_000, async () => {
    while (!serve.err().includes('https://localhost')) {
      if (serve.child.exitCode !== null) throw new Error(`serve exited: ${serve.err()}`);
      await sleep(50);
    }
  });
  return { serve, https, http };
}

function get(port: number, servername: string, ca: string | string[], path = '/', timeoutMs = 10_000): Promise<{ status: number; ms: number; error?: string }> {
  const t0 = performance.now();
  return new Promise((resolve) => {
    const req = httpsRequest({ host: '127.0.0.1', port, path, servername, headers: { host: servername }, ca, agent: false, timeout: timeoutMs }, (res) => {
      res.resume();
      res.on('end', () => resolve({ status: res.statusCode ?? 0, ms: performance.now() - t0 }));
      res.on('error', (e) => resolve({ status: -1, ms: performance.now() - t0, error: e.message }));
    });
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', (e) => resolve({ status: -1, ms: performance.now() - t0, error: e.message }));
    req.end();
  });
}

function plainGet(port: number, timeoutMs = 10_000): Promise<{ status: number; ms: number; error?: string }> {
  const t0 = performance.now();
  return new Promise((resolve) => {
    const req = httpRequest({ host: '127.0.0.1', port, path: '/', headers: { host: 'localhost' }, agent: false, timeout: timeoutMs }, (res) => {
      res.resume();
      res.on('end', () => resolve({ status: res.statusCode ?? 0, ms: performance.now() - t0 }));
    });
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', (e) => resolve({ status: -1, ms: performance.now() - t0, error: e.message }));
    req.end();
  });
}

// ---------- soak ----------

async function soak(): Promise<void> {
  const data = join(OUT, 'load-soak-data');
  const config = join(OUT, 'load-soak.yaml');
  writeFileSync(config, `upstream: ${appUrl}\nmode: development\nhsts: { maxAge: 600 }\n`);
  const { serve, https } = await startServe('load-soak-serve', ['--config', config, '--data', data]);
  const localCa = readFileSync(join(data, 'local-ca', 'root.pem'), 'utf8');
  const caDir = join(data, 'ca-certs');
  const { mkdirSync } = await import('node:fs');
  mkdirSync(caDir, { recursive: true });
  writeFileSync(join(caDir, 'certgate-local-ca.crt'), localCa);
  const trust = createTrustStore({ dir: caDir, systemRoots: false, pollMs: 500 });
  await trust.start();
  let trustChanges = 0;
  trust.on('change', () => trustChanges++);
  const dispatcher = trust.dispatcher({ connections: 4, keepAliveTimeout: 4000 });
  const url = `https://localhost:${https}/`;
  const stats = { keepAlive: 0, fresh: 0, failed: 0, failures: [] as string[], hups: 0, trustAdds: 0 };
  const lat: number[] = [];
  const deadline = Date.now() + SOAK_S * 1000;
  // Warm up, then the starting RSS.
  for (let i = 0; i < 200; i++) await undiciRequest(url, { dispatcher }).then((r) => r.body.dump());
  const rssStart = rss(serve.child.pid as number);
  const fail = (what: string) => {
    stats.failed++;
    if (stats.failures.length < 10) stats.failures.push(what);
  };
  const keepAliveWorker = async () => {
    while (Date.now() < deadline) {
      const t0 = performance.now();
      try {
        const r = await undiciRequest(url, { dispatcher, headersTimeout: 10_000, bodyTimeout: 10_000 });
        await r.body.dump();
        if (r.statusCode !== 200) fail(`keep-alive: ${r.statusCode}`);
        else stats.keepAlive++;
        lat.push(performance.now() - t0);
      } catch (err) {
        fail(`keep-alive: ${(err as Error).message}`);
      }
    }
  };
  const freshWorker = async () => {
    while (Date.now() < deadline) {
      const r = await get(https, 'localhost', localCa);
      if (r.status !== 200) fail(`new connection: ${r.status} ${r.error ?? ''}`);
      else stats.fresh++;
    }
  };
  const meddler = async () => {
    let i = 0;
    while (Date.now() < deadline) {
      await sleep(3000);
      i++;
      if (i % 2 === 0) {
        process.kill(serve.child.pid as number, 'SIGHUP');
        stats.hups++;
      } else {
        const ca = await createCertificate({ subject: `CN=Soak CA ${i}`, ca: true });
        writeFileSync(join(caDir, `soak-${i}.crt`), ca.certPem);
        stats.trustAdds++;
      }
    }
  };
  await Promise.all([keepAliveWorker(), keepAliveWorker(), keepAliveWorker(), freshWorker(), freshWorker(), meddler()]);
  await sleep(500);
  const rssEnd = rss(serve.child.pid as number);
  const reloads = (serve.err().match(/SIGHUP: configuration and certificates reloaded/g) ?? []).length;
  S.figure('soak: seconds', SOAK_S);
  S.figure('soak: keep-alive requests', stats.keepAlive);
  S.figure('soak: new-connection requests', stats.fresh);
  S.figure('soak: keep-alive p50 / p99 (ms)', `${percentile(lat, 50).toFixed(1)} / ${percentile(lat, 99).toFixed(1)}`);
  S.figure('soak: SIGHUPs sent / reloads logged', `${stats.hups} / ${reloads}`);
  S.figure('soak: ca-certs files added / trust store reloads seen', `${stats.trustAdds} / ${trustChanges}`);
  S.figure('soak: serve RSS start / end (MB)', `${(rssStart / 1024).toFixed(1)} / ${(rssEnd / 1024).toFixed(1)}`);
  S.check('soak: zero failed requests', stats.failed === 0, `${stats.failed} failed: ${stats.failures.join('; ')}`);
  S.check('soak: every SIGHUP reloaded', reloads === stats.hups, `${reloads}/${stats.hups}`);
  S.check(
    'soak: the trust store followed every added file',
    trustChanges >= 1 && trust.current().entries.length === stats.trustAdds + 1,
    `${trust.current().entries.length} entries`,
  );
  S.check('soak: RSS did not grow by more than 50 % (after warm-up)', rssEnd < rssStart * 1.5, `${rssStart} → ${rssEnd} kB`);
  await dispatcher.close();
  await trust.close();
  await stop(serve);
  collectKeys(data, 'load-soak');
}

// ---------- random-SNI flood ----------

async function flood(mainDomain: string | null, seconds: number): Promise<void> {
  const pebble = await startPebble();
  const tag = mainDomain ? 'flood' : 'flood without --domain';
  const allowed = ['a.flood-example.com', 'b.flood-example.com', 'c.flood-example.com'];
  const asked = new Map<string, number>();
  const ask = createServer((req, res) => {
    const name = new URL(req.url ?? '/', 'http://x').searchParams.get('domain') ?? '';
    asked.set(name, (asked.get(name) ?? 0) + 1);
    res.writeHead(allowed.includes(name) ? 200 : 404);
    res.end();
  });
  await new Promise<void>((r) => ask.listen(0, '127.0.0.1', r));
  const data = join(OUT, mainDomain ? 'load-flood-data' : 'load-flood-nodomain-data');
  const caFile = join(OUT, 'load-flood-pebble-ca.pem');
  writeFileSync(caFile, pebble.tlsCaPem);
  let serve: Child | null = null;
  // serve's HTTP port has to be the one pebble validates on.
  const https = await freePort();
  serve = spawnLogged(
    'load-flood-serve',
    process.execPath,
    [
      BIN,
      'serve',
      '--host',
      '127.0.0.1',
      '--https-port',
      String(https),
      '--http-port',
      String(pebble.httpPort),
      '--data',
      data,
      '--upstream',
      appUrl,
      '--directory',
      pebble.directoryUrl,
      '--ca-root',
      caFile,
      '--email',
      'ops@certgate.dev',
      '--agree-tos',
      '--challenges',
      'http-01',
      '--ask',
      `http://127.0.0.1:${(ask.address() as AddressInfo).port}/allow`,
      '--on-demand-per-client',
      '100',
      ...(mainDomain ? ['--domain', mainDomain] : []),
    ],
    { env: cleanEnv() },
  );
  try {
    await bounded('flood serve start', 30_000, async () => {
      while (!(serve as Child).err().includes('https://localhost')) {
        if ((serve as Child).child.exitCode !== null) throw new Error(`serve exited: ${(serve as Child).err()}`);
        await sleep(50);
      }
    });
    const roots = [await pebble.issuingRoot()];
    // First visits: issued on demand.
    for (const n of allowed) {
      const r = await get(https, n, roots, '/', 30_000);
      S.check(`${tag}: the first visit of ${n} gets a CA certificate`, r.status === 200, `${r.status} in ${Math.round(r.ms)} ms ${r.error ?? ''}`);
    }
    const deadline = Date.now() + seconds * 1000;
    let handshakes = 0;
    let refused = 0;
    const flooder = async () => {
      while (Date.now() < deadline) {
        const name = `r${Math.floor(random() * 1e9).toString(36)}.flood-example.com`;
        await new Promise<void>((resolve) => {
          const s = tlsConnect({ host: '127.0.0.1', port: https, servername: name, rejectUnauthorized: false, timeout: 5000 }, () => {
            handshakes++;
            s.destroy();
          });
          s.on('error', () => refused++);
          s.on('timeout', () => s.destroy());
          s.on('close', () => resolve());
        });
      }
    };
    const legit: number[] = [];
    let legitFailed = 0;
    const legitWorker = async () => {
      while (Date.now() < deadline) {
        const r = await get(https, allowed[Math.floor(random() * allowed.length)] as string, roots);
        if (r.status === 200) legit.push(r.ms);
        else legitFailed++;
      }
    };
    await Promise.all([flooder(), flooder(), flooder(), flooder(), legitWorker()]);
    await sleep(500);
    const logs = await cli(['logs', '--json', '--data', data], cleanEnv(), { log: 'load-cli' });
    const obtaining = new Set(
      logs.out
        .split('\n')
        .filter(Boolean)
        .map((l) => JSON.parse(l) as { name: string; type: string })
        .filter((e) => e.type === 'cert_obtaining' || e.type === 'cert_obtained')
        .map((e) => e.name),
    );
    const stray = [...obtaining].filter((n) => !allowed.includes(n) && n !== mainDomain);
    const askedTwice = [...asked.entries()].filter(([n, c]) => !allowed.includes(n) && c > 1).length;
    S.figure(`${tag}: random-SNI handshakes attempted`, handshakes + refused);
    S.figure(`${tag}: names the ask endpoint was asked about`, asked.size);
    S.figure(`${tag}: refused names asked more than once`, askedTwice);
    S.figure(
      `${tag}: legitimate requests (new connection each) p50 / p99 (ms)`,
      `${percentile(legit, 50).toFixed(1)} / ${percentile(legit, 99).toFixed(1)} over ${legit.length}`,
    );
    const expected = allowed.length + (mainDomain ? 1 : 0); // serve obtains the main domain at start
    const strayDetail = `${stray.length} names the ask endpoint refused were issued (${stray.slice(0, 5).join(', ')}); pebble saw ${pebble.orders()} orders for ${expected} allowed names`;
    if (mainDomain) {
      S.check(`${tag}: no order for a name the ask endpoint refused`, stray.length === 0 && pebble.orders() <= expected, strayDetail);
    } else {
      S.known(
        `${tag}: no order for a name the ask endpoint refused`,
        stray.length === 0 && pebble.orders() <= expected,
        `${strayDetail}: each became the first-visit main domain (src/manager/registry.ts decide)`,
      );
    }
    S.check(`${tag}: legitimate requests all served`, legitFailed === 0 && legit.length > 0, `${legitFailed} failed`);
  } finally {
    if (serve) await stop(serve);
    ask.close();
    await pebble.close();
    collectKeys(data, 'load-flood');
  }
}

// ---------- slowloris ----------

interface Group {
  name: string;
  open: (port: number, tls: boolean) => Socket;
  /** Seconds by which the server must have cut it. */
  bound: number;
}

async function slowloris(): Promise<void> {
  const data = join(OUT, 'load-slow-data');
  const { serve, https, http } = await startServe('load-slow-serve', ['--data', data, '--upstream', appUrl, '--mode', 'development', '--no-redirect']);
  const ca = readFileSync(join(data, 'local-ca', 'root.pem'), 'utf8');
  const timers = new Set<NodeJS.Timeout>();
  const every = (s: Socket, ms: number, write: () => Buffer | string) => {
    const t = setInterval(() => {
      if (s.destroyed || !s.writable) return clearInterval(t);
      s.write(write());
    }, ms);
    timers.add(t);
    s.on('close', () => clearInterval(t));
  };
  const connectAny = (port: number, tls: boolean, alpn: string[], onConnect: (s: Socket) => void): Socket => {
    const s: Socket = tls
      ? tlsConnect({ host: '127.0.0.1', port, servername: 'localhost', ca: [ca], ALPNProtocols: alpn }, () => onConnect(s))
      : netConnect({ host: '127.0.0.1', port }, () => onConnect(s));
    s.on('error', () => {});
    s.on('data', () => {});
    return s;
  };
  const groups: Group[] = [
    {
      name: 'header trickle',
      bound: 40,
      open: (port, tls) =>
        connectAny(port, tls, ['http/1.1'], (s) => {
          s.write('GET / HTTP/1.1\r\nHost: localhost\r\n');
          every(s, 1000, () => 'X-a: b\r\n');
        }),
    },
    { name: 'silent TCP', bound: 40, open: (port) => connectAny(port, false, [], () => {}) },
    {
      name: 'silent after the TLS handshake',
      bound: 40,
      open: (port, tls) => connectAny(port, tls, ['http/1.1'], () => {}),
    },
    {
      name: 'slow body',
      bound: 135,
      open: (port, tls) =>
        connectAny(port, tls, ['http/1.1'], (s) => {
          s.write('POST / HTTP/1.1\r\nHost: localhost\r\nContent-Length: 1000000\r\n\r\n');
          every(s, 1000, () => 'x');
        }),
    },
    {
      name: 'HTTP/2 CONTINUATION never ending',
      bound: 40,
      open: (port) =>
        connectAny(port, true, ['h2'], (s) => {
          s.write(
            Buffer.concat([
              PREFACE,
              SETTINGS,
              frame(
                1,
                0,
                1,
                hpack([
                  [':method', 'GET'],
                  [':scheme', 'https'],
                  [':authority', 'localhost'],
                  [':path', '/'],
                ]),
              ),
            ]),
          );
          let i = 0;
          every(s, 1000, () => frame(9, 0, 1, hpack([[`x-c${i++}`, 'v']])));
        }),
    },
    {
      name: 'HTTP/2 CONTINUATION flood',
      bound: 40,
      open: (port) =>
        connectAny(port, true, ['h2'], (s) => {
          s.write(
            Buffer.concat([
              PREFACE,
              SETTINGS,
              frame(
                1,
                0,
                1,
                hpack([
                  [':method', 'GET'],
                  [':scheme', 'https'],
                  [':authority', 'localhost'],
                  [':path', '/'],
                ]),
              ),
            ]),
          );
          const chunk = Buffer.concat(Array.from({ length: 64 }, (_, k) => frame(9, 0, 1, hpack([[`x-f${k}`, 'v'.repeat(100)]]))));
          every(s, 20, () => chunk);
        }),
    },
  ];
  const perGroup = QUICK ? 30 : 100;
  const results: Array<{ group: string; port: string; closedAt: number[]; open: number }> = [];
  const t0 = Date.now();
  const all: Socket[] = [];
  for (const g of groups) {
    for (const [portName, port, tls] of [
      ['https', https, true],
      ['http', http, false],
    ] as const) {
      if (g.name.startsWith('HTTP/2') && !tls) continue;
      if (g.name === 'silent after the TLS handshake' && !tls) continue;
      const r = { group: g.name, port: portName, closedAt: [] as number[], open: 0 };
      results.push(r);
      for (let i = 0; i < perGroup; i++) {
        const s = g.name === 'silent TCP' ? connectAny(port, false, [], () => {}) : g.open(port, tls);
        r.open++;
        s.on('close', () => r.closedAt.push((Date.now() - t0) / 1000));
        all.push(s);
      }
    }
  }
  const rssStart = rss(serve.child.pid as number);
  let rssMax = rssStart;
  const lat: number[] = [];
  let legitFailed = 0;
  const legitFailures: string[] = [];
  const limit = Math.max(...groups.map((g) => g.bound)) + 5;
  while (Date.now() - t0 < limit * 1000 && results.some((r) => r.closedAt.length < r.open)) {
    const [a, b] = await Promise.all([get(https, 'localhost', ca), plainGet(http)]);
    for (const r of [a, b]) {
      if (r.status === 200) lat.push(r.ms);
      else {
        legitFailed++;
        if (legitFailures.length < 5) legitFailures.push(`${r.status} ${r.error ?? ''}`);
      }
    }
    rssMax = Math.max(rssMax, rss(serve.child.pid as number));
    await sleep(200);
  }
  for (const r of results) {
    const bound = (groups.find((g) => g.name === r.group) as Group).bound;
    const cut = r.closedAt.length;
    const last = cut ? Math.max(...r.closedAt) : Number.NaN;
    const median = cut ? percentile(r.closedAt, 50) : Number.NaN;
    S.check(
      `slowloris ${r.group} on ${r.port}: all ${r.open} cut within ${bound} s`,
      cut === r.open && last <= bound,
      `${cut}/${r.open} cut, median ${median.toFixed(1)} s, last ${last.toFixed(1)} s`,
    );
  }
  S.figure(
    'slowloris: legitimate requests meanwhile (https + http), p50 / p99 (ms)',
    `${lat.length} ok, ${percentile(lat, 50).toFixed(1)} / ${percentile(lat, 99).toFixed(1)}`,
  );
  S.figure('slowloris: serve RSS start / max (MB)', `${(rssStart / 1024).toFixed(1)} / ${(rssMax / 1024).toFixed(1)}`);
  S.check('slowloris: legitimate clients served meanwhile', legitFailed === 0 && lat.length > 10, `${legitFailed} failed: ${legitFailures.join('; ')}`);
  for (const t of timers) clearInterval(t);
  for (const s of all) s.destroy();
  await stop(serve);
  collectKeys(data, 'load-slow');
}

/** RELIABILITY_LOAD_ONLY=soak,flood,slowloris runs some sections only. */
const only = (section: string) => !process.env.RELIABILITY_LOAD_ONLY || process.env.RELIABILITY_LOAD_ONLY.split(',').includes(section);
try {
  if (only('soak')) await bounded('soak', (SOAK_S + 60) * 1000, soak);
  if (only('flood')) await bounded('flood', 180_000, () => flood('main.flood-example.com', QUICK ? 15 : 60));
  if (only('flood')) await bounded('flood without --domain', 120_000, () => flood(null, 5));
  if (only('slowloris')) await bounded('slowloris', 240_000, slowloris);
} catch (err) {
  S.check('the load part ran to its end', false, (err as Error).stack ?? String(err));
} finally {
  app.closeAllConnections();
  app.close();
}
S.finish();
