/**
 * One real PostgreSQL per test file (test/helpers/postgres.ts) and a fresh database per test,
 * so that tests never see each other's rows.
 */
import pg from 'pg';
import { makePki, type TestPki } from '../helpers/pki.ts';
import { type PostgresServer, startPostgres } from '../helpers/postgres.ts';

export interface PgFixture {
  server: PostgresServer;
  pki: TestPki;
  /** A new empty database; its postgres:// URL over TCP on loopback. */
  database(): Promise<string>;
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
  const admin = new pg.Client({ host: server.socketDir, port: server.port, user: 'postgres', database: 'postgres' });
  await admin.connect();
  return {
    server,
    pki,
    async database() {
      const name = `t${process.pid}_${++n}`;
      await admin.query(`CREATE DATABASE ${name}`);
      return `postgres://postgres@127.0.0.1:${server.port}/${name}`;
    },
    async close() {
      await admin.end().catch(() => {});
      await server.close();
    },
  };
}
