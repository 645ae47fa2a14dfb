import assert from 'node:assert/strict';
import { test } from 'node:test';
import { CertgateError } from '../../src/errors.ts';
import { parseResourceText } from '../../src/profiles/registry.ts';
import { validateResource } from '../../src/profiles/schema.ts';

function err(input: unknown): string {
  try {
    validateResource(input, 'resources/x.yaml', 'x');
  } catch (e) {
    assert.ok(e instanceof CertgateError);
    assert.equal(e.code, 'E_RESOURCE_INVALID');
    assert.ok(e.fix);
    return e.message;
  }
  assert.fail('expected a validation error');
}

const PEM = '-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n';

test('a minimal resource gets the documented defaults', () => {
  const r = validateResource({ kind: 'postgres', host: 'db.internal' }, 'resources/orders.yaml', 'orders');
  assert.equal(r.name, 'orders');
  assert.equal(r.port, 5432);
  assert.equal(r.tls.mode, 'full');
  assert.equal(r.tls.useTrustStore, true);
  const h = validateResource({ kind: 'https', url: 'https://api.internal:8443/health' }, 'f', 'api');
  assert.deepEqual([h.host, h.port], ['api.internal', 8443]);
});

test('precise errors: file, field path, expected, got, and a suggestion for typos', () => {
  assert.equal(
    err({ kind: 'postgres', host: 'h', tls: { mode: 'strict' } }),
    'resources/x.yaml: tls.mode: expected one of "full", "verify-ca", "pinned", "skip"; got "strict"',
  );
  assert.equal(
    err({ kind: 'postgres', host: 'h', tls: { verfy: true } }),
    'resources/x.yaml: tls.verfy: unknown field; did you mean "mode"? (full, verify-ca, pinned, skip)',
  );
  assert.equal(err({ kind: 'postgres', host: 'h', tls: { sevrername: 'db' } }), 'resources/x.yaml: tls.sevrername: unknown field; did you mean "servername"?');
  assert.match(err({ kind: 'postgres', host: 'h', tls: { sslmode: 'require' } }), /tls\.sslmode: unknown field; did you mean "mode"\?/);
  assert.match(err({ kind: 'postgres', hots: 'h' }), /hots: unknown field; did you mean "host"\?/);
  assert.equal(err({ kind: 'oracle', host: 'h' }), 'resources/x.yaml: kind: expected one of "https", "postgres", "mongodb", "mysql", "redis"; got "oracle"');
  assert.match(err({ kind: 'postgres', host: 'h', port: '5432' }), /port: expected number; got "5432"/);
  assert.match(err({ kind: 'postgres' }), /host: expected a host name or IP; got nothing/);
  assert.match(err({ host: 'h' }), /kind: expected one of/);
  assert.match(err([1, 2]), /expected a mapping of fields .* got a list/);
  assert.match(err({ kind: 'https', url: 'http://plain/' }), /url: expected an https:\/\/ URL/);
});

test('secrets are never inline; the message says the rule', () => {
  assert.match(
    err({ kind: 'postgres', host: 'h', tls: { clientCert: PEM, clientKey: '-----BEGIN PRIVATE KEY-----\n...' } }),
    /tls\.clientKey: a private key is never inline/,
  );
  assert.match(err({ kind: 'postgres', host: 'h', password: 'hunter2' }), /password: never inline/);
  assert.match(err({ kind: 'postgres', host: 'h', tls: { clientCert: PEM } }), /clientCert and tls\.clientKey go together/);
});

test('pinned needs the certificate; SPKI pins alone only for https', () => {
  assert.match(err({ kind: 'postgres', host: 'h', tls: { mode: 'pinned' } }), /pinned needs tls\.pinnedCert/);
  assert.match(err({ kind: 'redis', host: 'h', tls: { mode: 'pinned', pins: [`sha256//${'A'.repeat(43)}=`] } }), /redis drivers need tls\.pinnedCert/);
  assert.match(
    err({ kind: 'https', url: 'https://a/', tls: { mode: 'pinned', pins: ['sha256//short'] } }),
    /tls\.pins\.0: expected sha256\/\/<44 base64 characters>/,
  );
  const ok = validateResource({ kind: 'https', url: 'https://a/', tls: { mode: 'pinned', pins: [`sha256//${'A'.repeat(43)}=`] } }, 'f', 'a');
  assert.equal(ok.tls.mode, 'pinned');
});

test('YAML and JSON files: syntax errors name the file', () => {
  assert.throws(() => parseResourceText('kind: postgres\n  host: [unclosed', 'resources/bad.yaml', 'bad'), /resources\/bad\.yaml: not valid YAML/);
  assert.throws(() => parseResourceText('{"kind": "postgres",', 'resources/bad.json', 'bad'), /resources\/bad\.json: not valid JSON/);
  const r = parseResourceText('kind: redis\nhost: cache.internal\ntls:\n  mode: verify-ca\n', 'resources/cache.yaml', 'cache');
  assert.equal(r.tls.mode, 'verify-ca');
});
