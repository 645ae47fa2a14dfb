/**
 * The ACME commands as an operator runs them: configuration from CERTGATE_* variables, the
 * standalone responder on CERTGATE_HTTP_PORT, against Pebble.
 */
import assert from 'node:assert/strict';
import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { run } from '../../src/cli/run.ts';
import { fakeIo } from '../helpers/io.ts';
import { startPebble } from '../helpers/pebble.ts';
import { tempDir } from '../helpers/tmp.ts';
import { name } from './helpers.ts';

const pebble = await startPebble();
test.after(() => pebble.close());

function setup(t: Parameters<typeof tempDir>[0], extra: Record<string, string> = {}) {
  const dir = tempDir(t);
  writeFileSync(join(dir, 'pebble-ca.pem'), pebble.tlsCaPem);
  const main = name('main');
  const env: Record<string, string> = {
    PATH: process.env.PATH ?? '',
    CERTGATE_DATA: join(dir, 'data'),
    CERTGATE_ACME_DIRECTORY: pebble.directoryUrl,
    CERTGATE_ACME_CA_ROOT: 'pebble-ca.pem',
    CERTGATE_ACME_EMAIL: 'ops@certgate.dev',
    CERTGATE_ACME_AGREE_TOS: 'true',
    CERTGATE_HTTP_PORT: String(pebble.httpPort),
    CERTGATE_HTTPS_PORT: String(pebble.tlsPort),
    CERTGATE_DOMAIN: main,
    ...extra,
  };
  return { dir, main, env, io: () => fakeIo({ cwd: dir, env }) };
}

test('issue the main domain, list and show it, read its log; issue again is a no-op without --force', async (t) => {
  const { main, io, dir } = setup(t);
  const a = io();
  assert.equal(await run(['issue', '--json'], a), 0, a.stderr);
  const issued = JSON.parse(a.stdout);
  assert.equal(issued.name, main);
  assert.equal(issued.issued, true);
  assert.ok(existsSync(issued.files.fullchain) && existsSync(issued.files.key));
  const again = io();
  assert.equal(await run(['issue'], again), 0);
  assert.match(again.stdout, /a valid certificate is stored .* --force issues now/);
  const forced = io();
  assert.equal(await run(['issue', '--force', '--json'], forced), 0, forced.stderr);
  assert.notEqual(JSON.parse(forced.stdout).meta.serialNumber, issued.meta.serialNumber);
  const list = io();
  assert.equal(await run(['certs', 'list', '--json'], list), 0);
  const row = JSON.parse(list.stdout).certificates[0];
  assert.equal(row.name, main);
  assert.equal(row.status, 'valid');
  assert.equal(row.renewalWindow, 'third');
  const show = io();
  assert.equal(await run(['certs', 'show', main, '--json'], show), 0);
  assert.equal(JSON.parse(show.stdout).certificate.subjectAltNames.dns[0], main);
  const logs = io();
  assert.equal(await run(['logs', main, '--json'], logs), 0);
  const types = logs.stdout
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l).type);
  assert.deepEqual(types, ['cert_obtaining', 'cert_obtained', 'cert_obtaining', 'cert_obtained']);
  const follow = io();
  const followed = run(['logs', '--follow', '--follow-for', '1500', '--json'], follow);
  await new Promise((r) => setTimeout(r, 300));
  assert.equal(await run(['domains', 'add', name('extra')], io()), 0);
  assert.equal(await followed, 0);
  assert.match(follow.stdout, /"type":"domain_added"/, 'follow shows events as they happen');
  const dry = io();
  assert.equal(await run(['renew', '--dry-run', '--json'], dry), 0);
  assert.equal(JSON.parse(dry.stdout).due, 0);
  void dir;
});

test('domains: custom domains are registered before issuance; unregistered names are refused', async (t) => {
  const { io } = setup(t);
  const extra = name('custom');
  const refused = io();
  assert.equal(await run(['issue', extra], refused), 2);
  assert.match(refused.stderr, /^error E_DOMAIN_UNREGISTERED: .*\n {2}fix: add it first: certgate domains add /);
  assert.equal(await run(['domains', 'add', extra], io()), 0);
  const ok = io();
  assert.equal(await run(['issue', extra], ok), 0, ok.stderr);
  const l = io();
  assert.equal(await run(['domains', 'list', '--json'], l), 0);
  assert.deepEqual(
    JSON.parse(l.stdout).custom.map((c: { name: string }) => c.name),
    [extra],
  );
  assert.equal(await run(['domains', 'remove', extra], io()), 0);
});

test('bad input: a one-line error with a code, exit 2, nothing written', async (t) => {
  const { io, env, dir } = setup(t);
  const cases: Array<[string[], Record<string, string>, RegExp]> = [
    [['issue', '../etc'], {}, /^error E_DOMAIN_INVALID: "\.\.\/etc" is not a valid domain name/],
    [['issue', '*.*'], {}, /^error E_DOMAIN_INVALID/],
    [['issue', `${'a'.repeat(300)}.example.com`], {}, /^error E_DOMAIN_INVALID: .* 253/],
    [['issue', '203.0.113.9'], {}, /^error E_DOMAIN_NOT_ALLOWED: 203\.0\.113\.9 is an IP address/],
    [['issue', 'db.internal'], {}, /^error E_DOMAIN_NOT_ALLOWED: .*not a public name/],
    [['issue'], { CERTGATE_ACME_DIRECTORY: 'http://127.0.0.1:1/dir' }, /^error E_ACME_CONFIG: the ACME directory .* is not https/],
    [['issue'], { CERTGATE_ACME_DIRECTORY: 'letsencrypt', CERTGATE_ACME_EMAIL: '' }, /^error E_ACME_EMAIL: a contact email is required/],
    [['issue'], { CERTGATE_ACME_AGREE_TOS: 'false' }, /^error E_ACME_CONFIG: the CA's terms of service have not been agreed to/],
    [['issue'], { CERTGATE_HTTP_PORT: 'eighty' }, /^error E_USAGE: CERTGATE_HTTP_PORT=eighty: not a port/],
    [['renew'], { CERTGATE_MAINTENANCE_INTERVAL: 'often' }, /^error E_USAGE: CERTGATE_MAINTENANCE_INTERVAL=often: not a duration/],
  ];
  for (const [argv, extra, expected] of cases) {
    const out = fakeIo({ cwd: dir, env: { ...env, ...extra } });
    assert.equal(await run(argv, out), 2, `${argv.join(' ')} ${JSON.stringify(extra)}: ${out.stderr}`);
    assert.match(out.stderr, expected);
    assert.equal(out.stderr.trim().split('\n').length, 2, 'error and fix, one line each');
  }
  // An unreachable CA: exit 2, explained, and no certificate written.
  const down = fakeIo({ cwd: dir, env: { ...env, CERTGATE_ACME_DIRECTORY: 'https://127.0.0.1:1/dir' } });
  assert.equal(await run(['issue'], down), 2);
  assert.match(down.stderr, /^error E_ACME_UNREACHABLE: /);
  assert.equal(existsSync(join(env.CERTGATE_DATA as string, 'certificates')), false, 'nothing written');
  // A port already in use by something else: named, with the fix.
  const { createServer } = await import('node:net');
  const busy = createServer();
  await new Promise<void>((r) => busy.listen(0, '127.0.0.1', r));
  t.after(() => busy.close());
  const inUse = fakeIo({ cwd: dir, env: { ...env, CERTGATE_HTTP_PORT: String((busy.address() as { port: number }).port) } });
  assert.equal(await run(['issue'], inUse), 2);
  assert.match(inUse.stderr, /^error E_PORT_IN_USE: port \d+ \(HTTP-01\) is in use/);
  void io;
});
