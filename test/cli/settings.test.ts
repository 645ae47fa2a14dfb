/**
 * Every row of the settings table, driven as an operator drives it (`certgate config show
 * --json` with a config file, CERTGATE_* variables and flags): the default holds alone, the file
 * wins over it, the variable over the file, the flag over the variable; a bad value from each
 * source fails, naming that source. A variable that did not take effect fails here.
 */
import assert from 'node:assert/strict';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { type AddressInfo, createServer as createNetServer } from 'node:net';
import { join } from 'node:path';
import { test } from 'node:test';
import YAML from 'yaml';
import { withTables } from '../../scripts/settings-doc.ts';
import { run } from '../../src/cli/run.ts';
import { SERVE_TABLE } from '../../src/cli/settings/rows.ts';
import type { Row } from '../../src/cli/settings/table.ts';
import { fakeIo } from '../helpers/io.ts';
import { tempDir } from '../helpers/tmp.ts';

/** Raw values for one row: from the file, the variable and the flag; each differs from the one below it. */
interface Raw {
  file: unknown;
  env: string;
  flag: string | boolean;
}

const RAW: Record<string, Raw> = {
  data: { file: '/tmp/cg-file', env: '/tmp/cg-env', flag: '/tmp/cg-flag' },
  store: { file: 'postgres://u@127.0.0.1:5432/file', env: 'postgres://u@127.0.0.1:5432/env', flag: 'postgresql://u@127.0.0.1/flag' },
  storeCa: { file: '/tmp/store-ca-file.pem', env: '/tmp/store-ca-env.pem', flag: '/tmp/store-ca-flag.pem' },
  acmeDirectory: { file: 'https://ca.test/file', env: 'https://ca.test/env', flag: 'zerossl' },
  acmeEmail: { file: 'file@ops.dev', env: 'env@ops.dev', flag: 'flag@ops.dev' },
  acmeCaRoot: { file: '/tmp/root-file.pem', env: '/tmp/root-env.pem', flag: '/tmp/root-flag.pem' },
  challenges: { file: ['dns-01'], env: 'tls-alpn-01', flag: 'http-01,dns-01' },
  dnsHook: { file: '/bin/file-hook', env: '/bin/env-hook', flag: '/bin/flag-hook' },
  keyType: { file: 'rsa-2048', env: 'ec-p384', flag: 'rsa-4096' },
  domain: { file: 'file.example.com', env: 'env.example.com', flag: 'flag.example.com' },
  ask: { file: 'http://127.0.0.1:1/file', env: 'https://ask.test/env', flag: 'http://127.0.0.1:1/flag' },
  mode: { file: 'development', env: 'production', flag: 'development' },
  upstream: { file: 'http://127.0.0.1:3001', env: 'http://127.0.0.1:3002', flag: 'http://127.0.0.1:3003' },
  routes: { file: { 'a.example.com': 'http://127.0.0.1:1' }, env: 'b.example.com=http://127.0.0.1:2', flag: 'c.example.com=http://127.0.0.1:3' },
  host: { file: '127.0.0.1', env: '::1', flag: '127.0.0.2' },
  behindProxy: { file: ['10.0.0.0/8'], env: '10.1.0.0/16,10.2.0.1', flag: '192.0.2.1' },
  defaultSni: { file: 'file.example.com', env: 'env.example.com', flag: 'flag.example.com' },
  workers: { file: 2, env: '3', flag: 'auto' },
  alertsWebhooks: { file: ['https://hooks.test/file'], env: 'https://hooks.test/env', flag: 'http://127.0.0.1:1/flag,https://hooks.test/two' },
  alertsSecret: { file: 'file-secret', env: 'env-secret', flag: 'no-flag-for-a-secret' },
  storeKey: { file: 'a'.repeat(64), env: 'b'.repeat(64), flag: '' },
  storeKeyFile: { file: '/tmp/key-file', env: '/tmp/key-env', flag: '/tmp/key-flag' },
  storeKeyOld: { file: 'c'.repeat(64), env: 'd'.repeat(64), flag: '' },
  storeKeyOldFile: { file: '/tmp/old-file', env: '/tmp/old-env', flag: '/tmp/old-flag' },
  adminListen: { file: '127.0.0.1:2021', env: '[::1]:2022', flag: 'unix:/run/certgate/admin.sock' },
  adminTls: { file: 'local-ca', env: 'admin.example.com', flag: 'off' },
};

function rawFor(key: string, r: Row<unknown>, defaultValue: unknown): Raw {
  const given = RAW[key];
  if (given) return given;
  if (r.kind.arg === '') {
    const off = !defaultValue;
    return { file: off, env: String(!off), flag: off };
  }
  if (r.kind.arg === 'DURATION') return { file: '5m', env: '6m', flag: '7m' };
  return { file: 1111, env: '2222', flag: '3333' }; // ports and counts no default uses
}

/** What each raw value means once resolved. */
function expected(r: Row<unknown>, raw: Raw): { file: unknown; env: unknown; flag: unknown } {
  const fromText = (t: string) => r.kind.schema.parse(r.kind.fromText(t));
  return {
    file: r.kind.schema.parse(r.fromFile ? r.fromFile(raw.file) : raw.file),
    env: fromText(raw.env),
    flag: typeof raw.flag === 'boolean' || !r.flag ? raw.flag : fromText(raw.flag),
  };
}

function fileWith(path: string, value: unknown): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  let cur = out;
  const parts = path.split('.');
  for (const p of parts.slice(0, -1)) {
    cur[p] = {};
    cur = cur[p] as Record<string, unknown>;
  }
  cur[parts.at(-1) as string] = value;
  return out;
}

async function show(dir: string, file: Record<string, unknown> | null, env: Record<string, string>, flags: string[]) {
  if (file) writeFileSync(join(dir, 'c.yaml'), YAML.stringify(file));
  const io = fakeIo({ cwd: dir, env: { HOME: dir, ...env } });
  const code = await run(['config', 'show', '--json', ...(file ? ['--config', 'c.yaml'] : []), ...flags], io);
  return { code, io, out: code === 0 ? (JSON.parse(io.stdout) as { settings: Record<string, { value: unknown; source: string }> }) : null };
}

function flagArgs(r: Row<unknown>, v: string | boolean): string[] {
  if (typeof v === 'boolean') return [v ? `--${r.flag}` : `--no-${r.flag}`];
  return [`--${r.flag}`, v];
}

const DEFAULTS = Object.fromEntries(
  Object.entries(SERVE_TABLE).map(([k, r]) => [k, { value: typeof r.default === 'function' ? undefined : (r.default ?? null) }]),
) as Record<string, { value: unknown }>;

for (const [key, r] of Object.entries(SERVE_TABLE) as Array<[string, Row<unknown>]>) {
  if (key === 'config') continue;
  const raw = rawFor(key, r, DEFAULTS[key]?.value);
  const want = expected(r, raw);
  // `config show` never prints a secret's value.
  const shown = (v: unknown) => (r.secret ? '(redacted)' : v);

  test(`setting ${key}: the default stands when nothing is given`, async (t) => {
    const { out } = await show(tempDir(t), null, {}, []);
    assert.equal(out?.settings[key]?.source, 'default');
  });

  if (r.file)
    test(`setting ${key}: the config file (${r.file}) wins over the default`, async (t) => {
      const { out, io } = await show(tempDir(t), fileWith(r.file as string, raw.file), {}, []);
      assert.ok(out, io.stderr);
      assert.deepEqual(out.settings[key], { value: shown(want.file), source: `c.yaml ${r.file}` });
      if (!r.secret) assert.notDeepEqual(want.file, DEFAULTS[key]?.value ?? null, 'the sample differs from the default');
    });

  if (r.env)
    test(`setting ${key}: ${r.env} wins over the config file`, async (t) => {
      const file = r.file ? fileWith(r.file, raw.file) : null;
      const { out, io } = await show(tempDir(t), file, { [r.env as string]: raw.env }, []);
      assert.ok(out, io.stderr);
      assert.deepEqual(out.settings[key], { value: shown(want.env), source: r.env });
      if (r.file && !r.secret) assert.notDeepEqual(want.env, want.file);
    });

  if (r.flag)
    test(`setting ${key}: --${r.flag} wins over ${r.env ?? 'the file'}`, async (t) => {
      const { out, io } = await show(tempDir(t), null, r.env ? { [r.env]: raw.env } : {}, flagArgs(r, raw.flag));
      assert.ok(out, io.stderr);
      assert.deepEqual(out.settings[key]?.value, shown(want.flag));
      assert.match(out.settings[key]?.source ?? '', new RegExp(`^--(no-)?${r.flag}$`));
      if (r.env) assert.notDeepEqual(want.flag, want.env);
    });

  // A bad value: an empty text from a flag, a word no kind accepts from the variable, a list where
  // the file expects a value (or a map where it expects a list).
  if (r.file)
    test(`setting ${key}: a bad value in the file is refused, naming the file and field`, async (t) => {
      const bad = Array.isArray(raw.file) ? 'not-a-list' : ['not', 'a', 'value'];
      const { code, io } = await show(tempDir(t), fileWith(r.file as string, bad), {}, []);
      assert.equal(code, 2);
      assert.match(io.stderr, new RegExp(`^error E_OPTION: c\\.yaml ${(r.file as string).replace(/\./g, '\\.')}: `));
    });

  if (
    r.env &&
    ![
      'acmeDirectory',
      'acmeEmail',
      'dnsHook',
      'domain',
      'defaultSni',
      'data',
      'acmeCaRoot',
      'alertsSecret',
      'storeKeyFile',
      'storeKeyOldFile',
      'storeCa',
    ].includes(key)
  )
    test(`setting ${key}: a bad ${r.env} is refused, naming the variable`, async (t) => {
      const { code, io } = await show(tempDir(t), null, { [r.env as string]: 'bad value!' }, []);
      assert.equal(code, 2);
      assert.match(io.stderr, new RegExp(`^error E_USAGE: ${r.env}=${r.secret ? '\\(redacted\\)' : 'bad value!'}: not `));
    });

  if (r.flag && r.kind.arg !== '')
    test(`setting ${key}: a bad --${r.flag} is refused, naming the flag`, async (t) => {
      const { code, io } = await show(tempDir(t), null, {}, [`--${r.flag}=`]);
      assert.equal(code, 2);
      assert.match(io.stderr, new RegExp(`^error E_USAGE: --${r.flag} ${r.secret ? '\\(redacted\\)' : '""'}: not `));
    });
}

test('settings: booleans take true/false, 1/0, yes/no, on/off from a variable and refuse anything else', async (t) => {
  const dir = tempDir(t);
  for (const [text, value] of [
    ['1', true],
    ['0', false],
    ['yes', true],
    ['NO', false],
    ['on', true],
    ['off', false],
  ] as const) {
    const { out } = await show(dir, null, { CERTGATE_ACCESS_LOG: text }, []);
    assert.equal(out?.settings.accessLog?.value, value, text);
  }
  const { code, io } = await show(dir, null, { CERTGATE_ACCESS_LOG: 'maybe' }, []);
  assert.equal(code, 2);
  assert.match(io.stderr, /CERTGATE_ACCESS_LOG=maybe: not true or false/);
});

test('settings: listen.https: null in the file means no HTTPS listener, not the default port', async (t) => {
  const { out } = await show(tempDir(t), { listen: { https: null } }, {}, []);
  assert.deepEqual(out?.settings.httpsPort, { value: null, source: 'c.yaml listen.https' });
});

test('settings: off from a variable or flag turns a nullable setting off', async (t) => {
  const { out } = await show(tempDir(t), { upstream: 'http://127.0.0.1:3000' }, { CERTGATE_UPSTREAM: 'off' }, ['--http-port', 'off']);
  assert.equal(out?.settings.upstream?.value, null);
  assert.equal(out?.settings.httpPort?.value, null);
});

test('settings: an empty variable counts as unset (compose files expand a missing variable to "")', async (t) => {
  const { out } = await show(tempDir(t), { upstream: 'http://127.0.0.1:3000' }, { CERTGATE_UPSTREAM: '' }, []);
  assert.deepEqual(out?.settings.upstream, { value: 'http://127.0.0.1:3000', source: 'c.yaml upstream' });
});

test('settings: a maintenance interval over 30 days is refused (a timer cannot wait that long in one go)', async (t) => {
  const { code, io } = await show(tempDir(t), null, {}, ['--maintenance-interval', '31d']);
  assert.equal(code, 2);
  assert.match(io.stderr, /--maintenance-interval 31d: not a duration from 1m to 30d/);
});

test('settings: --x and --no-x together are a usage error', async (t) => {
  const { code, io } = await show(tempDir(t), null, {}, ['--redirect', '--no-redirect']);
  assert.equal(code, 2);
  assert.match(io.stderr, /--redirect and --no-redirect both given/);
});

test('settings: the README tables are the rows rendered (npm run docs:settings writes them)', () => {
  const readme = readFileSync(join(import.meta.dirname, '..', '..', 'README.md'), 'utf8');
  assert.equal(readme, withTables(readme));
});

test('settings: serve --help lists every flag with its variable and default', async () => {
  const io = fakeIo();
  assert.equal(await run(['serve', '--help'], io), 0);
  for (const r of Object.values(SERVE_TABLE)) {
    // A store key has no flag (a command line is visible to every user): its variable is listed.
    if (r.flag) assert.match(io.stdout, new RegExp(`--${r.flag}\\b`), r.flag);
    if (r.env) assert.ok(io.stdout.includes(r.env), r.env);
  }
});

test('config check: a valid configuration on free ports passes and starts nothing', async (t) => {
  const dir = tempDir(t);
  const io = fakeIo({ cwd: dir, env: { HOME: dir } });
  assert.equal(await run(['config', 'check', '--https-port', '0', '--http-port', '0', '--data', join(dir, 'data')], io), 0, io.stderr);
  assert.match(io.stdout, /configuration is valid/);
  assert.match(io.stdout, /data: .*will be created/);
  assert.equal(existsSync(join(dir, 'data')), false, 'nothing was created');
});

test('config check: a port in use is the error serve would give', async (t) => {
  const dir = tempDir(t);
  const busy = createNetServer();
  await new Promise<void>((r) => busy.listen(0, '127.0.0.1', r));
  t.after(() => new Promise((r) => busy.close(r)));
  const port = (busy.address() as AddressInfo).port;
  const io = fakeIo({ cwd: dir, env: { HOME: dir } });
  assert.equal(await run(['config', 'check', '--host', '127.0.0.1', '--https-port', String(port), '--http-port', '0', '--data', join(dir, 'd')], io), 2);
  assert.match(io.stderr, new RegExp(`^error E_PORT_IN_USE: port ${port} \\(HTTPS\\) is in use`));
});

test('config check: a data directory under a file is refused with E_STORE', async (t) => {
  const dir = tempDir(t);
  writeFileSync(join(dir, 'file'), 'x');
  const io = fakeIo({ cwd: dir, env: { HOME: dir } });
  assert.equal(await run(['config', 'check', '--https-port', '0', '--http-port', '0', '--data', join(dir, 'file', 'data')], io), 2);
  assert.match(io.stderr, /^error E_STORE: .*file is not a directory/);
});

test('config check: ACME on without an email for a public CA is refused as serve would', async (t) => {
  const dir = tempDir(t);
  const io = fakeIo({ cwd: dir, env: { HOME: dir } });
  assert.equal(await run(['config', 'check', '--agree-tos', '--https-port', '0', '--http-port', '0', '--data', join(dir, 'd')], io), 2);
  assert.match(io.stderr, /^error E_ACME_EMAIL: /);
});

test('settings: an upstream with a path is refused (the proxy would ignore it silently)', async (t) => {
  const { code, io } = await show(tempDir(t), null, {}, ['--upstream', 'http://127.0.0.1:3000/prefix']);
  assert.equal(code, 2);
  assert.match(io.stderr, /--upstream http:\/\/127\.0\.0\.1:3000\/prefix: not an http:\/\/ URL without a path/);
});

test('settings: a default SNI that is not a host name is refused', async (t) => {
  const { code, io } = await show(tempDir(t), null, {}, ['--default-sni', '../x']);
  assert.equal(code, 2);
  assert.match(io.stderr, /--default-sni \.\.\/x: not a host name/);
});

test('settings: a route whose key is not a host name is refused', async (t) => {
  const { code, io } = await show(tempDir(t), { routes: { 'bad host!': 'http://127.0.0.1:1' } }, {}, []);
  assert.equal(code, 2);
  assert.match(io.stderr, /^error E_OPTION: c\.yaml routes: /);
});
