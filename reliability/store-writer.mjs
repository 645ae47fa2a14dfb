// A child for the faults part: writes certificate/key pairs into a filesystem store, over and
// over, until it is killed. Plain JS on the built dist/ so it starts fast. argv: ROOT NAME...

import { createCertificate } from '../dist/pki/generate.js';
import { FsStore } from '../dist/store/fs.js';

const [root, ...names] = process.argv.slice(2);
const store = new FsStore({ root });
for (let i = 0; i < 100_000; i++) {
  const name = names[i % names.length];
  const c = await createCertificate({ subject: `CN=${name}`, dns: [name] });
  const now = new Date();
  await store.putBundle(name, {
    certPem: c.certPem,
    keyPem: c.keyPem,
    meta: {
      name,
      names: [name],
      issuer: `CN=${name}`,
      serialNumber: String(i),
      notBefore: now.toISOString(),
      notAfter: new Date(now.getTime() + 86_400_000).toISOString(),
      issuedAt: now.toISOString(),
      directory: 'local',
      accountUrl: null,
      keyType: 'ec-p256',
      profile: null,
      ari: null,
    },
  });
  if (i === 0) process.stdout.write('writing\n');
}
