/**
 * Part 3b, request smuggling: an HTTP/1 and HTTP/2 corpus sent raw to `certgate serve`'s HTTP and
 * HTTPS ports, with an upstream (a Node HTTP server, as most apps are) that records every request
 * it receives. Passes when no request reaches the upstream that the client did not make in a
 * well-formed way (no `/smuggled` path ever, no more requests than the well-formed ones sent) and
 * no forged forwarded header arrives (the markers 6.6.6.6 and forged.example never do).
 */
import { readFileSync } from 'node:fs';
import { createServer, type IncomingMessage } from 'node:http';
import { type AddressInfo, connect as netConnect, type Socket } from 'node:net';
import { join } from 'node:path';
import { connect as tlsConnect } from 'node:tls';
import { freePort } from '../test/helpers/daemons.ts';
import { h2 } from './h2.ts';
import { BIN, bounded, cleanEnv, OUT, Summary, sleep, spawnLogged, stop } from './lib.ts';

const S = new Summary('smuggle');

interface Seen {
  method: string;
  url: string;
  raw: string;
  body: string;
}
const seen: Seen[] = [];
const app = createServer((req: IncomingMessage, res) => {
  let body = '';
  req.on('data', (d) => {
    body += d.toString('latin1');
  });
  req.on('end', () => {
    seen.push({ method: req.method ?? '', url: req.url ?? '', raw: req.rawHeaders.join('\n'), body });
    res.writeHead(200, { 'content-length': '2' });
    res.end('ok');
  });
});
app.on('upgrade', (req, socket) => {
  seen.push({ method: req.method ?? '', url: req.url ?? '', raw: req.rawHeaders.join('\n'), body: '' });
  // Not a WebSocket server: it answers 200, so the edge must not splice the connection.
  socket.end('HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok');
});
await new Promise<void>((r) => app.listen(0, '127.0.0.1', r));
const upstream = `http://127.0.0.1:${(app.address() as AddressInfo).port}`;

const data = join(OUT, 'smuggle-data');
const [https, http] = await Promise.all([freePort(), freePort()]);
const serve = spawnLogged(
  'smuggle-serve',
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
    '--no-redirect',
    '--upstream',
    upstream,
  ],
  { env: cleanEnv() },
);

function exchange(port: number, payload: Buffer | string, tls: 'h1' | 'h2' | null, ms = 800, ca = ''): Promise<string> {
  return new Promise((resolve) => {
    let got = '';
    const onConnect = () => s.write(payload);
    const s: Socket = tls
      ? tlsConnect({ port, host: '127.0.0.1', servername: 'localhost', ca: [ca], ALPNProtocols: [tls === 'h2' ? 'h2' : 'http/1.1'] }, onConnect)
      : netConnect({ port, host: '127.0.0.1' }, onConnect);
    s.on('data', (d) => {
      got += d.toString('latin1');
    });
    s.on('error', () => {});
    const timer = setTimeout(() => s.destroy(), ms);
    s.on('close', () => {
      clearTimeout(timer);
      resolve(got);
    });
  });
}

const base: Array<[string, string]> = [
  [':method', 'GET'],
  [':scheme', 'https'],
  [':authority', 'localhost'],
  [':path', '/h2'],
];

// ---------- the corpus ----------

const F =
  'X-Forwarded-For: 6.6.6.6\r\nX-Real-IP: 6.6.6.6\r\nForwarded: for=6.6.6.6;host=forged.example\r\nX-Forwarded-Host: forged.example\r\nTrue-Client-IP: 6.6.6.6\r\n';
const SM = 'GET /smuggled HTTP/1.1\r\nHost: localhost\r\n\r\n';
interface Case {
  name: string;
  payload: string | Buffer;
  /** The well-formed requests in it: at most this many may reach the app. */
  max: number;
  /** A header that must not reach the app (nghttp2 drops an invalid field and passes the rest). */
  dropped?: string;
}
const h1: Case[] = [
  { name: 'baseline with forged forwarded headers', payload: `GET /ok HTTP/1.1\r\nHost: localhost\r\n${F}Connection: close\r\n\r\n`, max: 1 },
  {
    name: 'underscore and spaced spellings',
    payload: `GET /ok HTTP/1.1\r\nHost: localhost\r\nX_Forwarded_For: 6.6.6.6\r\nX-Forwarded_Host: forged.example\r\nCF-Connecting-IP: 6.6.6.6\r\nX-Client-IP: 6.6.6.6\r\nClient-IP: 6.6.6.6\r\nConnection: close\r\n\r\n`,
    max: 1,
  },
  {
    name: 'Connection names the headers certgate sets',
    payload: `GET /ok HTTP/1.1\r\nHost: localhost\r\nConnection: close, X-Forwarded-For, X-Real-IP, Forwarded\r\n${F}\r\n`,
    max: 1,
  },
  { name: 'CL.TE', payload: `POST / HTTP/1.1\r\nHost: localhost\r\nContent-Length: 44\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n${SM}`, max: 0 },
  { name: 'TE.CL', payload: `POST / HTTP/1.1\r\nHost: localhost\r\nTransfer-Encoding: chunked\r\nContent-Length: 4\r\n\r\n2c\r\n${SM}\r\n0\r\n\r\n`, max: 0 },
  { name: 'TE: xchunked', payload: `POST / HTTP/1.1\r\nHost: localhost\r\nTransfer-Encoding: xchunked\r\n\r\n0\r\n\r\n${SM}`, max: 0 },
  { name: 'TE: chunked, identity', payload: `POST / HTTP/1.1\r\nHost: localhost\r\nTransfer-Encoding: chunked, identity\r\n\r\n0\r\n\r\n${SM}`, max: 0 },
  { name: 'TE twice', payload: `POST / HTTP/1.1\r\nHost: localhost\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: x\r\n\r\n0\r\n\r\n${SM}`, max: 0 },
  {
    name: 'TE with a space before the colon',
    payload: `POST / HTTP/1.1\r\nHost: localhost\r\nTransfer-Encoding : chunked\r\nContent-Length: 5\r\n\r\n0\r\n\r\n${SM}`,
    max: 0,
  },
  { name: 'TE with a tab', payload: `POST / HTTP/1.1\r\nHost: localhost\r\nTransfer-Encoding:\tchunked\r\nContent-Length: 5\r\n\r\n0\r\n\r\n${SM}`, max: 0 },
  { name: 'TE vertical tab junk', payload: `POST / HTTP/1.1\r\nHost: localhost\r\nTransfer-Encoding: \u000bchunked\r\n\r\n0\r\n\r\n${SM}`, max: 0 },
  {
    name: 'TE obs-folded',
    payload: `POST / HTTP/1.1\r\nHost: localhost\r\nX-Foo: a\r\n Transfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\n0\r\n\r\n${SM}`,
    max: 1,
  },
  { name: 'Host obs-folded', payload: `GET /ok HTTP/1.1\r\nHost: localhost\r\n\tforged.example\r\nConnection: close\r\n\r\n`, max: 0 },
  { name: 'duplicate Content-Length', payload: `POST / HTTP/1.1\r\nHost: localhost\r\nContent-Length: 5\r\nContent-Length: 45\r\n\r\nhello${SM}`, max: 0 },
  { name: 'Content-Length list', payload: `POST / HTTP/1.1\r\nHost: localhost\r\nContent-Length: 5, 45\r\n\r\nhello${SM}`, max: 0 },
  { name: 'Content-Length +5', payload: `POST / HTTP/1.1\r\nHost: localhost\r\nContent-Length: +5\r\n\r\nhello${SM}`, max: 0 },
  { name: 'Content-Length hex', payload: `POST / HTTP/1.1\r\nHost: localhost\r\nContent-Length: 0x5\r\n\r\nhello${SM}`, max: 0 },
  {
    name: 'chunk size overflow',
    payload: `POST / HTTP/1.1\r\nHost: localhost\r\nTransfer-Encoding: chunked\r\n\r\nffffffffffffffff1\r\nx\r\n0\r\n\r\n${SM}`,
    max: 0,
  },
  { name: 'chunk without its CRLF', payload: `POST / HTTP/1.1\r\nHost: localhost\r\nTransfer-Encoding: chunked\r\n\r\n1\r\nxx0\r\n\r\n${SM}`, max: 0 },
  {
    name: 'chunk extension with a bare LF',
    payload: `POST / HTTP/1.1\r\nHost: localhost\r\nTransfer-Encoding: chunked\r\n\r\n1;a\nx\r\n0\r\n\r\n${SM}`,
    max: 0,
  },
  { name: 'bare LF line ends', payload: `GET /ok HTTP/1.1\nHost: localhost\nContent-Length: 44\n\n${SM}`, max: 1 },
  { name: 'bare CR in a header', payload: `GET /ok HTTP/1.1\r\nHost: localhost\rX-Forwarded-For: 6.6.6.6\r\nConnection: close\r\n\r\n`, max: 0 },
  { name: 'NUL in a header', payload: `GET /ok HTTP/1.1\r\nHost: localhost\r\nX-A: a\u0000X-Forwarded-For: 6.6.6.6\r\nConnection: close\r\n\r\n`, max: 0 },
  { name: 'absolute-form naming another host', payload: `GET http://forged.example/smuggled HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n`, max: 0 },
  { name: 'absolute-form naming its Host', payload: `GET http://localhost/ok HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n`, max: 1 },
  {
    name: 'absolute-form https with userinfo',
    payload: `GET https://localhost@forged.example/smuggled HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n`,
    max: 0,
  },
  { name: 'two Host headers', payload: `GET /ok HTTP/1.1\r\nHost: localhost\r\nHost: forged.example\r\nConnection: close\r\n\r\n`, max: 0 },
  { name: 'Host with userinfo', payload: `GET /ok HTTP/1.1\r\nHost: localhost@forged.example\r\nConnection: close\r\n\r\n`, max: 0 },
  { name: 'Host with a path', payload: `GET /ok HTTP/1.1\r\nHost: forged.example/smuggled\r\nConnection: close\r\n\r\n`, max: 0 },
  { name: 'no Host (HTTP/1.1)', payload: 'GET /ok HTTP/1.1\r\nConnection: close\r\n\r\n', max: 0 },
  { name: 'HTTP/1.0 without Host', payload: 'GET /ok HTTP/1.0\r\n\r\n', max: 1 },
  { name: 'OPTIONS *', payload: 'OPTIONS * HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n', max: 0 },
  { name: 'CONNECT', payload: 'CONNECT forged.example:443 HTTP/1.1\r\nHost: forged.example:443\r\n\r\n', max: 0 },
  { name: 'request line with junk after the version', payload: `GET /ok HTTP/1.1 x\r\nHost: localhost\r\n\r\n${SM}`, max: 0 },
  { name: 'CRLF in the target', payload: 'GET /ok%0d%0aX-Forwarded-For:%206.6.6.6 HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n', max: 1 },
  { name: 'space in the target', payload: `GET /ok HTTP/1.1 /smuggled HTTP/1.1\r\nHost: localhost\r\n\r\n`, max: 0 },
  { name: 'HTTP/2.0 request line', payload: 'GET /ok HTTP/2.0\r\nHost: localhost\r\n\r\n', max: 0 },
  { name: 'h2 preface over HTTP/1', payload: 'PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n', max: 0 },
  {
    name: 'Upgrade: h2c',
    payload: `GET /ok HTTP/1.1\r\nHost: localhost\r\nUpgrade: h2c\r\nHTTP2-Settings: AAMAAABkAAQCAAAAAAIAAAAA\r\nConnection: Upgrade, HTTP2-Settings\r\n\r\nPRI * HTTP/2.0\r\n\r\nSM\r\n\r\n`,
    max: 1,
  },
  {
    name: 'Upgrade: websocket answered 200, then a second request on the spliced socket',
    payload: `GET /ok HTTP/1.1\r\nHost: localhost\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n${SM}`,
    max: 1,
  },
  {
    name: 'pipelined: two well-formed requests',
    payload: 'GET /ok HTTP/1.1\r\nHost: localhost\r\n\r\nGET /ok HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n',
    max: 2,
  },
  {
    name: 'Expect: 100-continue with a smuggled body',
    payload: `POST /ok HTTP/1.1\r\nHost: localhost\r\nExpect: 100-continue\r\nContent-Length: 44\r\n\r\n${SM}`,
    max: 1,
  },
  { name: 'a 40 KiB header', payload: `GET /ok HTTP/1.1\r\nHost: localhost\r\nX-Big: ${'a'.repeat(40_000)}\r\n\r\n${SM}`, max: 0 },
  { name: 'lower-case method', payload: 'get /ok HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n', max: 0 },
  { name: 'header name with a space', payload: 'GET /ok HTTP/1.1\r\nHost: localhost\r\nX-Forwarded-For : 6.6.6.6\r\nConnection: close\r\n\r\n', max: 0 },
];
const h2cases: Case[] = [
  {
    name: 'h2 baseline with forged forwarded headers',
    payload: h2([
      ...base,
      ['x-forwarded-for', '6.6.6.6'],
      ['x-real-ip', '6.6.6.6'],
      ['forwarded', 'for=6.6.6.6'],
      ['x-forwarded-host', 'forged.example'],
      ['x_forwarded_for', '6.6.6.6'],
    ]),
    max: 1,
  },
  { name: 'h2 :path missing', payload: h2(base.filter(([n]) => n !== ':path')), max: 0 },
  { name: 'h2 :path *', payload: h2(base.map(([n, v]) => [n, n === ':path' ? '*' : v])), max: 0 },
  { name: 'h2 :path empty', payload: h2(base.map(([n, v]) => [n, n === ':path' ? '' : v])), max: 0 },
  { name: 'h2 :path absolute to another host', payload: h2(base.map(([n, v]) => [n, n === ':path' ? 'http://forged.example/smuggled' : v])), max: 0 },
  {
    name: 'h2 :path with a request line in it',
    payload: h2(base.map(([n, v]) => [n, n === ':path' ? `/ok HTTP/1.1\r\nHost: localhost\r\n\r\n${SM}` : v])),
    max: 0,
  },
  { name: 'h2 :method with spaces', payload: h2(base.map(([n, v]) => [n, n === ':method' ? 'GET /smuggled HTTP/1.1\r\nX:' : v])), max: 0 },
  { name: 'h2 duplicate :path', payload: h2([...base, [':path', '/smuggled']]), max: 0 },
  {
    name: 'h2 pseudo-header after a regular one',
    payload: h2([
      [':method', 'GET'],
      [':scheme', 'https'],
      ['x-a', 'b'],
      [':authority', 'localhost'],
      [':path', '/smuggled'],
    ]),
    max: 0,
  },
  { name: 'h2 upper-case header name', payload: h2([...base, ['X-Forwarded-For', '6.6.6.6']]), max: 0 },
  { name: 'h2 :authority vs host', payload: h2([...base, ['host', 'forged.example']]), max: 0 },
  { name: 'h2 host only (no :authority)', payload: h2([...base.filter(([n]) => n !== ':authority'), ['host', 'localhost']]), max: 1 },
  { name: 'h2 connection header', payload: h2([...base, ['connection', 'x-forwarded-for']]), max: 0 },
  {
    name: 'h2 transfer-encoding',
    payload: h2([...base.map(([n, v]): [string, string] => [n, n === ':method' ? 'POST' : v]), ['transfer-encoding', 'chunked']], `0\r\n\r\n${SM}`),
    max: 0,
  },
  { name: 'h2 keep-alive and upgrade headers', payload: h2([...base, ['keep-alive', 'timeout=5'], ['upgrade', 'websocket']]), max: 0 },
  { name: 'h2 te: gzip', payload: h2([...base, ['te', 'gzip']]), max: 0 },
  { name: 'h2 CR LF in a value (the field is dropped)', payload: h2([...base, ['x-a', 'a\r\nX-Forwarded-For: 6.6.6.6']]), max: 1, dropped: 'x-a' },
  { name: 'h2 NUL in a value (the field is dropped)', payload: h2([...base, ['x-a', 'a\u0000b']]), max: 1, dropped: 'x-a' },
  {
    name: 'h2 content-length shorter than DATA',
    payload: h2([...base.map(([n, v]): [string, string] => [n, n === ':method' ? 'POST' : v]), ['content-length', '5']], `hello${SM}`),
    max: 0,
  },
  {
    name: 'h2 content-length: two values',
    payload: h2([...base.map(([n, v]): [string, string] => [n, n === ':method' ? 'POST' : v]), ['content-length', '5, 44']], `hello${SM}`),
    max: 0,
  },
  {
    name: 'h2 :scheme http on TLS, forged forwarded-proto',
    payload: h2([...base.map(([n, v]): [string, string] => [n, n === ':scheme' ? 'http' : v]), ['x-forwarded-proto', 'http']]),
    max: 1,
  },
  {
    name: 'h2 CONNECT',
    payload: h2([
      [':method', 'CONNECT'],
      [':authority', 'forged.example:443'],
    ]),
    max: 0,
  },
];

try {
  await bounded('serve start', 20_000, async () => {
    while (!serve.err().includes('https://localhost')) {
      if (serve.child.exitCode !== null) throw new Error(`serve exited: ${serve.err()}`);
      await sleep(50);
    }
  });
  const ca = readFileSync(join(data, 'local-ca', 'root.pem'), 'utf8');
  const runCase = async (c: Case, where: string, port: number, tls: 'h1' | 'h2' | null): Promise<void> => {
    const before = seen.length;
    const answer = await exchange(port, c.payload, tls, 700, ca);
    await sleep(150);
    const got = seen.slice(before);
    const bad: string[] = [];
    if (got.length > c.max)
      bad.push(`${got.length} requests reached the app (at most ${c.max} were well-formed): ${got.map((g) => `${g.method} ${g.url.slice(0, 60)}`).join(', ')}`);
    for (const g of got) {
      if (/smuggled/.test(g.url) || /smuggled/.test(g.method)) bad.push(`the app got ${g.method} ${g.url.slice(0, 80)}`);
      if (c.dropped && g.raw.toLowerCase().split('\n').includes(c.dropped)) bad.push(`the invalid field ${c.dropped} reached the app`);
      if (/6\.6\.6\.6|forged\.example/.test(g.raw))
        bad.push(
          `a forged header reached the app: ${g.raw
            .split('\n')
            .filter((l, i, a) => /6\.6\.6\.6|forged/.test(l) || /6\.6\.6\.6|forged/.test(a[i + 1] ?? ''))
            .join(' ')}`,
        );
    }
    if (bad.length && process.env.RELIABILITY_DEBUG) for (const g of got) console.log(JSON.stringify(g).slice(0, 800));
    S.check(
      `${where} ${c.name}`,
      bad.length === 0,
      bad.length
        ? `${bad.join('; ')} (the client saw: ${JSON.stringify(answer.slice(0, 80))})`
        : `${got.length} reached the app; answer ${JSON.stringify(answer.split('\r\n')[0]?.slice(0, 40) ?? '')}`,
    );
  };
  for (const c of h1) {
    await runCase(c, 'http:', http, null);
    await runCase(c, 'https:', https, 'h1');
  }
  for (const c of h2cases) await runCase(c, 'h2:', https, 'h2');
  const alive = await exchange(http, 'GET /alive HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n', null);
  S.check('serve answers normally after the corpus', /^HTTP\/1\.1 200 /.test(alive) && serve.child.exitCode === null);
  S.figure('cases', (h1.length * 2 + h2cases.length).toString());
  S.figure('requests the app received', seen.length);
} catch (err) {
  S.check('the smuggling part ran to its end', false, (err as Error).stack ?? String(err));
} finally {
  await stop(serve);
  app.closeAllConnections();
  app.close();
}
S.finish();
