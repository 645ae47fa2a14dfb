/**
 * Shared by the crypt, rekey and copy tests: stored pairs made now, a stand-in "CA" that counts
 * connections (a served certificate must come from the store, never from a CA), and the leaf a
 * running server presents.
 */
import { randomBytes, X509Certificate } from 'node:crypto';
import { createServer, type Server } from 'node:net';
import { connect as tlsConnect } from 'node:tls';
import { createCertificate } from '../../src/pki/generate.ts';
import { buildRuntime, type Runtime } from '../../src/runtime/server.ts';
import type { ServerSettings } from '../../src/runtime/settings.ts';
import { certMeta } from '../../src/store/meta.ts';
import type { CertificateBundle } from '../../src/store/store.ts';
import { settings } from '../helpers/settings.ts';

export const hexKey = () => randomBytes(32).toString('hex');
export const b64Key = () => randomBytes(32).toString('base64');

export async function bundleFor(name: string): Promise<CertificateBundle> {
  const c = await createCertificate({ subject: `CN=${name}`, dns: [name] });
  return { certPem: c.certPem, keyPem: c.keyPem, meta: certMeta(c.certPem, { name, names: [name], directory: 'test', keyType: 'ec-p256' }) };
}

export const fingerprintOf = (pem: string) => new X509Certificate(pem).fingerprint256;

/** A TCP listener standing in for the ACME CA: it counts connections and answers none. */
export async function countingCa(): Promise<{ url: string; connections: () => number; close: () => Promise<void> }> {
  let n = 0;
  const server: Server = createServer((s) => {
    n++;
    s.destroy();
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as { port: number }).port;
  return { url: `https://127.0.0.1:${port}/dir`, connections: () => n, close: () => new Promise((r) => server.close(() => r())) };
}

/** The runtime `serve` builds, in production mode with ACME on against `ca`. */
export async function startServe(data: string, ca: string, over: Partial<ServerSettings> = {}): Promise<{ rt: Runtime; https: number }> {
  const rt = await buildRuntime(settings(data, { acmeAgreeTos: true, acmeEmail: 'ops@certgate.dev', acmeDirectory: ca, httpPort: null, ...over }));
  const ports = await rt.start();
  return { rt, https: ports.https as number };
}

/** The fingerprint of the leaf served for `name`, or null. */
export function servedFingerprint(port: number, name: string): Promise<string | null> {
  return new Promise((resolve) => {
    const s = tlsConnect({ host: '127.0.0.1', port, servername: name, rejectUnauthorized: false }, () => {
      resolve(s.getPeerX509Certificate()?.fingerprint256 ?? null);
      s.end();
    });
    s.on('error', () => resolve(null));
  });
}
