// Writes bundles for one name in a tight loop until killed: each bundle's key matches its
// certificate. Used by the crash test (kill -9 mid-write).
import { FsStore } from '../../src/store/fs.ts';

const [root, name, pairsJson] = process.argv.slice(2) as [string, string, string];
const pairs = JSON.parse(pairsJson) as Array<{ certPem: string; keyPem: string; serial: string }>;
const store = new FsStore({ root });
process.stdout.write('ready\n');
for (let i = 0; ; i++) {
  const p = pairs[i % pairs.length] as { certPem: string; keyPem: string; serial: string };
  await store.putBundle(name, {
    certPem: p.certPem,
    keyPem: p.keyPem,
    meta: {
      name,
      names: [name],
      issuer: 'test',
      serialNumber: p.serial,
      notBefore: new Date().toISOString(),
      notAfter: new Date(Date.now() + 86_400_000).toISOString(),
      issuedAt: new Date().toISOString(),
      directory: 'test',
      accountUrl: null,
      keyType: 'ec-p256',
      profile: null,
      ari: null,
    },
  });
}
