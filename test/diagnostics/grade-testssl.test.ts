/**
 * certgate's grade next to testssl.sh (Debian package) on the same loopback servers: everything
 * testssl flags in the graded categories must be among certgate's findings, with a fix.
 * testssl is slow (tens of seconds a server on this machine), so three servers, each bounded.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { type TestContext, test } from 'node:test';
import { type GradeCode, type GradeReport, gradeServer } from '../../src/diagnostics/grade/index.ts';
import { parseCertificates } from '../../src/pki/parse.ts';
import { cleanEnv } from '../helpers/env.ts';
import { makePki } from '../helpers/pki.ts';
import { tempDir } from '../helpers/tmp.ts';
import { opensslChain, startSServer } from './grade-servers.ts';

interface TestsslEntry {
  id: string;
  severity: string;
  finding: string;
}

function testssl(port: number, dir: string, caFile: string): Promise<TestsslEntry[]> {
  const json = join(dir, 'testssl.json');
  // -p protocols, -f forward secrecy, -s cipher categories, -P the suites per protocol, -S server
  // defaults (certificate, chain, stapling, resumption), -h HTTP headers (HSTS). No DNS: offline.
  const args = [
    '--jsonfile',
    json,
    '--warnings',
    'batch',
    '--quiet',
    '--nodns',
    'none',
    '--color',
    '0',
    '--add-ca',
    caFile,
    '-p',
    '-f',
    '-s',
    '-P',
    '-S',
    '-h',
    `127.0.0.1:${port}`,
  ];
  // The scanner's own OpenSSL 3 refuses TLS 1.0, SHA-1 and 1024-bit keys at its default level;
  // testssl's docs say to lower it for legacy servers.
  const conf = join(dir, 'openssl-legacy.cnf');
  writeFileSync(
    conf,
    'openssl_conf = default_conf\n[default_conf]\nssl_conf = ssl_sect\n[ssl_sect]\nsystem_default = system_default_sect\n[system_default_sect]\nMinProtocol = TLSv1\nCipherString = DEFAULT@SECLEVEL=0\n',
  );
  return new Promise((resolve, reject) => {
    execFile('testssl', args, { cwd: dir, env: cleanEnv({ HOME: dir, OPENSSL_CONF: conf }), timeout: 240_000, maxBuffer: 16 << 20 }, (err) => {
      try {
        resolve(JSON.parse(readFileSync(json, 'utf8')) as TestsslEntry[]);
      } catch {
        reject(err ?? new Error('testssl wrote no JSON'));
      }
    });
  });
}

const flagged = (e: TestsslEntry) => !['OK', 'INFO'].includes(e.severity);

/** What testssl reported, as the certgate codes that must answer it (any one of each group). */
function expectations(entries: TestsslEntry[]): Array<{ because: string; anyOf: GradeCode[] }> {
  const out: Array<{ because: string; anyOf: GradeCode[] }> = [];
  const get = (id: string) => entries.find((e) => e.id === id);
  const add = (e: TestsslEntry | undefined, anyOf: GradeCode[]) => {
    if (e) out.push({ because: `${e.id}: ${e.finding} (${e.severity})`, anyOf });
  };
  for (const [id, code] of [
    ['TLS1', 'GRADE_TLS1_0_OFFERED'],
    ['TLS1_1', 'GRADE_TLS1_1_OFFERED'],
  ] as const) {
    const e = get(id);
    if (e && /^offered/.test(e.finding)) add(e, [code, 'GRADE_ONLY_LEGACY_TLS']);
  }
  const t12 = get('TLS1_2');
  if (t12 && /not offered/.test(t12.finding) && !/^offered/.test(get('TLS1_3')?.finding ?? '')) add(t12, ['GRADE_ONLY_LEGACY_TLS']);
  const t13 = get('TLS1_3');
  if (t13 && /not offered/.test(t13.finding)) add(t13, ['GRADE_NO_TLS1_3', 'GRADE_ONLY_LEGACY_TLS']);
  const pfs = get('PFS');
  if (pfs && flagged(pfs)) add(pfs, ['GRADE_NO_FORWARD_SECRECY', 'GRADE_CIPHER_NO_FORWARD_SECRECY']);
  const strong = get('cipherlist_STRONG');
  if (strong && /not offered/.test(strong.finding)) add(strong, ['GRADE_NO_AEAD']);
  const average = get('cipherlist_AVERAGE');
  if (average && /^offered/.test(average.finding)) add(average, ['GRADE_CIPHER_CBC', 'GRADE_NO_AEAD']);
  // testssl lists the suites per protocol: each without ECDHE/DHE is RSA key exchange.
  for (const e of entries.filter((x) => x.id.startsWith('cipherorder_'))) {
    const rsa = e.finding.split(/\s+/).filter((n) => n && !/^(ECDHE|DHE|TLS_)/.test(n));
    if (rsa.length) add({ ...e, finding: rsa.join(' ') }, ['GRADE_RSA_KEY_EXCHANGE']);
  }
  const dh = get('DH_groups');
  if (dh && flagged(dh)) add(dh, ['GRADE_DH_WEAK']);
  const order = get('cipher_order');
  if (order && /NOT a cipher order/i.test(order.finding)) add(order, ['GRADE_NO_CIPHER_ORDER']);
  const sig = get('cert_signatureAlgorithm');
  if (sig && /SHA1|MD5/i.test(sig.finding)) add(sig, /MD5/i.test(sig.finding) ? ['GRADE_SIGNATURE_MD5'] : ['GRADE_SIGNATURE_SHA1']);
  const size = get('cert_keySize');
  if (size && flagged(size)) add(size, ['GRADE_KEY_TOO_SMALL']);
  const staple = get('OCSP_stapling');
  if (staple && /not offered/.test(staple.finding)) add(staple, ['GRADE_OCSP_NOT_STAPLED', 'GRADE_MUST_STAPLE_NOT_STAPLED']);
  const must = get('cert_mustStapleExtension');
  if (must && flagged(must)) add(must, ['GRADE_MUST_STAPLE_NOT_STAPLED']);
  const hsts = get('HSTS');
  if (hsts && /not offered/.test(hsts.finding)) add(hsts, ['GRADE_HSTS_MISSING']);
  if (hsts && flagged(hsts) && /max-age/i.test(hsts.finding)) add(hsts, ['GRADE_HSTS_SHORT']);
  const alpn = get('ALPN_HTTP2') ?? get('ALPN');
  if (alpn && (/not offered/.test(alpn.finding) || !/h2/.test(alpn.finding))) add(alpn, ['GRADE_NO_ALPN_H2']);
  const ticket = get('sessionresumption_ticket');
  if (ticket && /not supported/.test(ticket.finding)) add(ticket, ['GRADE_NO_SESSION_TICKETS', 'GRADE_NO_RESUMPTION']);
  const id = get('sessionresumption_ID');
  if (id && /not supported/.test(id.finding)) add(id, ['GRADE_NO_SESSION_IDS', 'GRADE_NO_RESUMPTION']);
  const trust = get('cert_chain_of_trust');
  if (trust && /incomplete|unable to get local issuer/i.test(trust.finding)) add(trust, ['GRADE_CHAIN_INCOMPLETE']);
  const ordering = get('certs_list_ordering_problem');
  if (ordering && /^yes/.test(ordering.finding)) add(ordering, ['GRADE_CHAIN_WRONG_ORDER']);
  const san = get('cert_subjectAltName');
  if (san && /No SAN/i.test(san.finding)) add(san, ['GRADE_CERT_NO_SAN']);
  return out;
}

function compare(entries: TestsslEntry[], report: GradeReport): void {
  const codes = new Set(report.findings.map((f) => f.code));
  const missed = expectations(entries).filter((x) => !x.anyOf.some((c) => codes.has(c)));
  assert.deepEqual(
    missed.map((m) => `${m.because} -> ${m.anyOf.join('|')}`),
    [],
    `certgate found: ${[...codes].join(', ')}`,
  );
  for (const f of report.findings) assert.ok(f.fix.length > 10, `${f.code} has a fix`);
}

async function both(t: TestContext, port: number, dir: string, caFile: string): Promise<{ entries: TestsslEntry[]; report: GradeReport }> {
  const report = await gradeServer({ host: '127.0.0.1', port }, { servername: 'localhost', ca: parseCertificates(readFileSync(caFile)), systemRoots: false });
  const entries = await testssl(port, dir, caFile);
  t.diagnostic(
    `testssl flagged: ${entries
      .filter(flagged)
      .map((e) => e.id)
      .join(', ')}`,
  );
  t.diagnostic(`certgate: ${report.findings.map((f) => f.code).join(', ')}`);
  return { entries, report };
}

test('TLS 1.0 only, SHA-1 signature, 1024-bit key, no tickets: certgate finds what testssl flags', { timeout: 300_000 }, async (t) => {
  const dir = tempDir(t);
  const files = await opensslChain(dir, { hash: 'sha1', leafKey: 'rsa:1024' });
  const s = await startSServer(files, ['-tls1', '-cipher', 'DEFAULT@SECLEVEL=0', '-no_ticket']);
  t.after(s.close);
  const { entries, report } = await both(t, s.port, dir, files.ca);
  assert.ok(expectations(entries).length >= 5, 'testssl flagged this server');
  compare(entries, report);
});

test('RSA key exchange CBC suite, root sent, no resumption: certgate finds what testssl flags', { timeout: 300_000 }, async (t) => {
  const dir = tempDir(t);
  const files = await opensslChain(dir);
  const s = await startSServer({ ...files, chain: files.ca }, ['-no_tls1_3', '-cipher', 'AES128-SHA', '-no_ticket', '-no_cache']);
  t.after(s.close);
  const { entries, report } = await both(t, s.port, dir, files.ca);
  assert.ok(
    report.findings.some((f) => f.code === 'GRADE_CHAIN_ROOT_SENT'),
    'the root sent is seen',
  );
  compare(entries, report);
});

test('Node HTTPS with TLS 1.0 on, missing intermediate, no HSTS, no ALPN: certgate finds what testssl flags', { timeout: 300_000 }, async (t) => {
  const dir = tempDir(t);
  const pki = await makePki();
  const caFile = join(dir, 'root.pem');
  writeFileSync(caFile, pki.root.certPem);
  const server = createHttpsServer({ cert: pki.leaf.certPem, key: pki.leaf.keyPem, minVersion: 'TLSv1', ciphers: 'DEFAULT@SECLEVEL=0' }, (_q, r) =>
    r.end('ok'),
  );
  server.on('tlsClientError', () => {});
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  t.after(() => new Promise<void>((r) => server.close(() => r())));
  server.closeIdleConnections?.();
  const port = (server.address() as AddressInfo).port;
  const { entries, report } = await both(t, port, dir, caFile);
  server.closeAllConnections();
  compare(entries, report);
});
