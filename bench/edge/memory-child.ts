/**
 * One memory measurement, in a process of its own: N idle certificates held for the handshake
 * path (the edge's CertCache: PEM text and metadata, no secure context until a handshake asks),
 * after a full GC. Prints one JSON line. Run by bench/edge/memory.ts with --expose-gc.
 *
 * Certificates are 20 real ECDSA P-256 chains (leaf + issuer) copied N times into fresh strings,
 * so each entry costs what a distinct certificate costs (no shared string storage).
 */
import { CertCache } from '../../src/cache/cache.ts';
import { createCertificate } from '../../src/pki/generate.ts';
import { certMeta } from '../../src/store/meta.ts';
import type { CertificateBundle } from '../../src/store/store.ts';

const n = Number(process.argv[2] ?? 1000);
const gc = (globalThis as { gc?: () => void }).gc;
if (!gc) throw new Error('run with --expose-gc');
const fresh = (s: string) => Buffer.from(s, 'latin1').toString('latin1');

const ca = await createCertificate({ subject: 'CN=Memory Bench CA', ca: true });
const templates: CertificateBundle[] = [];
for (let i = 0; i < 20; i++) {
  const leaf = await createCertificate({ subject: `CN=t${i}.example.com`, issuer: ca, dns: [`t${i}.example.com`, `www.t${i}.example.com`] });
  const certPem = leaf.certPem + ca.certPem;
  const names = [`t${i}.example.com`, `www.t${i}.example.com`];
  // A Let's Encrypt-sized record: directory and account URLs as a real one holds them.
  const meta = certMeta(certPem, {
    name: names[0] as string,
    names,
    directory: 'https://acme-v02.api.letsencrypt.org/directory',
    accountUrl: 'https://acme-v02.api.letsencrypt.org/acme/acct/123456789',
    keyType: 'ec-p256',
  });
  templates.push({ certPem, keyPem: leaf.keyPem, meta });
}
const cache = new CertCache();
for (let i = 0; i < 3; i++) gc();
const before = process.memoryUsage();
for (let i = 0; i < n; i++) {
  const t = templates[i % templates.length] as CertificateBundle;
  const name = `site${i}.example.com`;
  cache.put(name, {
    certPem: fresh(t.certPem),
    keyPem: fresh(t.keyPem),
    meta: {
      ...t.meta,
      name,
      names: [name, `www.${name}`],
      issuer: fresh(t.meta.issuer),
      serialNumber: fresh(t.meta.serialNumber),
      notBefore: fresh(t.meta.notBefore),
      notAfter: fresh(t.meta.notAfter),
      issuedAt: fresh(t.meta.issuedAt),
    },
  });
}
for (let i = 0; i < 3; i++) gc();
const after = process.memoryUsage();
// A handshake's worth of use: the first 100 get built secure contexts, as live sites would.
for (let i = 0; i < 100; i++) cache.context(`site${i}.example.com`);
gc();
const withContexts = process.memoryUsage();
console.log(
  JSON.stringify({
    n,
    rssPerCert: (after.rss - before.rss) / n,
    heapPerCert: (after.heapUsed + after.external - before.heapUsed - before.external) / n,
    rssMb: after.rss / 1048576,
    hundredContextsKb: (withContexts.rss - after.rss) / 1024,
  }),
);
