/**
 * Part 5, secrets: first provokes the outputs most likely to quote a key (decode, a damaged key,
 * trust add of a key, config files and flags that carry key material where a URL or an email
 * belongs); then scans every log line the suite's processes wrote (OUT/logs: serve's stderr and
 * stdout, every CLI run) for PEM private key blocks and for base64 that matches any private key
 * the suite generated or found in a data directory (32-character windows of its DER and PEM body).
 * Key files written by certgate must be mode 0600 (recorded by each part in OUT/modes.jsonl).
 */
import { generateKeyPairSync } from 'node:crypto';
import { appendFileSync, existsSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { cleanEnv, cli, OUT, Summary } from './lib.ts';

const S = new Summary('secrets');
const work = join(OUT, 'secrets');
rmSync(work, { recursive: true, force: true });
const { mkdirSync } = await import('node:fs');
mkdirSync(work, { recursive: true });
const keysFile = join(OUT, 'keys.b64');
if (!existsSync(keysFile)) writeFileSync(keysFile, '', { mode: 0o600 });

// ---------- provoke ----------
const ec = generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey;
const rsa = generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey;
const ecPem = ec.export({ type: 'pkcs8', format: 'pem' }) as string;
const rsaPem = rsa.export({ type: 'pkcs1', format: 'pem' }) as string;
for (const k of [ec, rsa]) appendFileSync(keysFile, `${k.export({ type: 'pkcs8', format: 'der' }).toString('base64')}\n`);
for (const pem of [ecPem, rsaPem]) appendFileSync(keysFile, `${pem.replace(/-----[^-]+-----/g, '').replace(/\s+/g, '')}\n`);
const body = (pem: string) => pem.replace(/-----[^-]+-----/g, '').replace(/\s+/g, '');
writeFileSync(join(work, 'ec.pem'), ecPem, { mode: 0o600 });
writeFileSync(join(work, 'rsa.pem'), rsaPem, { mode: 0o600 });
const damaged = rsaPem.replace(/(\n[A-Za-z0-9+/]{10})[A-Za-z0-9+/]/, '$1!');
writeFileSync(join(work, 'damaged.pem'), damaged, { mode: 0o600 });
writeFileSync(join(work, 'bare.txt'), body(ecPem), { mode: 0o600 });
writeFileSync(join(work, 'c1.yaml'), `upstream: "${ecPem.replace(/\n/g, '\\n')}"\n`, { mode: 0o600 });
writeFileSync(join(work, 'c2.yaml'), `acme:\n  agreeToTerms: true\n  email: ${body(rsaPem).slice(0, 300)}\n`, { mode: 0o600 });
writeFileSync(join(work, 'c3.yaml'), `${body(ecPem)}: 1\n`, { mode: 0o600 });
writeFileSync(join(work, 'c4.json'), `{"upstream": "http://127.0.0.1:1", "${body(ecPem)}": true}`, { mode: 0o600 });
writeFileSync(
  join(work, 'r.yaml'),
  `name: r\nkind: postgres\nhost: db\ntls:\n  clientKey: |\n${ecPem
    .split('\n')
    .map((l) => `    ${l}`)
    .join('\n')}\n`,
);
writeFileSync(join(work, 'r2.yaml'), `name: r2\nkind: postgres\nhost: db\n${body(ecPem)}: x\n`);
writeFileSync(join(work, 'r3.json'), `{"name": "r3", "kind": "redis", "host": "db", "tls": {"mode": "${body(ecPem)}"}}`);
const env = cleanEnv({ CERTGATE_DATA: join(work, 'data') });
const runs: Array<[string, string[]]> = [
  ['decode a key', ['decode', join(work, 'ec.pem')]],
  ['decode --json a key', ['decode', '--json', join(work, 'rsa.pem')]],
  ['decode a damaged key', ['decode', join(work, 'damaged.pem')]],
  ['decode a bare base64 key', ['decode', join(work, 'bare.txt')]],
  ['trust add a key', ['trust', 'add', join(work, 'ec.pem'), '--yes']],
  ['serve --config with a key as upstream', ['serve', '--config', join(work, 'c1.yaml'), '--https-port', '0', '--http-port', '0']],
  ['serve --config with key base64 as email', ['serve', '--config', join(work, 'c2.yaml'), '--https-port', '0', '--http-port', '0']],
  ['serve --config with key base64 as a field name', ['serve', '--config', join(work, 'c3.yaml'), '--https-port', '0', '--http-port', '0']],
  ['serve --config (JSON) with key base64 as a field name', ['serve', '--config', join(work, 'c4.json'), '--https-port', '0', '--http-port', '0']],
  ['serve --upstream key base64', ['serve', '--upstream', body(ecPem).slice(0, 200), '--https-port', '0', '--http-port', '0']],
  ['issue with key base64 as the name', ['issue', body(ecPem).slice(0, 200)]],
  ['domains add with key base64 as the name', ['domains', 'add', `${body(ecPem).slice(0, 120)}.example.com`]],
  ['resources import with key base64 as a field name', ['resources', 'import', join(work, 'r2.yaml')]],
  ['resources import with key base64 as the mode', ['resources', 'import', join(work, 'r3.json')]],
  ['decode --password-file holding a key', ['decode', '--password-file', join(work, 'ec.pem'), join(work, 'rsa.pem')]],
  ['resources import with an inline client key', ['resources', 'import', join(work, 'r.yaml')]],
  ['decode --debug a damaged key', ['decode', '--debug', join(work, 'damaged.pem')]],
];
/** Known leaks in code the lead owns (src/acme/issuer.ts, src/store/names.ts): logged apart, reported as KNOWN. */
const KNOWN = new Set(['serve --config with key base64 as email', 'issue with key base64 as the name', 'domains add with key base64 as the name']);
for (const [what, args] of runs) {
  const r = await cli(args, env, { log: KNOWN.has(what) ? 'secrets-known' : 'secrets-cli', timeoutMs: 20_000 });
  S.check(`${what}: ends (exit ${r.code})`, !r.timedOut, r.err.split('\n')[0]?.slice(0, 120));
}

// ---------- scan ----------
const WINDOW = 32;
const windows = new Set<string>();
for (const line of readFileSync(keysFile, 'utf8').split('\n')) {
  const k = line.trim();
  // Skip the algorithm header every PKCS#8 key of a type shares (the first 36 characters).
  for (let i = 36; i + WINDOW <= k.length; i++) windows.add(k.slice(i, i + WINDOW));
}
S.figure('private keys known to the scan', readFileSync(keysFile, 'utf8').split('\n').filter(Boolean).length);
const logDir = join(OUT, 'logs');
let lines = 0;
let bytes = 0;
const pemHits: string[] = [];
const b64Hits: string[] = [];
const knownHits: string[] = [];
for (const f of readdirSync(logDir)) {
  const hits = f === 'secrets-known.log' ? knownHits : b64Hits;
  const text = readFileSync(join(logDir, f), 'latin1');
  bytes += text.length;
  for (const line of text.split('\n')) {
    lines++;
    if (/-----BEGIN [A-Z ]*PRIVATE KEY-----/.test(line) && pemHits.length < 10) pemHits.push(`${f}: ${line.slice(0, 100)}`);
    // JSON escapes and PEM line breaks: look at the base64 alphabet runs.
    for (const m of line.replace(/\\n|\\r|\\\//g, '').matchAll(/[A-Za-z0-9+/=]{32,}/g)) {
      const run = m[0];
      for (let i = 0; i + WINDOW <= run.length; i++) {
        if (windows.has(run.slice(i, i + WINDOW))) {
          if (hits.length < 10) hits.push(`${f}: …${run.slice(Math.max(0, i - 8), i + 40)}…`);
          break;
        }
      }
    }
  }
}
S.figure('log lines scanned', `${lines} (${(bytes / 1e6).toFixed(1)} MB in ${readdirSync(logDir).length} files)`);
S.check('no PEM private key block in any log line', pemHits.length === 0, pemHits.join(' | '));
S.check('no base64 of a private key in any log line', b64Hits.length === 0, b64Hits.join(' | '));
S.known(
  'no base64 of a private key quoted back as an ACME email or a domain name',
  knownHits.length === 0,
  `${knownHits.length} lines: E_ACME_EMAIL (src/acme/issuer.ts) and E_DOMAIN_INVALID (src/store/names.ts) quote the input raw`,
);

const modes = existsSync(join(OUT, 'modes.jsonl'))
  ? readFileSync(join(OUT, 'modes.jsonl'), 'utf8')
      .split('\n')
      .filter(Boolean)
      .map((l) => JSON.parse(l) as { part: string; files: number; badModes: string[] })
  : [];
const files = modes.reduce((a, m) => a + m.files, 0);
const badModes = modes.flatMap((m) => m.badModes);
S.figure('key files certgate wrote (checked for 0600)', files);
S.check('every key file certgate wrote is mode 0600', badModes.length === 0, badModes.slice(0, 5).join('; '));
rmSync(keysFile, { force: true });
S.finish();
