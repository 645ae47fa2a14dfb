/**
 * `openssl s_server` on a free loopback port, for what Node's TLS server cannot be made to do:
 * serve a SHA-1 certificate, ask for client certificates naming CAs, end a handshake with
 * unrecognized_name, speak only TLS 1.0. Stopped by PID in close().
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort, stopper, upOrStop } from './daemons.ts';
import { cleanEnv } from './env.ts';
import type { OsslCert } from './openssl-pki.ts';

export interface SServerOptions {
  cert: OsslCert;
  /** Intermediates sent after the certificate. */
  chain?: OsslCert[];
  /** More s_server flags, e.g. ['-Verify', '1', '-CAfile', file] or ['-servername', 'x', '-servername_fatal']. */
  args?: string[];
}

export async function startOpensslServer(_dir: string, options: SServerOptions): Promise<{ port: number; close(): Promise<void> }> {
  const own = mkdtempSync(join(tmpdir(), 'certgate-sserver-'));
  const port = await freePort();
  const args = ['s_server', '-accept', `127.0.0.1:${port}`, '-cert', options.cert.certFile, '-key', options.cert.keyFile, '-quiet', '-no_dhe'];
  if (options.chain?.length) {
    const file = join(own, 'chain.pem');
    writeFileSync(file, options.chain.map((c) => c.certPem).join(''));
    args.push('-cert_chain', file);
  }
  args.push(...(options.args ?? []));
  const child = spawn('openssl', args, { env: cleanEnv(), stdio: ['pipe', 'pipe', 'pipe'] });
  let log = '';
  child.stdout.on('data', (d) => {
    log += d;
  });
  child.stderr.on('data', (d) => {
    log += d;
  });
  await upOrStop(port, child, own, 5000, () => log);
  return { port, close: stopper(child, own) };
}
