import assert from 'node:assert/strict';
import { test } from 'node:test';
import { AcmeError } from '../src/acme/problems.ts';
import { CertgateError, isCertgateError } from '../src/errors.ts';

test('a CertgateError from a second copy of the module (the CLI bundle and dist/) is an instanceof CertgateError', async () => {
  const copy = (await import(`../src/errors.ts?copy=${Date.now()}`)) as typeof import('../src/errors.ts');
  assert.notEqual(copy.CertgateError, CertgateError);
  const err = new copy.CertgateError('E_USAGE', 'no target given', 'give a host');
  assert.ok(err instanceof CertgateError);
  assert.ok(isCertgateError(err));
});

test('a subclass keeps plain instanceof: an AcmeError is a CertgateError, a CertgateError is not an AcmeError', () => {
  const acme = new AcmeError('E_ACME_PROBLEM', 'refused', 'fix it', null);
  assert.ok(acme instanceof CertgateError);
  assert.ok(acme instanceof AcmeError);
  assert.equal(new CertgateError('E_USAGE', 'x') instanceof AcmeError, false);
});

test('an Error with a code property is not a CertgateError', () => {
  const plain = Object.assign(new Error('x'), { code: 'E_USAGE', fix: 'y' });
  assert.equal(plain instanceof CertgateError, false);
  assert.equal(isCertgateError(null), false);
});
