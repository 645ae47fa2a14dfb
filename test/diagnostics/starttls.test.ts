import assert from 'node:assert/strict';
import { test } from 'node:test';
import { inspect } from '../../src/diagnostics/inspect.ts';
import { decodeCertificate } from '../../src/pki/certificate.ts';
import { makePki } from '../helpers/pki.ts';
import { startPostgres } from '../helpers/postgres.ts';
import { startHttpServer, startStartTlsServer, startTlsServer } from '../helpers/servers.ts';

const pki = await makePki();
const ca = [decodeCertificate(pki.root.der)];

test('STARTTLS postgres against a real PostgreSQL with ssl=on', async (t) => {
  const pg = await startPostgres({ certPem: pki.leaf.certPem + pki.inter.certPem, keyPem: pki.leaf.keyPem });
  t.after(() => pg.close());
  const ok = await inspect(`127.0.0.1:${pg.port}`, { starttls: 'postgres', servername: 'app.test', ca, systemRoots: false });
  assert.equal(ok.status, 'ok', JSON.stringify(ok.findings));
  assert.equal(ok.chain.length, 2);
  assert.equal(ok.tls?.chainSource, 'wire');
  assert.equal(ok.verification.trusted, true);

  const wrongName = await inspect(`127.0.0.1:${pg.port}`, { starttls: 'postgres', servername: 'db.other.test', ca, systemRoots: false });
  assert.equal(wrongName.status, 'fail');
  assert.equal(wrongName.findings[0]?.code, 'HOSTNAME_MISMATCH');

  // Without --starttls the port answers in PostgreSQL's own protocol: say so.
  const plain = await inspect(`127.0.0.1:${pg.port}`, { ca, systemRoots: false, timeoutMs: 3000 });
  assert.equal(plain.status, 'fail');
  assert.equal(plain.findings[0]?.code, 'POSTGRES_NEEDS_STARTTLS');
  assert.match(plain.findings[0]?.fix ?? '', new RegExp(`certgate inspect 127\\.0\\.0\\.1:${pg.port} --starttls postgres`));
});

test('STARTTLS postgres against a PostgreSQL with ssl=off says so', async (t) => {
  const pg = await startPostgres({ certPem: pki.leaf.certPem, keyPem: pki.leaf.keyPem, ssl: false });
  t.after(() => pg.close());
  {
    const err = asFinding(await inspect(`127.0.0.1:${pg.port}`, { starttls: 'postgres', ca, systemRoots: false }));
    assert.match(err.code, /^STARTTLS_(MISMATCH|REFUSED)$/);
    assert.match(err.fix ?? '', /ssl = on/);
  }
});

test('STARTTLS smtp and mysql preambles', async (t) => {
  for (const protocol of ['smtp', 'mysql'] as const) {
    const server = await startStartTlsServer(protocol, { chain: [pki.leaf.certPem, pki.inter.certPem], key: pki.leaf.keyPem });
    t.after(() => server.close());
    const r = await inspect(`127.0.0.1:${server.port}`, { starttls: protocol, servername: 'app.test', ca, systemRoots: false });
    assert.equal(r.status, 'ok', `${protocol}: ${JSON.stringify(r.findings)}`);
    assert.equal(r.chain[0]?.subjectCommonName, 'app.test');
    assert.equal(r.target.starttls, protocol);
  }
});

/** A preamble that fails is a finding of inspect (status fail), not a thrown error. */
function asFinding(r: Awaited<ReturnType<typeof inspect>>): { code: string; message: string; fix: string } {
  assert.equal(r.status, 'fail');
  assert.equal(r.tls, null);
  const f = r.findings[0];
  assert.ok(f);
  return f;
}

test('--starttls smtp against a TLS server: STARTTLS_MISMATCH saying it speaks TLS directly, not a handshake timeout', async (t) => {
  const server = await startTlsServer({ chain: [pki.leaf.certPem, pki.inter.certPem], key: pki.leaf.keyPem });
  t.after(() => server.close());
  const started = Date.now();
  {
    const err = asFinding(await inspect(`127.0.0.1:${server.port}`, { starttls: 'smtp', ca, systemRoots: false, timeoutMs: 10_000 }));
    assert.equal(err.code, 'STARTTLS_MISMATCH', err.message);
    assert.match(err.message, /does not speak SMTP: it seems to speak TLS directly/);
    assert.match(err.fix ?? '', /drop --starttls/);
  }
  assert.ok(Date.now() - started < 8000, 'found out before the timeout');
});

test('--starttls postgres against a MySQL server names MySQL and the flag to use', async (t) => {
  const server = await startStartTlsServer('mysql', { chain: [pki.leaf.certPem], key: pki.leaf.keyPem });
  t.after(() => server.close());
  {
    const err = asFinding(await inspect(`127.0.0.1:${server.port}`, { starttls: 'postgres', ca, systemRoots: false }));
    assert.match(err.code, /^STARTTLS_(MISMATCH|REFUSED)$/);
    assert.match(err.message, /does not speak PostgreSQL: it seems to speak MySQL/);
    assert.match(err.fix ?? '', /use --starttls mysql/);
  }
});

test('--starttls mysql against an SMTP server names SMTP at once', async (t) => {
  const server = await startStartTlsServer('smtp', { chain: [pki.leaf.certPem], key: pki.leaf.keyPem });
  t.after(() => server.close());
  {
    const err = asFinding(await inspect(`127.0.0.1:${server.port}`, { starttls: 'mysql', ca, systemRoots: false, timeoutMs: 10_000 }));
    assert.match(err.code, /^STARTTLS_(MISMATCH|REFUSED)$/);
    assert.match(err.message, /does not speak MySQL: it seems to speak SMTP/);
    assert.match(err.fix ?? '', /use --starttls smtp/);
  }
});

test('--starttls smtp against a MySQL server names MySQL', async (t) => {
  const server = await startStartTlsServer('mysql', { chain: [pki.leaf.certPem], key: pki.leaf.keyPem });
  t.after(() => server.close());
  {
    const err = asFinding(await inspect(`127.0.0.1:${server.port}`, { starttls: 'smtp', ca, systemRoots: false, timeoutMs: 10_000 }));
    assert.match(err.code, /^STARTTLS_(MISMATCH|REFUSED)$/);
    assert.match(err.message, /does not speak SMTP: it seems to speak MySQL/);
  }
});

test('--starttls mysql against a plain HTTP server: STARTTLS_MISMATCH naming plain HTTP', async (t) => {
  const server = await startHttpServer(() => ({ status: 200, body: 'ok' }));
  t.after(() => server.close());
  {
    const err = asFinding(await inspect(`127.0.0.1:${server.port}`, { starttls: 'mysql', ca, systemRoots: false, timeoutMs: 10_000 }));
    assert.match(err.code, /^STARTTLS_(MISMATCH|REFUSED)$/);
    assert.match(err.message, /does not speak MySQL: it seems to speak plain HTTP/);
  }
});
