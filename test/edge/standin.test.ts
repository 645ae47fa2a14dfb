/**
 * The page a visitor gets while a name has no certificate: a plain reason, never the CA's own
 * words (internal addresses, challenge URLs), which stay in the log.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { CertManager } from '../../src/manager/manager.ts';
import type { DomainRegistry } from '../../src/manager/registry.ts';
import { tempDir } from '../helpers/tmp.ts';
import { httpsGet, startEdge } from './helpers.ts';

const CA_DETAIL =
  'fail.example.com: the CA could not reach port 80 of fail.example.com (ACME connection: 10.20.30.40: Fetching http://fail.example.com/.well-known/acme-challenge/Xy9tok: Connection refused)';

/** A registry that allows the name, a manager whose issuance fails with the CA's detail. */
function failingIssuance(): { registry: DomainRegistry; manager: CertManager } {
  const registry = { decide: async () => ({ allowed: true, reason: 'registered', source: 'custom' }), releaseFirstVisit: async () => false };
  const manager = {
    stored: async () => null,
    state: async () => ({ attempts: 0, lastError: null, nextAttemptAt: null, flagged: false }),
    obtain: async () => {
      throw new Error(CA_DETAIL);
    },
  };
  return { registry: registry as unknown as DomainRegistry, manager: manager as unknown as CertManager };
}

test("a name whose issuance failed: the visitor reads a plain reason, the CA's detail is in the log only", { timeout: 30_000 }, async (t) => {
  const logs: string[] = [];
  const e = await startEdge(tempDir(t), { ...failingIssuance(), log: (ev) => logs.push(ev.msg) });
  t.after(() => e.edge.close());
  const page = await httpsGet(e.https, '/', e.caPem, 'fail.example.com');
  assert.equal(page.status, 503);
  assert.match(page.body, /could not obtain a certificate for fail\.example\.com: the certificate authority could not validate this name/);
  assert.doesNotMatch(page.body, /10\.20\.30\.40|acme-challenge|Xy9tok|Connection refused/);
  assert.ok(
    logs.some((l) => l.includes('10.20.30.40')),
    'the detail is in the log',
  );
});
