import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { join } from 'node:path';
import { test } from 'node:test';
import { run } from '../../src/cli/run.ts';
import { freePort } from '../helpers/daemons.ts';
import { fakeIo } from '../helpers/io.ts';
import { tempDir } from '../helpers/tmp.ts';

async function ports(): Promise<string[]> {
  return ['--http-port', String(await freePort()), '--https-port', String(await freePort()), '--host', '127.0.0.1'];
}

test('doctor --json prints the report: ok and each check with id, status, title, detail, fix; exit 0', async (t) => {
  const io = fakeIo({ env: { CERTGATE_DATA: tempDir(t) } });
  const code = await run(['doctor', '--json', '--mode', 'development', ...(await ports())], io);
  assert.equal(code, 0, io.stderr);
  const report = JSON.parse(io.stdout);
  assert.equal(report.ok, true);
  assert.deepEqual(Object.keys(report), ['ok', 'checks']);
  for (const c of report.checks) {
    assert.deepEqual(Object.keys(c), ['id', 'status', 'title', 'detail', 'fix']);
    assert.ok(['pass', 'warn', 'fail', 'skip'].includes(c.status));
  }
  assert.deepEqual(
    report.checks.map((c: { id: string }) => c.id),
    [
      'port-http',
      'port-https',
      'mode',
      'acme-email',
      'proxy-custom-domain',
      'dns-address',
      'caa',
      'redirect-loop',
      'https-plain-http',
      'hsts',
      'ca-certs',
      'certificate',
      'storage',
      'clock-skew',
    ],
  );
});

test('doctor exits 1 when a check fails, and the human output gives the verdict and the fix', async (t) => {
  const busy = createServer((_req, res) => res.end('someone else'));
  await new Promise<void>((r) => busy.listen(0, '127.0.0.1', r));
  t.after(() => busy.close());
  const port = (busy.address() as { port: number }).port;
  const io = fakeIo({ env: { CERTGATE_DATA: tempDir(t) } });
  const code = await run(['doctor', '--mode', 'development', '--host', '127.0.0.1', '--http-port', String(port), '--https-port', String(await freePort())], io);
  assert.equal(code, 1);
  assert.match(io.stdout, /✗ fail port-http/);
  assert.match(io.stdout, new RegExp(`fix: stop what listens there \\(ss -ltnp 'sport = :${port}'\\)`));
  assert.match(io.stdout, /problems found: /);
});

test('doctor reads the same config file as serve', async (t) => {
  const dir = tempDir(t);
  const file = join(dir, 'certgate.yaml');
  writeFileSync(file, 'mode: development\n');
  const io = fakeIo({ env: { CERTGATE_DATA: dir, CERTGATE_CONFIG: file } });
  assert.equal(await run(['doctor', '--json', ...(await ports())], io), 0, io.stderr);
  const mode = JSON.parse(io.stdout).checks.find((c: { id: string }) => c.id === 'mode');
  assert.match(mode.detail, /^development mode/);
});

test('doctor: an unknown flag is a usage error (exit 2)', async (t) => {
  const io = fakeIo({ env: { CERTGATE_DATA: tempDir(t) } });
  assert.equal(await run(['doctor', '--frobnicate'], io), 2);
  assert.match(io.stderr, /error E_USAGE/);
});

test('doctor: --dns that is not an address is a usage error (exit 2)', async (t) => {
  const io = fakeIo({ env: { CERTGATE_DATA: tempDir(t) } });
  assert.equal(await run(['doctor', '--dns', 'dns.example.com'], io), 2);
  assert.match(io.stderr, /--dns "dns\.example\.com" is not an IP address/);
});

test('doctor --help lists its own flags and the serve settings', async () => {
  const io = fakeIo();
  assert.equal(await run(['doctor', '--help'], io), 0);
  assert.match(io.stdout, /--dry-run-issue NAME/);
  assert.match(io.stdout, /--behind-proxy/);
});
