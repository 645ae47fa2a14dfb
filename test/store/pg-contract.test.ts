/**
 * The PostgreSQL backend passes the storage contract against a real PostgreSQL (Debian
 * package), each test in its own database; the second locker is a second pool, as another node has.
 */
import { test } from 'node:test';
import { createPgBackend } from '../../src/store/pg/index.ts';
import { storageContract } from './contract.ts';
import { pgFixture } from './pg-helpers.ts';

const fx = await pgFixture();
test.after(() => fx.close());

storageContract('pg', async (_t, options = {}) => {
  const url = await fx.database();
  const lease = options.leaseMs ? { leaseMs: options.leaseMs } : {};
  const a = createPgBackend(url, { pollMs: 20, max: 4, ...lease });
  await a.ready();
  const b = createPgBackend(url, { pollMs: 20, max: 4, ...lease });
  await b.ready();
  return {
    storage: a.storage,
    locker: a.locker,
    otherLocker: b.locker,
    fencing: true,
    close: async () => {
      await a.close();
      await b.close();
    },
  };
});
