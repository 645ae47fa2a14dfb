/**
 * One real PostgreSQL per test file (test/helpers/postgres.ts) and a fresh database per test,
 * so that tests never see each other's rows.
 */
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import pg from 'pg';
import { makePki, type TestPki } from '../helpers/pki.ts';
import { type PostgresServer, postgresBin, startPostgres } from '../helpers/postgres.ts';

export interface PgFixture {
  server: PostgresServer;
  pki: TestPki;
  /** A new empty database; its postgres:// URL over TCP on loopback. */
  database(): Promise<string>;
  /** Stops the server (immediate: connections cut) and starts it again on the same port. */
  stop(): Promise<void>;
  start(): Promise<void>;
  close(): Promise<void>;
}

let n = 0;

export async function pgFixture(options: { ssl?: boolean } = {}): Promise<PgFixture> {
  const pki = await makePki();
  const server = await startPostgres({
    certPem: pki.leaf.certPem + pki.inter.certPem,
    keyPem: pki.leaf.keyPem,
    ...(options.ssl === false ? { ssl: false } : {}),
  });
  let admin = new pg.Client({ host: server.socketDir, port: server.port, user: 'postgres', database: 'postgres' });
  admin.on('error', () => {});
  await admin.connect();
  const ctl = (...args: string[]) =>
    promisify(execFile)('runuser', ['-u', 'postgres', '--', join(postgresBin(), 'pg_ctl'), '-D', join(server.socketDir, 'data'), ...args], { timeout: 60_000 });
  return {
    server,
    pki,
    async database() {
      const name = `t${process.pid}_${++n}`;
      await admin.query(`CREATE DATABASE ${name}`);
      return `postgres://postgres@127.0.0.1:${server.port}/${name}`;
    },
    async stop() {
      await admin.end().catch(() => {});
      await ctl('-m', 'immediate', '-w', 'stop');
    },
    async start() {
      await ctl('-l', join(server.socketDir, 'log'), '-w', '-t', '60', 'start');
      admin = new pg.Client({ host: server.socketDir, port: server.port, user: 'postgres', database: 'postgres' });
      admin.on('error', () => {});
      await admin.connect();
    },
    async close() {
      await admin.end().catch(() => {});
      await server.close();
    },
  };
}
