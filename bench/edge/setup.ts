/**
 * The certgate side of bench/edge, shared by run.ts and profile.ts: a data directory holding
 * the bench certificate (bench.example.com and IP 127.0.0.1) and 1,000 other stored names, each
 * its own certificate, served in production mode (stored ACME certificates are loaded; the
 * directory is never reached: nothing is due). The no-SNI default is one of the other names, so
 * the measured handshakes take the same path as a name of a multi-name production config: SNI
 * lookup among 1,001 names, then a context switch to the name's certificate.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createCertificate, type IssuedCertificate } from '../../src/pki/generate.ts';
import { FsStore } from '../../src/store/fs.ts';
import { certMeta } from '../../src/store/meta.ts';

export const OTHER_NAMES = 1000;

export async function certgateData(
  dir: string,
  ca: IssuedCertificate,
  leaf: IssuedCertificate,
  others = OTHER_NAMES,
): Promise<{ data: string; defaultSni: string; pems: { name: string; cert: string; key: string }[] }> {
  const data = join(dir, 'certgate');
  const store = new FsStore({ root: data });
  const meta = (pem: string, name: string, names: string[]) => certMeta(pem, { name, names, directory: 'https://127.0.0.1:9/bench', keyType: 'ec-p256' });
  await store.putBundle('bench.example.com', {
    certPem: leaf.certPem + ca.certPem,
    keyPem: leaf.keyPem,
    meta: meta(leaf.certPem, 'bench.example.com', ['bench.example.com', '127.0.0.1']),
  });
  // One key for the other names (key generation is the slow part of making 1,000 certificates);
  // each name still has its own certificate, so its own secure context when it is served.
  const pems: { name: string; cert: string; key: string }[] = [];
  const first = await createCertificate({ subject: 'CN=n0.bench-other.example', issuer: ca, dns: ['n0.bench-other.example'] });
  for (let i = 0; i < others; i++) {
    const name = `n${i}.bench-other.example`;
    const c = i === 0 ? first : await createCertificate({ subject: `CN=${name}`, issuer: ca, dns: [name], keyPair: first.keys });
    await store.putBundle(name, { certPem: c.certPem + ca.certPem, keyPem: c.keyPem, meta: meta(c.certPem, name, [name]) });
    pems.push({ name, cert: c.certPem + ca.certPem, key: c.keyPem });
  }
  // The same names for a bare multi-name server (bare-sni.js): the default first, then the bench's
  // certificate under each name a client may send (wrk sends the URL's IP as its SNI).
  for (const name of ['bench.example.com', '127.0.0.1']) pems.push({ name, cert: leaf.certPem + ca.certPem, key: leaf.keyPem });
  return { data, defaultSni: 'n0.bench-other.example', pems };
}

export function certgateConfig(file: string, o: { upPort: number; https: number; http: number; defaultSni: string; workers: boolean }): void {
  writeFileSync(
    file,
    // Production mode with the terms agreed: stored certificates are served. The directory is a
    // closed port; no certificate is due, so maintenance never asks it anything.
    `mode: production\nacme: { agreeToTerms: true, email: bench@example.com, directory: "https://127.0.0.1:9/bench" }\nroutes:\n  bench.example.com: http://127.0.0.1:${o.upPort}\nhsts: false\ndefaultSni: ${o.defaultSni}\nlisten: { https: ${o.https}, http: ${o.http}, host: 127.0.0.1 }\n${o.workers ? 'workers: auto\n' : ''}`,
  );
}
