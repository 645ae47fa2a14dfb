/**
 * Redis (TLS only) and MariaDB (TLS) started for a test from the Debian packages, on high
 * ports, in temp directories, stopped by PID in close().
 */
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { connect, createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { realClockEnv } from './env.ts';
import { binaryOf } from './require.ts';

const run = promisify(execFile);

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
}

export async function waitForPort(port: number, child: ChildProcess, ms: number, log: () => string, host = '127.0.0.1'): Promise<void> {
  const deadline = Date.now() + ms;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`server exited early (${child.exitCode}): ${log()}`);
    const ok = await new Promise<boolean>((resolve) => {
      const s = connect({ port, host });
      s.once('connect', () => {
        s.destroy();
        resolve(true);
      });
      s.once('error', () => resolve(false));
    });
    if (ok) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`server did not listen on ${port} within ${ms} ms: ${log()}`);
}

/** Waits for `port`; when the server does not come up, stops it (and removes `dir`) before throwing. */
export async function upOrStop(port: number, child: ChildProcess, dir: string, ms: number, log: () => string, host = '127.0.0.1'): Promise<void> {
  try {
    await waitForPort(port, child, ms, log, host);
  } catch (err) {
    await stopper(child, dir)();
    throw err;
  }
}

/** Stops a server this test started (SIGTERM, SIGKILL after 10 s) and removes its directory. */
export function stopper(child: ChildProcess, dir: string): () => Promise<void> {
  return async () => {
    if (child.exitCode === null && child.signalCode === null) {
      const exited = new Promise((r) => child.once('exit', r));
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
      await exited;
      clearTimeout(timer);
    }
    rmSync(dir, { recursive: true, force: true });
  };
}

export interface Daemon {
  port: number;
  close(): Promise<void>;
}

export async function startRedisTls(options: { certPem: string; keyPem: string; caPem: string; password?: string }): Promise<Daemon> {
  const redisServer = binaryOf('redis-server');
  const dir = mkdtempSync(join(tmpdir(), 'certgate-redis-'));
  writeFileSync(join(dir, 'server.crt'), options.certPem);
  writeFileSync(join(dir, 'server.key'), options.keyPem, { mode: 0o600 });
  writeFileSync(join(dir, 'ca.crt'), options.caPem);
  const port = await freePort();
  const args = [
    '--port',
    '0',
    '--tls-port',
    String(port),
    '--bind',
    '127.0.0.1',
    '--tls-cert-file',
    join(dir, 'server.crt'),
    '--tls-key-file',
    join(dir, 'server.key'),
    '--tls-ca-cert-file',
    join(dir, 'ca.crt'),
    '--tls-auth-clients',
    'no',
    '--save',
    '',
    '--appendonly',
    'no',
    '--dir',
    dir,
  ];
  if (options.password) args.push('--requirepass', options.password);
  let log = '';
  // libfaketime (npm run test:future) crashes redis-server (its allocator reads the clock first); it
  // checks no certificate dates here (clients are not verified), so it keeps the real clock.
  const child = spawn(redisServer, args, { env: realClockEnv(), stdio: ['ignore', 'pipe', 'pipe'] });
  child.stdout?.on('data', (d) => {
    log += d;
  });
  child.stderr?.on('data', (d) => {
    log += d;
  });
  await upOrStop(port, child, dir, 15_000, () => log.slice(-2000));
  return { port, close: stopper(child, dir) };
}

export async function startMariaDb(options: { certPem: string; keyPem: string; caPem: string }): Promise<Daemon & { socket: string }> {
  const mariadbd = binaryOf('mariadb-server', '/usr/sbin/mariadbd');
  const installDb = binaryOf('mariadb-server', '/usr/bin/mariadb-install-db');
  const dir = mkdtempSync(join(tmpdir(), 'certgate-mariadb-'));
  const data = join(dir, 'data');
  writeFileSync(join(dir, 'server.crt'), options.certPem);
  writeFileSync(join(dir, 'server.key'), options.keyPem, { mode: 0o600 });
  writeFileSync(join(dir, 'ca.crt'), options.caPem);
  await run(installDb, ['--no-defaults', `--datadir=${data}`, '--user=root', '--auth-root-authentication-method=normal', '--skip-test-db'], {
    timeout: 120_000,
  });
  const port = await freePort();
  const socket = join(dir, 'mysqld.sock');
  let log = '';
  const child = spawn(
    mariadbd,
    [
      '--no-defaults',
      `--datadir=${data}`,
      `--socket=${socket}`,
      `--port=${port}`,
      '--bind-address=127.0.0.1',
      '--user=root',
      `--pid-file=${join(dir, 'mysqld.pid')}`,
      `--ssl-cert=${join(dir, 'server.crt')}`,
      `--ssl-key=${join(dir, 'server.key')}`,
      `--ssl-ca=${join(dir, 'ca.crt')}`,
      '--skip-name-resolve',
      '--skip-log-bin',
      '--innodb-buffer-pool-size=16M',
    ],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  child.stdout?.on('data', (d) => {
    log += d;
  });
  child.stderr?.on('data', (d) => {
    log += d;
  });
  await upOrStop(port, child, dir, 60_000, () => log.slice(-2000));
  return { port, socket, close: stopper(child, dir) };
}
