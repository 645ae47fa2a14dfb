/**
 * Part 4, TLS grade: Debian's testssl (3.0.8: no rating, so the summary is the findings) against
 * `certgate serve`, Caddy and nginx in one run, on loopback, on certificates from one CA: certgate's
 * local CA, created now. testssl connects to 127.0.0.1 (no SNI), so every server shows its
 * localhost leaf.
 * Passes when certgate has no finding (severity LOW or above) that Caddy lacks.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { freePort } from '../test/helpers/daemons.ts';
import { BIN, bounded, type Child, cleanEnv, collectKeys, OUT, QUICK, Summary, sleep, spawnLogged, stop } from './lib.ts';

const S = new Summary('tls-grade');
const work = join(OUT, 'tls');
rmSync(work, { recursive: true, force: true });
mkdirSync(work, { recursive: true });

// The fair setup: certgate serves its own local CA's certificate for localhost (the no-SNI
// default, 7 days, the leaf alone); Caddy and nginx get a leaf from the same local CA with the
// same names, key type, lifetime and chain (the leaf alone). Stored ACME certificates are not
// loaded by a serve without ACME settings (see RELIABILITY.md), so the local CA is the one path
// every server can share without a CA on the network.
const data = join(work, 'certgate');
const made = spawnSync(process.execPath, [BIN, 'local-ca', 'path', '--data', data], { env: cleanEnv(), encoding: 'utf8' });
if (made.status !== 0) throw new Error(`local-ca path: ${made.stderr}`);
const rootPem = join(data, 'local-ca', 'root.pem');
const rootKey = join(data, 'local-ca', 'root.key');
const certFile = join(work, 'leaf.pem');
const keyFile = join(work, 'leaf.key');
writeFileSync(
  join(work, 'ext.cnf'),
  'subjectAltName=DNS:localhost,IP:127.0.0.1\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=serverAuth\nbasicConstraints=critical,CA:FALSE\n',
);
for (const args of [
  [
    'req',
    '-new',
    '-newkey',
    'ec',
    '-pkeyopt',
    'ec_paramgen_curve:P-256',
    '-nodes',
    '-keyout',
    keyFile,
    '-subj',
    '/CN=localhost',
    '-out',
    join(work, 'leaf.csr'),
  ],
  [
    'x509',
    '-req',
    '-in',
    join(work, 'leaf.csr'),
    '-CA',
    rootPem,
    '-CAkey',
    rootKey,
    '-CAcreateserial',
    '-days',
    '7',
    '-sha256',
    '-extfile',
    join(work, 'ext.cnf'),
    '-out',
    certFile,
  ],
]) {
  const r = spawnSync('openssl', args, { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`openssl ${args[0]}: ${r.stderr}`);
}

const app = createServer((_req, res) => res.end('ok'));
await new Promise<void>((r) => app.listen(0, '127.0.0.1', r));
const appPort = (app.address() as AddressInfo).port;

const servers: Array<{ name: string; child: Child; port: number }> = [];
async function waitPort(c: Child, port: number): Promise<void> {
  const { connect } = await import('node:net');
  await bounded(`port ${port}`, 20_000, async () => {
    for (;;) {
      if (c.child.exitCode !== null) throw new Error(`exited: ${c.err()}`);
      const ok = await new Promise<boolean>((r) => {
        const s = connect({ port, host: '127.0.0.1' }, () => {
          s.destroy();
          r(true);
        });
        s.on('error', () => r(false));
      });
      if (ok) return;
      await sleep(100);
    }
  });
}

try {
  {
    const [port, http] = [await freePort(), await freePort()];
    writeFileSync(join(work, 'certgate.yaml'), `upstream: http://127.0.0.1:${appPort}\nlisten: { https: ${port}, http: ${http}, host: 127.0.0.1 }\n`);
    const c = spawnLogged('tls-certgate', process.execPath, [BIN, 'serve', '--config', join(work, 'certgate.yaml')], {
      env: cleanEnv({ CERTGATE_DATA: data }),
    });
    servers.push({ name: 'certgate', child: c, port });
    await waitPort(c, port);
    collectKeys(data, 'tls-grade');
  }
  if (existsSync('/usr/bin/caddy')) {
    const port = await freePort();
    // skip_install_trust: otherwise Caddy, as root, installs its local CA into the machine's trust store.
    writeFileSync(
      join(work, 'Caddyfile'),
      `{\n  admin off\n  auto_https off\n  default_sni localhost\n  skip_install_trust\n  storage file_system ${join(work, 'caddy-data')}\n}\nhttps://127.0.0.1:${port}, https://localhost:${port} {\n  bind 127.0.0.1\n  tls ${certFile} ${keyFile}\n  log {\n    output discard\n  }\n  reverse_proxy 127.0.0.1:${appPort}\n}\n`,
    );
    const c = spawnLogged('tls-caddy', '/usr/bin/caddy', ['run', '--config', join(work, 'Caddyfile'), '--adapter', 'caddyfile'], {
      env: cleanEnv({ XDG_DATA_HOME: join(work, 'caddy-xdg'), XDG_CONFIG_HOME: join(work, 'caddy-xdg') }),
    });
    servers.push({ name: 'caddy', child: c, port });
    await waitPort(c, port);
  }
  if (existsSync('/usr/sbin/nginx')) {
    const port = await freePort();
    const temp = ['client_body', 'proxy', 'fastcgi', 'uwsgi', 'scgi'].map((k) => `  ${k}_temp_path ${work}/${k};`).join('\n');
    // Debian's nginx defaults, as an operator gets them: no ssl_protocols/ciphers lines.
    writeFileSync(
      join(work, 'nginx.conf'),
      `worker_processes 1;\nerror_log ${work}/nginx-error.log;\npid ${work}/nginx.pid;\nevents { worker_connections 1024; }\nhttp {\n  access_log off;\n${temp}\n  server {\n    listen 127.0.0.1:${port} ssl http2 default_server;\n    ssl_certificate ${certFile};\n    ssl_certificate_key ${keyFile};\n    location / { proxy_pass http://127.0.0.1:${appPort}; }\n  }\n}\n`,
    );
    const c = spawnLogged('tls-nginx', '/usr/sbin/nginx', ['-c', join(work, 'nginx.conf'), '-g', 'daemon off;', '-p', work], { env: cleanEnv() });
    servers.push({ name: 'nginx', child: c, port });
    await waitPort(c, port);
  }

  // testssl for each, all at once (each is mostly waiting on its openssl children).
  interface Finding {
    id: string;
    severity: string;
    finding: string;
  }
  const results = new Map<string, Finding[]>();
  const args = QUICK ? ['-p', '-s', '-f', '-P', '-S', '-U', '-h'] : [];
  await Promise.all(
    servers.map(async (s) => {
      const json = join(work, `testssl-${s.name}.json`);
      rmSync(json, { force: true });
      const t = spawnLogged(
        `tls-testssl-${s.name}`,
        '/usr/bin/testssl',
        ['--quiet', '--color', '0', '--warnings', 'off', '--jsonfile', json, ...args, `127.0.0.1:${s.port}`],
        {
          env: cleanEnv({ TERM: 'dumb' }),
        },
      );
      const timer = setTimeout(() => t.child.kill('SIGKILL'), QUICK ? 240_000 : 480_000);
      await t.exited;
      clearTimeout(timer);
      results.set(s.name, existsSync(json) ? (JSON.parse(readFileSync(json, 'utf8')) as Finding[]) : []);
    }),
  );
  const bad = (f: Finding) => ['LOW', 'MEDIUM', 'HIGH', 'CRITICAL'].includes(f.severity);
  const by = (name: string) => results.get(name) ?? [];
  const val = (name: string, id: string) => by(name).find((f) => f.id === id)?.finding ?? '–';
  const names = servers.map((s) => s.name);
  const rows: string[][] = [];
  for (const id of ['SSLv2', 'SSLv3', 'TLS1', 'TLS1_1', 'TLS1_2', 'TLS1_3', 'ALPN_HTTP2']) rows.push([id, ...names.map((n) => val(n, id))]);
  const ciphers = (n: string) => by(n).filter((f) => /^cipher-tls|^cipher_x/.test(f.id)).length;
  rows.push(['ciphers offered (cipher-* lines)', ...names.map((n) => String(ciphers(n) || '–'))]);
  for (const id of [
    'cipherlist_NULL',
    'cipherlist_aNULL',
    'cipherlist_EXPORT',
    'cipherlist_LOW',
    'cipherlist_3DES_IDEA',
    'cipherlist_AVERAGE',
    'cipherlist_STRONG',
    'cipherorder_TLSv1_2',
    'cipherorder_TLSv1_3',
    'cipher_order',
    'PFS_ECDHE_curves',
    'TLS_session_ticket',
    'HSTS',
    'OCSP_stapling',
  ])
    rows.push([id, ...names.map((n) => val(n, id).slice(0, 120))]);
  const vulns = [
    'heartbleed',
    'CCS',
    'ticketbleed',
    'ROBOT',
    'secure_renego',
    'secure_client_renego',
    'CRIME_TLS',
    'BREACH',
    'POODLE_SSL',
    'fallback_SCSV',
    'SWEET32',
    'FREAK',
    'DROWN',
    'LOGJAM',
    'BEAST',
    'LUCKY13',
    'RC4',
  ];
  for (const id of vulns) rows.push([id, ...names.map((n) => val(n, id).slice(0, 50))]);
  rows.push(['findings LOW or above', ...names.map((n) => String(by(n).filter(bad).length))]);
  const table = [
    `| check | ${names.join(' | ')} |`,
    `|---|${names.map(() => '---').join('|')}|`,
    ...rows.map((r) => `| ${r.map((c) => c.replace(/\|/g, '/')).join(' | ')} |`),
  ].join('\n');
  writeFileSync(join(OUT, 'tls-table.md'), `${table}\n`);
  console.log(table);
  for (const n of names) {
    S.figure(
      `${n}: findings LOW or above`,
      by(n)
        .filter(bad)
        .map((f) => `${f.id} (${f.severity}: ${f.finding.slice(0, 60)})`)
        .join('; ') || 'none',
    );
  }
  S.check(
    'testssl produced results for every server',
    names.every((n) => by(n).length > 10),
    names.map((n) => `${n} ${by(n).length}`).join(', '),
  );
  const caddyIds = new Set(
    by('caddy')
      .filter(bad)
      .map((f) => f.id),
  );
  const onlyCertgate = by('certgate').filter((f) => bad(f) && !caddyIds.has(f.id));
  S.check('certgate has no finding Caddy lacks', onlyCertgate.length === 0, onlyCertgate.map((f) => `${f.id}: ${f.severity} ${f.finding}`).join('; '));
} catch (err) {
  S.check('the TLS part ran to its end', false, (err as Error).stack ?? String(err));
} finally {
  for (const s of servers) await stop(s.child);
  app.close();
}
S.finish();
