/**
 * A real PostgreSQL (Debian package `postgresql`) started for a test: a temp cluster owned by
 * the postgres user, ssl=on with certificates generated at test time, a high port, its own
 * socket directory. Stopped and removed by close().
 */
import { execFile } from 'node:child_process';
import { chmodSync, chownSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { promisify } from 'node:util';
import { freePort } from './daemons.ts';
import { binaryOf } from './require.ts';

const run = promisify(execFile);

/** The bin directory of the newest installed PostgreSQL (/usr/lib/postgresql/<version>/bin, not on PATH). */
export function postgresBin(): string {
  return dirname(binaryOf('postgresql', '/usr/lib/postgresql/*/bin/initdb'));
}

export interface PostgresServer {
  port: number;
  /** The Unix socket directory: `host` for a pg client that logs in as postgres (trust). */
  socketDir: string;
  close(): Promise<void>;
}

export interface PostgresOptions {
  certPem: string;
  keyPem: string;
  /** CA for client certificates (`hostssl ... cert`). */
  clientCaPem?: string;
  ssl?: boolean;
  /** The pg_hba.conf line for TCP connections (default: trust, or `hostssl ... cert` with clientCaPem). */
  hostLine?: string;
}

export async function startPostgres(options: PostgresOptions): Promise<PostgresServer> {
  const bin = postgresBin();
  const dir = mkdtempSync(join(tmpdir(), 'certgate-pg-'));
  const data = join(dir, 'data');
  const asPostgres = (cmd: string, args: string[]) => run('runuser', ['-u', 'postgres', '--', join(bin, cmd), ...args], { timeout: 60_000 });
  const { uid, gid } = await run('id', ['-u', 'postgres']).then(async (u) => ({
    uid: Number(u.stdout),
    gid: Number((await run('id', ['-g', 'postgres'])).stdout),
  }));
  chownSync(dir, uid, gid);
  await asPostgres('initdb', ['-D', data, '-A', 'trust', '-U', 'postgres', '--no-sync']);
  const files: Array<[string, string]> = [
    ['server.crt', options.certPem],
    ['server.key', options.keyPem],
  ];
  if (options.clientCaPem) files.push(['client-ca.crt', options.clientCaPem]);
  for (const [name, content] of files) {
    const p = join(data, name);
    writeFileSync(p, content);
    chownSync(p, uid, gid);
    chmodSync(p, 0o600);
  }
  const port = await freePort();
  const conf = [
    `port = ${port}`,
    "listen_addresses = '127.0.0.1'",
    `unix_socket_directories = '${dir}'`,
    `ssl = ${options.ssl === false ? 'off' : 'on'}`,
    "ssl_cert_file = 'server.crt'",
    "ssl_key_file = 'server.key'",
    options.clientCaPem ? "ssl_ca_file = 'client-ca.crt'" : '',
    'fsync = off',
  ].join('\n');
  writeFileSync(join(data, 'postgresql.auto.conf'), `${conf}\n`);
  const hba = ['local all all trust', options.hostLine ?? (options.clientCaPem ? 'hostssl all all 127.0.0.1/32 cert' : 'host all all 127.0.0.1/32 trust')].join(
    '\n',
  );
  writeFileSync(join(data, 'pg_hba.conf'), `${hba}\n`);
  await asPostgres('pg_ctl', ['-D', data, '-l', join(dir, 'log'), '-w', '-t', '60', 'start']);
  return {
    port,
    socketDir: dir,
    close: async () => {
      await asPostgres('pg_ctl', ['-D', data, '-m', 'immediate', '-w', 'stop']).catch(() => {});
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
