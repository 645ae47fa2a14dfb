/**
 * The account's order budget (`acme.orderBudget`): certgate counts new orders before the CA
 * does, so a flood of names spends its own budget, not the CA's rate limit. The setting
 * reaches the manager that `serve` and `issue` build.
 */
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { startStandaloneResponder } from '../../src/acme/challenges.ts';
import type { CertgateError } from '../../src/errors.ts';
import { createAcmeEngines } from '../../src/runtime/acme.ts';
import { startPebble } from '../helpers/pebble.ts';
import { settings } from '../helpers/settings.ts';
import { tempDir } from '../helpers/tmp.ts';

test('acmeOrderBudget 1: the first name is ordered, the second is refused by certgate (E_ACME_RATE_LIMITED) and never reaches the CA', {
  timeout: 60_000,
}, async (t) => {
  const pebble = await startPebble();
  t.after(() => pebble.close());
  const dir = tempDir(t);
  const caRoot = join(dir, 'pebble-ca.pem');
  writeFileSync(caRoot, pebble.tlsCaPem);
  const engines = createAcmeEngines(
    settings(join(dir, 'data'), {
      mode: 'production',
      acmeDirectory: pebble.directoryUrl,
      acmeCaRoot: caRoot,
      acmeEmail: 'ops@certgate.dev',
      acmeAgreeTos: true,
      challenges: ['http-01'],
      httpPort: pebble.httpPort,
      acmeOrderBudget: 1,
    }),
    { warn: () => {} },
  );
  t.after(() => engines.close());
  const answers = await startStandaloneResponder(engines.answers, { httpPort: pebble.httpPort, host: '127.0.0.1' });
  t.after(() => answers.close());
  const before = pebble.orders();
  await engines.manager().obtain(`budget-a-${process.pid}.example.com`);
  await assert.rejects(engines.manager().obtain(`budget-b-${process.pid}.example.com`), (e: CertgateError) => e.code === 'E_ACME_RATE_LIMITED');
  assert.equal(pebble.orders() - before, 1, 'one order at the CA');
});
