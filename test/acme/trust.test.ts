/**
 * Each ACME issuer trusts its own CA root only: a private root given to one issuer (Pebble, a
 * corporate CA) must not make another issuer's connections trust it too (acme-client shares
 * one HTTP client, and certgate used to widen its defaults for every issuer).
 */
import assert from 'node:assert/strict';
import { createServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { test } from 'node:test';
import { ChallengeAnswers } from '../../src/acme/challenges.ts';
import { AcmeIssuer } from '../../src/acme/issuer.ts';
import type { CertgateError } from '../../src/errors.ts';
import { createCertificate } from '../../src/pki/generate.ts';
import { FsStore } from '../../src/store/fs.ts';
import { tempDir } from '../helpers/tmp.ts';

/** An HTTPS server answering a minimal ACME directory, its certificate from `ca`. */
async function fakeDirectory(t: { after(fn: () => unknown): void }, ca: Awaited<ReturnType<typeof createCertificate>>): Promise<string> {
  const leaf = await createCertificate({ subject: 'CN=127.0.0.1', issuer: ca, ip: ['127.0.0.1'] });
  const server = createServer({ cert: leaf.certPem, key: leaf.keyPem }, (req, res) => {
    const base = `https://127.0.0.1:${(server.address() as AddressInfo).port}`;
    res.writeHead(200, { 'content-type': 'application/json', 'replay-nonce': 'n0nce' });
    res.end(req.url === '/dir' ? JSON.stringify({ newNonce: `${base}/nonce`, newAccount: `${base}/acct`, newOrder: `${base}/order` }) : '{}');
  });
  server.on('tlsClientError', () => {});
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  t.after(() => new Promise((r) => server.close(r)));
  return `https://127.0.0.1:${(server.address() as AddressInfo).port}/dir`;
}

test("an issuer does not trust another issuer's private CA root", async (t) => {
  const ca = await createCertificate({ subject: 'CN=Private ACME CA', ca: true });
  const [a, b] = [await fakeDirectory(t, ca), await fakeDirectory(t, ca)];
  const store = new FsStore({ root: tempDir(t) });
  const answers = new ChallengeAnswers();
  // The first issuer is told to trust the private root for its CA...
  new AcmeIssuer({ directory: a, caRootPem: ca.certPem, agreeToTerms: true, store, answers });
  // ...the second, for another CA, is not: its directory must stay untrusted.
  const other = new AcmeIssuer({ directory: b, agreeToTerms: true, store, answers });
  await assert.rejects(other.ensureAccount(), (e: CertgateError) => e.code === 'E_ACME_UNREACHABLE' && /not trusted/.test(e.fix ?? ''));
});
