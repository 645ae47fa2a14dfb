/**
 * Regression tests for what the reliability suite's hostile-input part found (RELIABILITY.md).
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { type AcmeProblem, explainProblem } from '../../src/acme/problems.ts';
import { parseConfigDoc } from '../../src/cli/settings/load.ts';
import { CertgateError } from '../../src/errors.ts';

test('an ACME problem document whose subproblems, detail or Retry-After have the wrong JSON type is explained, not a TypeError', () => {
  const odd = [
    { type: 'urn:ietf:params:acme:error:rateLimited', detail: 'x', subproblems: {} },
    { type: 'urn:ietf:params:acme:error:unauthorized', detail: 5, subproblems: 'nope' },
    { type: 'urn:ietf:params:acme:error:dns', detail: null, subproblems: [null, 3, { detail: ['a'] }] },
    { type: 'urn:ietf:params:acme:error:rateLimited', detail: 'slow down', retryAfter: 'soon' },
    { type: 'urn:ietf:params:acme:error:x', detail: { nested: true } },
  ] as unknown as AcmeProblem[];
  for (const p of odd) {
    const e = explainProblem(p, 'app.example.com');
    assert.ok(e instanceof CertgateError);
    assert.match(e.code, /^E_ACME_/);
    assert.doesNotMatch(e.message, /\[object Object\]|undefined|soon/);
  }
});

test('a config file with a collection as a key is read without a process warning on standard error', () => {
  const warnings: string[] = [];
  const original = process.emitWarning;
  process.emitWarning = ((w: string | Error) => {
    warnings.push(String(w));
  }) as typeof process.emitWarning;
  try {
    assert.deepEqual(parseConfigDoc('? [a, b]\n: c\n', 'c.yaml').data, { '[ a, b ]': 'c' });
  } finally {
    process.emitWarning = original;
  }
  assert.deepEqual(warnings, []);
});
