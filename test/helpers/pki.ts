/**
 * A test PKI, generated at test time: root → intermediate → leaves of every broken kind.
 * Nothing here is committed; every run makes new keys.
 */
import { createCertificate, type IssuedCertificate } from '../../src/pki/generate.ts';

export interface TestPki {
  root: IssuedCertificate;
  inter: IssuedCertificate;
  leaf: IssuedCertificate;
  otherRoot: IssuedCertificate;
}

const DAY = 86_400_000;

export async function makePki(options: { caIssuersUrl?: string } = {}): Promise<TestPki> {
  const root = await createCertificate({ subject: 'CN=Certgate Test Root, O=Certgate Tests', ca: true });
  const inter = await createCertificate({ subject: 'CN=Certgate Test Intermediate, O=Certgate Tests', ca: { pathLength: 0 }, issuer: root });
  const leaf = await createCertificate({
    subject: 'CN=app.test',
    issuer: inter,
    dns: ['app.test', 'localhost'],
    ip: ['127.0.0.1'],
    ...(options.caIssuersUrl ? { caIssuersUrl: options.caIssuersUrl } : {}),
  });
  const otherRoot = await createCertificate({ subject: 'CN=Some Other Root', ca: true });
  return { root, inter, leaf, otherRoot };
}

export function leafSpec(pki: TestPki, overrides: Partial<Parameters<typeof createCertificate>[0]> = {}) {
  return createCertificate({ subject: 'CN=app.test', issuer: pki.inter, dns: ['app.test', 'localhost'], ip: ['127.0.0.1'], ...overrides });
}

export const days = (n: number) => n * DAY;
