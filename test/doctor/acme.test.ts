import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { run } from '../../src/cli/run.ts';
import { runDoctor } from '../../src/doctor/index.ts';
import { startServe, waitFor } from '../edge/helpers.ts';
import { freePort } from '../helpers/daemons.ts';
import { fakeIo } from '../helpers/io.ts';
import { type Pebble, pebbleFlags, startPebble } from '../helpers/pebble.ts';
import { settings } from '../helpers/settings.ts';
import { tempDir } from '../helpers/tmp.ts';
import { dns, only, resolverFor } from './helpers.ts';

let pebble: Pebble;
before(async () => {
  pebble = await startPebble();
});
after(() => pebble.close());

function pebbleSettings(data: string, over: Parameters<typeof settings>[1] = {}) {
  const caFile = join(data, 'pebble-ca.pem');
  writeFileSync(caFile, pebble.tlsCaPem);
  return settings(data, {
    acmeDirectory: pebble.directoryUrl,
    acmeCaRoot: caFile,
    acmeEmail: 'ops@certgate.dev',
    acmeAgreeTos: true,
    httpPort: pebble.httpPort,
    httpsPort: null,
    challenges: ['http-01'],
    ...over,
  });
}

test("clock-skew: a clock in step with the CA's Date passes", async (t) => {
  const c = only(await runDoctor(pebbleSettings(tempDir(t)), { only: ['clock-skew'] }), 'clock-skew');
  assert.equal(c.status, 'pass');
});

test('clock-skew: a clock an hour ahead fails with how to synchronise', async (t) => {
  const c = only(await runDoctor(pebbleSettings(tempDir(t)), { only: ['clock-skew'], clock: () => new Date(Date.now() + 3_600_000) }), 'clock-skew');
  assert.equal(c.status, 'fail');
  assert.match(c.detail, /36\d\d s ahead of the CA/);
  assert.match(c.fix ?? '', /timedatectl set-ntp true/);
});

test('caa: a custom CA without caaIdentities in its directory meta cannot be matched: warn', async (t) => {
  await dns.caa(pebble, 'pebble-caa.certgate.dev', [{ tag: 'issue', value: 'letsencrypt.org' }]);
  const s = pebbleSettings(tempDir(t), { domain: 'pebble-caa.certgate.dev' });
  const c = only(await runDoctor(s, { only: ['caa'], resolver: resolverFor(pebble) }), 'caa:pebble-caa.certgate.dev');
  assert.equal(c.status, 'warn');
  assert.match(c.detail, /names no caaIdentities/);
});

test('dry-run-issue: a real authorization with the port free (own responder), never an order finalized', async (t) => {
  const s = pebbleSettings(tempDir(t));
  const r = await runDoctor(s, { only: [], dryRunIssue: 'dry.certgate.dev' });
  const c = only(r, 'dry-run-issue');
  assert.equal(c.status, 'pass', c.detail);
  assert.match(c.detail, /validated dry\.certgate\.dev with http-01/);
  assert.match(c.detail, /deactivated and no certificate was ordered/);
  assert.doesNotMatch(pebble.log(), /finalize-order/);
});

test('dry-run-issue: answered by a running certgate serve that holds the HTTP port', async (t) => {
  const data = tempDir(t);
  const s = pebbleSettings(data);
  const https = await freePort();
  const serve = startServe(
    [
      '--data',
      data,
      '--http-port',
      String(pebble.httpPort),
      '--https-port',
      String(https),
      '--host',
      '127.0.0.1',
      '--directory',
      pebble.directoryUrl,
      '--ca-root',
      s.acmeCaRoot as string,
      '--email',
      'ops@certgate.dev',
      '--agree-tos',
    ],
    {},
  );
  t.after(async () => {
    serve.child.kill('SIGTERM');
    await serve.exited;
  });
  await waitFor(() => /listening/.test(serve.err()), 'serve listening');
  const r = await runDoctor({ ...s, httpsPort: https }, { only: ['port-http'], dryRunIssue: 'served.certgate.dev' });
  assert.equal(only(r, 'port-http').status, 'pass');
  const c = only(r, 'dry-run-issue');
  assert.equal(c.status, 'pass', c.detail);
  assert.match(c.detail, /answered by the running certgate serve/);
});

test("dry-run-issue: a name that points elsewhere fails with the CA's reason", async (t) => {
  await dns.a(pebble, 'nowhere.certgate.dev', ['127.0.0.2']);
  const r = await runDoctor(pebbleSettings(tempDir(t)), { only: [], dryRunIssue: 'nowhere.certgate.dev', timeoutMs: 3000 });
  const c = only(r, 'dry-run-issue');
  assert.equal(c.status, 'fail');
  assert.match(c.detail, /E_ACME_CHALLENGE/);
  assert.ok(c.fix);
});

test('certgate doctor --dns --dry-run-issue from the command line: DNS from challtestsrv, the authorization at Pebble, exit 0', async (t) => {
  const data = tempDir(t);
  await dns.a(pebble, 'cli.certgate.dev', ['127.0.0.1']);
  const io = fakeIo({ env: { CERTGATE_DATA: data } });
  const argv = ['doctor', '--json', '--dns', pebble.dnsServer, '--dry-run-issue', 'cli.certgate.dev', '--domain', 'cli.certgate.dev', '--host', '127.0.0.1'];
  const code = await run([...argv, ...pebbleFlags(pebble, join(data, 'ca.pem')), '--https-port', String(await freePort())], io);
  const report = JSON.parse(io.stdout);
  const byId = Object.fromEntries(report.checks.map((c: { id: string; status: string }) => [c.id, c.status]));
  assert.equal(byId['dns-address:cli.certgate.dev'], 'pass', io.stdout);
  assert.equal(byId['dry-run-issue'], 'pass', io.stdout);
  assert.equal(code, report.ok ? 0 : 1);
});
