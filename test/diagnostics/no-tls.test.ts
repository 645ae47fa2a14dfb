/**
 * Connections that never reach TLS, each against a real server on loopback: an SSH or SMTP
 * banner, a server that needs SNI or does not know the name sent, a server that wants a client
 * certificate from CAs it names (openssl s_server -Verify -CAfile), a TLS 1.0-only server.
 * Each finding has its own code and a fix whose command carries the flags that make it work.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { createSecureContext, createServer as createTlsServer } from 'node:tls';
import { type InspectResult, inspect } from '../../src/diagnostics/inspect.ts';
import { parseCertificates } from '../../src/pki/parse.ts';
import { CA_EXT, issue, LEAF_EXT } from '../helpers/openssl-pki.ts';
import { startOpensslServer } from '../helpers/s-server.ts';

const dir = mkdtempSync(join(tmpdir(), 'certgate-notls-'));
after(() => rmSync(dir, { recursive: true, force: true }));
const root = issue(dir, 'root', { subject: '/CN=NoTLS Root', ext: CA_EXT });
const leaf = issue(dir, 'leaf', { subject: '/CN=app.test', ext: LEAF_EXT, issuer: root });
const other = issue(dir, 'other', { subject: '/CN=default.test', ext: LEAF_EXT.replace('DNS:app.test', 'DNS:default.test'), issuer: root });
const ca = parseCertificates(Buffer.from(root.certPem));
const base = { ca, systemRoots: false, timeoutMs: 5000 } as const;

function only(r: InspectResult) {
  assert.equal(r.status, 'fail');
  const f = r.findings[0];
  assert.ok(f, 'a finding');
  return f;
}

/** A TCP server that greets with `banner` and answers anything with `reply`, like sshd and an MTA. */
async function bannerServer(t: { after(fn: () => unknown): void }, banner: string, reply: string): Promise<number> {
  const sockets = new Set<Socket>();
  const server = createServer((s) => {
    sockets.add(s);
    s.on('error', () => {});
    s.write(banner);
    s.once('data', () => s.end(reply));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.after(
    () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  );
  return (server.address() as { port: number }).port;
}

test('an SSH banner: SSH_PORT, not a timeout or a generic failure', async (t) => {
  const port = await bannerServer(t, 'SSH-2.0-OpenSSH_9.2p1 Debian-2\r\n', 'Invalid SSH identification string.\r\n');
  const f = only(await inspect(`127.0.0.1:${port}`, base));
  assert.equal(f.code, 'SSH_PORT');
  assert.match(f.message, /answered with SSH \("SSH-2\.0-OpenSSH_9\.2p1 Debian-2"\)/);
  assert.match(f.fix, /SSH server, which has no TLS/);
});

test('an SMTP banner without --starttls: SMTP_NEEDS_STARTTLS with the command that works', async (t) => {
  const port = await bannerServer(t, '220 mail.test ESMTP Postfix\r\n', '500 5.5.2 Error: bad syntax\r\n');
  const f = only(await inspect(`127.0.0.1:${port}`, { ...base, servername: 'mail.test' }));
  assert.equal(f.code, 'SMTP_NEEDS_STARTTLS');
  assert.match(f.fix, new RegExp(`certgate inspect 127\\.0\\.0\\.1:${port} --starttls smtp --servername mail\\.test`));
});

test('a port that takes the connection and says nothing: SILENT_PORT after asking it what it speaks, not E_TIMEOUT', async (t) => {
  const sockets = new Set<Socket>();
  const server = createServer((s) => {
    sockets.add(s);
    s.on('error', () => {});
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.after(
    () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  );
  const port = (server.address() as { port: number }).port;
  const f = only(await inspect(`127.0.0.1:${port}`, { ...base, timeoutMs: 1000 }));
  assert.equal(f.code, 'SILENT_PORT');
  assert.match(f.message, /answered nothing to the TLS hello for 1000 ms, nor to a PostgreSQL SSLRequest or an HTTP request/);
  assert.match(f.fix, new RegExp(`certgate inspect 127\\.0\\.0\\.1:${port} --starttls smtp`));
});

test('--starttls smtp on an SSH port: STARTTLS_MISMATCH naming SSH', async (t) => {
  const port = await bannerServer(t, 'SSH-2.0-OpenSSH_9.2\r\n', '');
  const f = only(await inspect(`127.0.0.1:${port}`, { ...base, starttls: 'smtp' }));
  assert.equal(f.code, 'STARTTLS_MISMATCH');
  assert.match(f.message, /does not speak SMTP: it seems to speak SSH/);
});

test('a name the server does not serve (s_server -servername_fatal): SNI_UNKNOWN_NAME with the name it serves without SNI', async (t) => {
  const server = await startOpensslServer(dir, {
    cert: other,
    args: ['-servername', 'app.test', '-cert2', leaf.certFile, '-key2', leaf.keyFile, '-servername_fatal'],
  });
  t.after(() => server.close());
  const f = only(await inspect(`127.0.0.1:${server.port}`, { ...base, servername: 'wrong.test' }));
  assert.equal(f.code, 'SNI_UNKNOWN_NAME');
  assert.match(f.message, /does not serve "wrong\.test".*unrecognized_name.*without SNI it presents a certificate for default\.test/);
  assert.match(f.fix, new RegExp(`certgate inspect 127\\.0\\.0\\.1:${server.port} --servername default\\.test`));
});

test('a server with no certificate for clients without SNI: SNI_REQUIRED, and the --servername that works', async (t) => {
  const ctx = createSecureContext({ cert: leaf.certPem + root.certPem, key: leaf.keyPem });
  const server = createTlsServer({ SNICallback: (_name, cb) => cb(null, ctx) }, (s) => s.end('hi'));
  server.on('tlsClientError', () => {});
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.after(() => new Promise<void>((resolve) => server.close(() => resolve())));
  const port = (server.address() as { port: number }).port;
  const f = only(await inspect(`127.0.0.1:${port}`, base));
  assert.equal(f.code, 'SNI_REQUIRED');
  assert.match(f.message, /requires SNI.*with a name it presents a certificate for app\.test/);
  assert.match(f.fix, new RegExp(`certgate inspect 127\\.0\\.0\\.1:${port} --servername app\\.test`));
});

test('a client certificate required from a CA the server names (s_server -Verify -CAfile): the CA names in the finding', async (t) => {
  const clientCa = issue(dir, 'clientca', { subject: '/O=Corp/CN=Corp Client CA', ext: CA_EXT });
  const server = await startOpensslServer(dir, { cert: leaf, args: ['-Verify', '1', '-CAfile', clientCa.certFile] });
  t.after(() => server.close());
  const f = only(await inspect(`127.0.0.1:${server.port}`, { ...base, servername: 'app.test' }));
  assert.equal(f.code, 'CLIENT_CERT_REQUIRED');
  assert.match(f.message, /it accepts certificates issued by "CN=Corp Client CA, O=Corp"/);
  assert.match(
    f.fix,
    new RegExp(
      `certgate inspect 127\\.0\\.0\\.1:${server.port} --servername app\\.test --client-cert FILE --client-key FILE, with a certificate issued by "CN=Corp Client CA, O=Corp"`,
    ),
  );
});

test('a client certificate from another CA: CLIENT_CERT_REJECTED naming its issuer and the CA the server asked for', async (t) => {
  const clientCa = issue(dir, 'clientca2', { subject: '/CN=Accepted Client CA', ext: CA_EXT });
  const strayCa = issue(dir, 'strayca', { subject: '/CN=Stray CA', ext: CA_EXT });
  const client = issue(dir, 'client', {
    subject: '/CN=worker',
    ext: 'basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=clientAuth',
    issuer: strayCa,
  });
  const server = await startOpensslServer(dir, { cert: leaf, args: ['-Verify', '1', '-CAfile', clientCa.certFile, '-verify_return_error'] });
  t.after(() => server.close());
  const r = await inspect(`127.0.0.1:${server.port}`, { ...base, servername: 'app.test', clientCert: client.certPem, clientKey: client.keyPem });
  const f = r.findings.find((x) => x.code === 'CLIENT_CERT_REJECTED');
  assert.ok(f, JSON.stringify(r.findings));
  assert.match(f.message, /issued by "CN=Stray CA".*accepts certificates issued by "CN=Accepted Client CA"/);
  assert.match(f.fix, /use a client certificate issued by "CN=Accepted Client CA"/);
});

test('a server that speaks only TLS 1.0 (s_server -tls1): PROTOCOL_MISMATCH, not a generic handshake failure', async (t) => {
  const server = await startOpensslServer(dir, { cert: leaf, args: ['-tls1', '-cipher', 'DEFAULT:@SECLEVEL=0'] });
  t.after(() => server.close());
  const r = await inspect(`127.0.0.1:${server.port}`, { ...base, servername: 'app.test' });
  const f = r.findings.find((x) => x.code === 'PROTOCOL_MISMATCH');
  assert.ok(f, JSON.stringify(r.findings));
  assert.match(f.fix, /enable TLS 1\.2 and 1\.3/);
});
