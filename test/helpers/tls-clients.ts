/**
 * Which leaf a server hands to a client, as seen by three real clients: Node's tls, curl and
 * openssl s_client. Each answers the leaf's SHA-256 fingerprint (or null when the handshake
 * failed), so a test compares it with the certificate it meant to be served. curl and openssl
 * run with only the CA file they are given: the variables that point them at the system bundle
 * are cleared in their environment.
 */
import { execFile } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { type ConnectionOptions, connect } from 'node:tls';

const CLIENT_ENV_DROP = ['NODE_EXTRA_CA_CERTS', 'SSL_CERT_FILE', 'SSL_CERT_DIR', 'CURL_CA_BUNDLE', 'NIX_SSL_CERT_FILE', 'REQUESTS_CA_BUNDLE'];

/** The environment for curl and openssl: this one, without any CA bundle variable. */
export function clientEnv(): NodeJS.ProcessEnv {
  const env = { ...process.env };
  for (const k of CLIENT_ENV_DROP) delete env[k];
  return env;
}

export function fingerprint(pem: string): string {
  return new X509Certificate(pem).fingerprint256;
}

function run(cmd: string, args: string[], timeout = 10_000): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = execFile(cmd, args, { env: clientEnv(), timeout, maxBuffer: 4 << 20 }, (err, stdout, stderr) => {
      const code = (err as { code?: unknown } | null)?.code;
      resolve({ code: err ? (typeof code === 'number' ? code : 1) : 0, stdout, stderr });
    });
    // s_client reads what to send from stdin: end it, so that it leaves after the handshake.
    child.stdin?.end();
  });
}

const FIRST_PEM = /-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/;

/** The leaf Node's tls.connect gets (verified against `ca`), or null when the handshake fails. */
export function nodeLeaf(port: number, servername: string, ca: string[], extra: Partial<ConnectionOptions> = {}): Promise<string | null> {
  return new Promise((resolve) => {
    const s = connect({ host: '127.0.0.1', port, servername, ca, ...extra }, () => {
      const fp = s.getPeerX509Certificate()?.fingerprint256 ?? null;
      s.destroy();
      resolve(fp);
    });
    s.setTimeout(10_000, () => s.destroy(new Error('timeout')));
    s.on('error', () => resolve(null));
  });
}

/** The leaf openssl s_client gets with `-servername` (none when ''), verified against `caFile`, or null. */
export async function opensslLeaf(port: number, servername: string, caFile: string, extra: string[] = []): Promise<string | null> {
  const sni = servername ? ['-servername', servername] : ['-noservername'];
  const r = await run('openssl', ['s_client', '-connect', `127.0.0.1:${port}`, ...sni, '-CAfile', caFile, '-verify_return_error', ...extra]);
  const pem = FIRST_PEM.exec(r.stdout)?.[0];
  return r.stdout.includes('Verify return code: 0 (ok)') && pem ? fingerprint(pem) : null;
}

/** How many certificates openssl s_client was sent (`-showcerts`). */
export async function opensslChainLength(port: number, servername: string, caFile: string): Promise<number> {
  const r = await run('openssl', ['s_client', '-connect', `127.0.0.1:${port}`, '-servername', servername, '-CAfile', caFile, '-showcerts']);
  return r.stdout.match(/-----BEGIN CERTIFICATE-----/g)?.length ?? 0;
}

/** The leaf curl gets for https://NAME:PORT/ resolved to 127.0.0.1 (verified against `caFile`), or null. */
export async function curlLeaf(port: number, servername: string, caFile: string, extra: string[] = []): Promise<string | null> {
  const r = await run('curl', [
    '--silent',
    '--output',
    '/dev/null',
    '--max-time',
    '10',
    '--resolve',
    `${servername}:${port}:127.0.0.1`,
    '--cacert',
    caFile,
    '--write-out',
    '%{certs}',
    ...extra,
    `https://${servername}:${port}/`,
  ]);
  const pem = FIRST_PEM.exec(r.stdout)?.[0];
  return r.code === 0 && pem ? fingerprint(pem) : null;
}
