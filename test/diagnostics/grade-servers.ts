/**
 * Servers for the grade tests, made at test time: `openssl s_server` for what Node's TLS server
 * cannot be made to do (TLS 1.0 only, SHA-1 and 1024-bit chains, stapling from a file), and
 * certificates made with the openssl CLI where createCertificate cannot (SHA-1 via x509 -sha1,
 * must-staple). Every process is stopped by PID in close().
 */
import { execFile, spawn } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { freePort, stopper, upOrStop } from '../helpers/daemons.ts';
import { cleanEnv } from '../helpers/env.ts';

const exec = promisify(execFile);

export interface Openssl {
  port: number;
  dir: string;
  close(): Promise<void>;
}

/** `openssl s_server -www` on loopback with the given certificate files and extra flags. */
export async function startSServer(files: { cert: string; key: string; chain?: string }, flags: string[]): Promise<Openssl> {
  const dir = mkdtempSync(join(tmpdir(), 'certgate-grade-'));
  const port = await freePort();
  const args = [
    's_server',
    '-accept',
    `127.0.0.1:${port}`,
    '-cert',
    files.cert,
    '-key',
    files.key,
    '-www',
    '-quiet',
    ...(files.chain ? ['-cert_chain', files.chain] : []),
    ...flags,
  ];
  const child = spawn('openssl', args, { stdio: ['ignore', 'ignore', 'pipe'], env: cleanEnv() });
  let log = '';
  child.stderr?.on('data', (d: Buffer) => {
    log = (log + d.toString()).slice(-4000);
  });
  await upOrStop(port, child, dir, 10_000, () => log);
  return { port, dir, close: stopper(child, dir) };
}

export async function openssl(args: string[], cwd: string): Promise<void> {
  await exec('openssl', args, { cwd, env: cleanEnv(), timeout: 30_000 });
}

/** A CA and a leaf for 127.0.0.1/localhost made with the openssl CLI. */
export async function opensslChain(
  dir: string,
  options: { leafKey?: 'rsa:1024' | 'rsa:2048' | 'ec'; hash?: 'sha1' | 'sha256'; mustStaple?: boolean } = {},
): Promise<{ ca: string; caKey: string; cert: string; key: string }> {
  const leafKey = options.leafKey ?? 'rsa:2048';
  const hash = options.hash ?? 'sha256';
  await openssl(
    [
      'req',
      '-x509',
      '-newkey',
      'rsa:2048',
      '-nodes',
      '-keyout',
      'ca.key',
      '-out',
      'ca.pem',
      '-subj',
      '/CN=Grade Test CA',
      '-days',
      '30',
      '-addext',
      'basicConstraints=critical,CA:TRUE',
      '-addext',
      'keyUsage=critical,keyCertSign,cRLSign',
    ],
    dir,
  );
  const keyArgs = leafKey === 'ec' ? ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256'] : ['-newkey', leafKey];
  await openssl(['req', '-new', ...keyArgs, '-nodes', '-keyout', 'leaf.key', '-out', 'leaf.csr', '-subj', '/CN=localhost'], dir);
  writeFileSync(
    join(dir, 'leaf.ext'),
    `subjectAltName=DNS:localhost,IP:127.0.0.1\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\nkeyUsage=digitalSignature,keyEncipherment\nauthorityInfoAccess=OCSP;URI:http://127.0.0.1:9/ocsp\n${options.mustStaple ? 'tlsfeature=status_request\n' : ''}`,
  );
  await openssl(
    [
      'x509',
      '-req',
      '-in',
      'leaf.csr',
      '-CA',
      'ca.pem',
      '-CAkey',
      'ca.key',
      '-CAcreateserial',
      '-out',
      'leaf.pem',
      '-days',
      '20',
      `-${hash}`,
      '-extfile',
      'leaf.ext',
    ],
    dir,
  );
  return { ca: join(dir, 'ca.pem'), caKey: join(dir, 'ca.key'), cert: join(dir, 'leaf.pem'), key: join(dir, 'leaf.key') };
}

/** A good OCSP response for the leaf, signed by the CA itself, for s_server -status_file. */
export async function ocspResponse(dir: string): Promise<string> {
  const { stdout: serial } = await exec('openssl', ['x509', '-in', 'leaf.pem', '-noout', '-serial'], { cwd: dir, env: cleanEnv() });
  const hex = serial.trim().replace(/^serial=/, '');
  writeFileSync(join(dir, 'index.txt'), `V\t491231235959Z\t\t${hex}\tunknown\t/CN=localhost\n`);
  await openssl(['ocsp', '-issuer', 'ca.pem', '-cert', 'leaf.pem', '-no_nonce', '-reqout', 'req.der'], dir);
  await openssl(
    ['ocsp', '-index', 'index.txt', '-rsigner', 'ca.pem', '-rkey', 'ca.key', '-CA', 'ca.pem', '-reqin', 'req.der', '-respout', 'resp.der', '-ndays', '1'],
    dir,
  );
  return join(dir, 'resp.der');
}
