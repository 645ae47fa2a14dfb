/**
 * Part 3a, hostile input: generated inputs (mutations of valid samples: bit flips, truncation,
 * splicing, length fields, insertions; and random bytes) through every parser that reads what an
 * operator or a peer hands certgate: certificates and keys (parseInput: PEM, DER, PKCS#7,
 * PKCS#12, keys), config files (parseConfigDoc + the settings resolver), resource files,
 * ACME problem documents, forwarded headers (TrustedProxies.read + forwardHeaders). Passes when
 * nothing throws anything but a CertgateError and no input takes over 1 s.
 *
 * RELIABILITY_FUZZ_COUNT=N overrides the count (full: 1,000,000; quick: 30,000).
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import type { IncomingHttpHeaders } from 'node:http';
import { join } from 'node:path';
import { explainProblem, isProblem } from '../src/acme/problems.ts';
import { parseConfigDoc } from '../src/cli/settings/load.ts';
import { SERVE_TABLE } from '../src/cli/settings/rows.ts';
import { resolve } from '../src/cli/settings/table.ts';
import { TrustedProxies } from '../src/edge/forwarded.ts';
import { forwardHeaders } from '../src/edge/proxy.ts';
import { CertgateError } from '../src/errors.ts';
import { createCertificate } from '../src/pki/generate.ts';
import { parseInput } from '../src/pki/parse.ts';
import { parseResourceText } from '../src/profiles/registry.ts';
import { OUT, QUICK, rng, SEED, Summary } from './lib.ts';

const S = new Summary('hostile');
const COUNT = Number(process.env.RELIABILITY_FUZZ_COUNT ?? (QUICK ? 30_000 : 1_000_000));
const rand = rng(SEED);
const int = (n: number) => Math.floor(rand() * n);
const pick = <T>(xs: readonly T[]): T => xs[int(xs.length)] as T;

// ---------- samples, generated now ----------

const dir = join(OUT, 'hostile');
mkdirSync(dir, { recursive: true });
const root = await createCertificate({ subject: 'CN=Hostile Root, O=certgate reliability', ca: true });
const inter = await createCertificate({ subject: 'CN=Hostile Intermediate', ca: { pathLength: 0 }, issuer: root });
const leaf = await createCertificate({
  subject: 'CN=app.test',
  issuer: inter,
  dns: ['app.test', 'localhost'],
  ip: ['127.0.0.1'],
  caIssuersUrl: 'http://127.0.0.1/x',
});
const rsa = await createCertificate({ subject: 'CN=rsa.test', issuer: inter, key: 'rsa-2048', dns: ['rsa.test'] });
writeFileSync(join(dir, 'leaf.pem'), leaf.certPem);
writeFileSync(join(dir, 'inter.pem'), inter.certPem);
writeFileSync(join(dir, 'key.pem'), leaf.keyPem, { mode: 0o600 });
const ossl = (args: string[]) => execFileSync('openssl', args, { stdio: ['ignore', 'pipe', 'ignore'] });
const p7 = ossl(['crl2pkcs7', '-nocrl', '-certfile', join(dir, 'leaf.pem'), '-certfile', join(dir, 'inter.pem'), '-outform', 'DER']);
const p7pem = ossl(['crl2pkcs7', '-nocrl', '-certfile', join(dir, 'leaf.pem')]);
const p12 = ossl([
  'pkcs12',
  '-export',
  '-in',
  join(dir, 'leaf.pem'),
  '-inkey',
  join(dir, 'key.pem'),
  '-certfile',
  join(dir, 'inter.pem'),
  '-passout',
  'pass:x',
]);
let p12legacy: Buffer | null = null;
try {
  p12legacy = ossl(['pkcs12', '-export', '-legacy', '-in', join(dir, 'leaf.pem'), '-inkey', join(dir, 'key.pem'), '-passout', 'pass:x']);
} catch {
  // no legacy provider here
}
const { createPrivateKey } = await import('node:crypto');
const ecKey = createPrivateKey(leaf.keyPem);
const rsaKey = createPrivateKey(rsa.keyPem);
const keyPems = [
  ecKey.export({ type: 'pkcs8', format: 'pem' }) as string,
  ecKey.export({ type: 'sec1', format: 'pem' }) as string,
  rsaKey.export({ type: 'pkcs1', format: 'pem' }) as string,
  ecKey.export({ type: 'pkcs8', format: 'pem', cipher: 'aes-128-cbc', passphrase: 'x' }) as string,
  rsaKey.export({ type: 'pkcs1', format: 'pem', cipher: 'aes-128-cbc', passphrase: 'x' }) as string,
];
const keyDers = [
  ecKey.export({ type: 'pkcs8', format: 'der' }),
  ecKey.export({ type: 'sec1', format: 'der' }),
  rsaKey.export({ type: 'pkcs1', format: 'der' }),
];
const binary: Uint8Array[] = [leaf.der, inter.der, rsa.der, p7, p12, ...(p12legacy ? [p12legacy] : []), ...keyDers];
const textual: string[] = [leaf.certPem + inter.certPem, root.certPem, p7pem.toString(), ...keyPems, `subject=CN=x\n${leaf.certPem}\ntrailing text`];

// ---------- mutations ----------

function mutateBytes(src: Uint8Array): Uint8Array {
  const b = Buffer.from(src);
  switch (int(8)) {
    case 0: {
      for (let k = 1 + int(4); k > 0; k--) {
        const i = int(b.length);
        b[i] = (b[i] as number) ^ (1 << int(8));
      }
      return b;
    }
    case 1:
      return b.subarray(0, int(b.length));
    case 2: {
      const other = pick(binary);
      const at = int(b.length);
      const from = int(other.length);
      return Buffer.concat([b.subarray(0, at), other.subarray(from, from + int(200))]);
    }
    case 3: {
      // A length field: after a tag, the long-form length bytes set to something large or small.
      for (let tries = 0; tries < 20; tries++) {
        const i = 1 + int(b.length - 2);
        if (b[i] === 0x81 || b[i] === 0x82 || b[i] === 0x83) {
          const n = (b[i] as number) & 0x7f;
          for (let k = 1; k <= n && i + k < b.length; k++) b[i + k] = pick([0x00, 0xff, 0x7f, 0x80, int(256)]);
          return b;
        }
      }
      b[int(b.length)] = pick([0x84, 0x88, 0xff, 0x80]);
      return b;
    }
    case 4: {
      const at = int(b.length);
      const junk = Buffer.alloc(1 + int(16));
      for (let k = 0; k < junk.length; k++) junk[k] = int(256);
      return Buffer.concat([b.subarray(0, at), junk, b.subarray(at)]);
    }
    case 5: {
      // A nested copy of itself: deep or repeated structure.
      const times = 1 + int(50);
      return Buffer.concat(Array.from({ length: times }, () => b.subarray(0, 1 + int(b.length))));
    }
    case 6: {
      const bytes = Buffer.alloc(int(400));
      for (let k = 0; k < bytes.length; k++) bytes[k] = int(256);
      if (bytes.length && rand() < 0.5) bytes[0] = 0x30;
      return bytes;
    }
    default: {
      const at = int(b.length);
      return Buffer.concat([b.subarray(0, at), b.subarray(at + 1 + int(20))]);
    }
  }
}

function mutateText(src: string): string {
  switch (int(7)) {
    case 0: {
      // The PEM payload mutated as DER, then encoded again: gets past the base64 check.
      const m = /-----BEGIN ([^-]+)-----([\s\S]*?)-----END \1-----/.exec(src);
      if (!m) return src.slice(0, int(src.length));
      const der = mutateBytes(Buffer.from((m[2] as string).replace(/\s+/g, ''), 'base64'));
      const b64 = (
        Buffer.from(der)
          .toString('base64')
          .match(/.{1,64}/g) ?? []
      ).join('\n');
      return src.replace(m[0], `-----BEGIN ${m[1]}-----\n${b64}\n-----END ${m[1]}-----`);
    }
    case 1:
      return src.slice(0, int(src.length));
    case 2: {
      const i = int(src.length);
      return src.slice(0, i) + pick(['\r\n', '\0', '-----', '=', '\u2028', 'Proc-Type: 4,ENCRYPTED\nDEK-Info: AES-128-CBC,00\n\n', '%%%%', ' ']) + src.slice(i);
    }
    case 3:
      return src + pick(textual).slice(int(200));
    case 4:
      return src.replaceAll('\n', pick(['\r\n', '\r', '\n\n', ' ']));
    case 5:
      return `-----BEGIN CERTIFICATE-----\n${'A'.repeat(int(5000))}\n-----END CERTIFICATE-----\n`.repeat(1 + int(3));
    default:
      return src
        .split('')
        .map((c) => (rand() < 0.01 ? String.fromCharCode(int(128)) : c))
        .join('');
  }
}

const CONFIGS = [
  'upstream: http://127.0.0.1:3000\nlisten: { https: 8443, http: 8080 }\nhsts: { maxAge: 31536000, includeSubDomains: false, preload: false }\n',
  'mode: production\nroutes:\n  api.example.com: http://127.0.0.1:4000\nonDemand: { perMinute: 30, perClient: 10, wait: 20s }\ndomain: app.example.com\nacme:\n  directory: letsencrypt\n  email: ops@example.com\n  agreeToTerms: true\n  challenges: [http-01, tls-alpn-01]\nmaintenanceInterval: 24h\nworkers: auto\n',
  '{"upstream":"http://127.0.0.1:3000","behindProxy":{"trustedProxies":["10.0.0.0/8"],"tls":false},"defaultSni":"app.example.com"}',
  'a: &a [1, 2]\nb: [*a, *a, *a]\n',
  '',
];
const RESOURCES = [
  'name: orders-db\nkind: postgres\nhost: db.internal\nport: 5432\ndatabase: orders\nuser: app\npassword: { env: ORDERS_DB_PASSWORD }\ntls:\n  mode: full\n  servername: db.internal\n  useTrustStore: true\n',
  `name: api\nkind: https\nurl: https://api.internal/health\ntls:\n  mode: pinned\n  pins: [sha256//AAAA]\n  ca: |\n${root.certPem
    .split('\n')
    .map((l) => `    ${l}`)
    .join('\n')}\n`,
  '{"name":"cache","kind":"redis","host":"127.0.0.1","tls":{"mode":"verify-ca","clientKey":{"file":"/run/k"}}}',
];
const YAML_GAMES = [
  '&a [*a]',
  '[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[]]]]',
  '{a: 1, a: 2}',
  '!!binary AAAA',
  '!!js/function "x"',
  '? [a, b]\n: c',
  '__proto__: { polluted: true }',
  'constructor: { prototype: { x: 1 } }',
  'listen: { https: 99999999999999999999 }',
  'upstream: "http://[::1"',
  'hsts: { maxAge: -1 }',
  'workers: 1e400',
  '%YAML 9.9\n---\na: 1',
  '---\na: 1\n---\nb: 2',
  '\uFEFFupstream: x',
  'a: &x\n  b: &y [*x]',
];
/** Big documents: 1 in 100 games, they cost milliseconds each. */
const BIG_GAMES = [`x: ${'a'.repeat(100_000)}`, `x: [${'1,'.repeat(20_000)}1]`, `${'- '.repeat(60)}x`, 'x: &a\n' + '  - *a\n'.repeat(50)];

function mutateYaml(src: string): string {
  switch (int(6)) {
    case 0:
      return rand() < 0.01 ? pick(BIG_GAMES) : pick(YAML_GAMES);
    case 1:
      return src + pick(YAML_GAMES);
    case 2: {
      const lines = src.split('\n');
      const i = int(lines.length);
      lines.splice(i, 0, pick(YAML_GAMES).slice(0, 200));
      return lines.join('\n');
    }
    default:
      return mutateText(src);
  }
}

const context = { root: false, command: 'serve', cwd: dir, env: { HOME: dir } };

function randomJson(depth = 0): unknown {
  switch (int(depth > 3 ? 5 : 8)) {
    case 0:
      return null;
    case 1:
      return int(1000) - 500;
    case 2:
      return pick(['', 'x', 'urn:ietf:params:acme:error:rateLimited', 'urn:ietf:params:acme:error:', '\u0000', 'a'.repeat(int(5000))]);
    case 3:
      return rand() < 0.5;
    case 4:
      return Number.NaN;
    case 5:
      return Array.from({ length: int(4) }, () => randomJson(depth + 1));
    default: {
      const o: Record<string, unknown> = {};
      for (let k = int(5); k > 0; k--)
        o[pick(['type', 'detail', 'status', 'subproblems', 'identifier', 'value', 'retryAfter', '__proto__', 'x'])] = randomJson(depth + 1);
      return o;
    }
  }
}

const ACME_TYPES = [
  'rateLimited',
  'connection',
  'dns',
  'caa',
  'unauthorized',
  'invalidContact',
  'badNonce',
  'serverInternal',
  'rejectedIdentifier',
  'malformed',
  'x',
].map((t) => `urn:ietf:params:acme:error:${t}`);

function problemInput(): unknown {
  const p = randomJson(1) as Record<string, unknown>;
  if (typeof p === 'object' && p !== null && !Array.isArray(p) && rand() < 0.8) {
    p.type = pick(ACME_TYPES);
    if (rand() < 0.5) p.subproblems = randomJson(1);
    if (rand() < 0.5) p.detail = randomJson(2);
  }
  return p;
}

const HEADER_NAMES = [
  'x-forwarded-for',
  'x-forwarded-proto',
  'x-forwarded-host',
  'x-forwarded-port',
  'forwarded',
  'x-real-ip',
  'host',
  ':authority',
  'connection',
  'x_forwarded_for',
  'true-client-ip',
  'cf-connecting-ip',
  'x-original-url',
  'te',
  'upgrade',
  'keep-alive',
  'transfer-encoding',
  'content-length',
  'x-app',
];
const HEADER_VALUES = [
  '1.2.3.4',
  '127.0.0.1, 10.0.0.1',
  'https',
  'http',
  'ftp',
  '::1',
  '[::1]:8443',
  '65536',
  '443, 80',
  'x-forwarded-for',
  'close, x-real-ip',
  'for=1.2.3.4',
  '',
];

function randomHeaders(): IncomingHttpHeaders {
  const h: Record<string, string | string[]> = {};
  for (let k = int(8); k >= 0; k--) {
    const name = rand() < 0.9 ? pick(HEADER_NAMES) : String.fromCharCode(97 + int(26)).repeat(1 + int(5));
    let value = rand() < 0.8 ? pick(HEADER_VALUES) : mutateText(pick(HEADER_VALUES) + 'x'.repeat(int(10)));
    if (rand() < 0.005) value = value.repeat(2000);
    value = value.replace(/[\r\n\0]/g, ''); // Node's HTTP parsers refuse these in a header value
    h[name] = rand() < 0.1 ? [value, pick(HEADER_VALUES)] : value;
  }
  return h as IncomingHttpHeaders;
}

const proxies = new TrustedProxies(['10.0.0.0/8', '127.0.0.1']);
const none = new TrustedProxies(null);

// ---------- the families ----------

type Family = { name: string; weight: number; run: () => void };
const families: Family[] = [
  { name: 'binary (DER, PKCS#7, PKCS#12, keys)', weight: 30, run: () => void parseInput(mutateBytes(pick(binary)), { password: 'x' }) },
  { name: 'PEM text', weight: 20, run: () => void parseInput(Buffer.from(mutateText(pick(textual))), { password: rand() < 0.5 ? 'x' : undefined }) },
  { name: 'random bytes', weight: 5, run: () => void parseInput(mutateBytes(Buffer.alloc(0))) },
  {
    name: 'config files',
    weight: 15,
    run: () => {
      const name = rand() < 0.3 ? 'c.json' : 'c.yaml';
      const doc = parseConfigDoc(mutateYaml(pick(CONFIGS)), name);
      resolve(SERVE_TABLE, { flags: {}, env: {}, file: doc, fileFields: SERVE_TABLE, context });
    },
  },
  { name: 'resource files', weight: 10, run: () => void parseResourceText(mutateYaml(pick(RESOURCES)), rand() < 0.3 ? 'r.json' : 'r.yaml', 'r') },
  {
    name: 'ACME problem documents',
    weight: 10,
    run: () => {
      const p = problemInput();
      if (isProblem(p)) {
        const e = explainProblem(p, 'app.example.com', { httpPort: 80, challenge: 'http-01' });
        if (!(e instanceof CertgateError)) throw new Error('explainProblem returned no CertgateError');
      }
    },
  },
  {
    name: 'forwarded headers',
    weight: 10,
    run: () => {
      const headers = randomHeaders();
      const peer = pick(['10.1.2.3', '192.0.2.7', '::ffff:10.0.0.1', '127.0.0.1', '2001:db8::1', '']);
      const req = { headers, socket: { remoteAddress: peer } } as unknown as import('node:http').IncomingMessage;
      const host = 'app.example.com';
      const tls = rand() < 0.5;
      const info = (rand() < 0.5 ? proxies : none).read(req, host, tls);
      const out = forwardHeaders(headers, info);
      // A forged address never survives from an untrusted peer.
      if (!info.trusted) {
        const xff = String(out['x-forwarded-for'] ?? '');
        if (xff !== info.peerIp) throw new Error(`untrusted peer ${peer}: X-Forwarded-For became "${xff}"`);
        if (out['x-real-ip'] !== info.peerIp) throw new Error(`untrusted peer ${peer}: X-Real-IP became "${String(out['x-real-ip'])}"`);
      }
      for (const [k, v] of Object.entries(out)) {
        if (/^(x-forwarded-|forwarded$|x-real-ip$)/.test(k) && /[\r\n\0]/.test(String(v))) throw new Error(`header ${k} carries a line break`);
        if (/^(x_|true-client-ip|cf-connecting-ip|x-original-url)/.test(k) && !info.trusted) throw new Error(`header ${k} passed from an untrusted peer`);
      }
    },
  },
];
const total = families.reduce((a, f) => a + f.weight, 0);

interface Stats {
  n: number;
  rejected: number;
  slowestMs: number;
  slowestInput: string;
  crashes: string[];
  totalMs: number;
}
const stats = new Map(families.map((f) => [f.name, { n: 0, rejected: 0, slowestMs: 0, slowestInput: '', crashes: [], totalMs: 0 } as Stats]));
const t0 = performance.now();
let over1s = 0;
for (let i = 0; i < COUNT; i++) {
  let r = rand() * total;
  let fam = families[0] as Family;
  for (const f of families) {
    r -= f.weight;
    if (r < 0) {
      fam = f;
      break;
    }
  }
  const st = stats.get(fam.name) as Stats;
  st.n++;
  const s0 = performance.now();
  try {
    fam.run();
  } catch (err) {
    if (err instanceof CertgateError && /^E_/.test(err.code)) st.rejected++;
    else if (st.crashes.length < 5) st.crashes.push(`#${i}: ${(err as Error)?.stack?.split('\n').slice(0, 3).join(' | ') ?? String(err)}`);
    else st.crashes.push('');
  }
  const ms = performance.now() - s0;
  st.totalMs += ms;
  if (ms > st.slowestMs) {
    st.slowestMs = ms;
    st.slowestInput = `input #${i}`;
  }
  if (ms > 1000) over1s++;
  if (i && i % 100_000 === 0) console.log(`    ${i} inputs, ${Math.round((performance.now() - t0) / 1000)} s`);
}
const seconds = (performance.now() - t0) / 1000;
S.figure('inputs', COUNT);
S.figure('time (s)', seconds.toFixed(1));
for (const [name, st] of stats) {
  S.figure(
    `${name}`,
    `${st.n} inputs, ${st.rejected} rejected with a CertgateError, ${((st.totalMs * 1000) / Math.max(1, st.n)).toFixed(0)} µs each, slowest ${st.slowestMs.toFixed(1)} ms (${st.slowestInput})`,
  );
  S.check(
    `${name}: nothing but CertgateError`,
    st.crashes.length === 0,
    `${st.crashes.length} crashes: ${st.crashes.filter(Boolean).slice(0, 3).join(' || ')}`,
  );
}
S.check('no input over 1 s', over1s === 0, `${over1s} over 1 s`);

S.finish();
