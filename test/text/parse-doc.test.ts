import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseConfigDoc } from '../../src/cli/settings/load.ts';
import { CertgateError } from '../../src/errors.ts';
import { parseResourceText } from '../../src/profiles/registry.ts';
import { parseDocs } from '../../src/text/parse-doc.ts';

function failure(fn: () => unknown): CertgateError {
  try {
    fn();
  } catch (err) {
    assert.ok(err instanceof CertgateError, `expected a CertgateError, got ${(err as Error)?.stack}`);
    assert.ok(err.fix);
    assert.ok(!err.message.includes('\n'));
    return err;
  }
  assert.fail('expected an error');
}

const deepJson = `${'['.repeat(50_000)}${']'.repeat(50_000)}`;
const deepFlowYaml = `a: ${'['.repeat(50_000)}${']'.repeat(50_000)}\n`;
const deepBlockYaml = `${'- '.repeat(50_000)}x\n`;

test('a resource file nested 50,000 deep (JSON, YAML flow, YAML block) is E_INPUT_TOO_DEEP, not a stack overflow', () => {
  assert.equal(failure(() => parseResourceText(deepJson, 'resources/x.json', 'x')).code, 'E_INPUT_TOO_DEEP');
  assert.equal(failure(() => parseResourceText(deepFlowYaml, 'resources/x.yaml', 'x')).code, 'E_INPUT_TOO_DEEP');
  assert.equal(failure(() => parseResourceText(deepBlockYaml, 'resources/x.yaml', 'x')).code, 'E_INPUT_TOO_DEEP');
});

test('a serve config nested 50,000 deep is E_INPUT_TOO_DEEP', () => {
  assert.equal(failure(() => parseConfigDoc(deepJson, 'certgate.json')).code, 'E_INPUT_TOO_DEEP');
  assert.equal(failure(() => parseConfigDoc(deepBlockYaml, 'certgate.yaml')).code, 'E_INPUT_TOO_DEEP');
});

test('nesting of 65 block levels (parsed without overflow) is refused too; 10 levels pass', () => {
  const nest = (n: number) => Array.from({ length: n }, (_, i) => `${' '.repeat(i)}k:`).join('\n');
  assert.equal(failure(() => parseDocs(nest(65), { source: 'x.yaml', code: 'E_OPTION' })).code, 'E_INPUT_TOO_DEEP');
  assert.equal(parseDocs(nest(10), { source: 'x.yaml', code: 'E_OPTION' }).length, 1);
});

test('resource YAML syntax errors give line and column', () => {
  const e = failure(() => parseResourceText('kind: postgres\nhost: db\ntls:\n  mode: [full\n', 'resources/db.yaml', 'db'));
  assert.equal(e.code, 'E_RESOURCE_INVALID');
  assert.match(e.message, /^resources\/db\.yaml: not valid YAML at line \d+, column \d+: /);
});

test('JSON syntax errors give line and column, and never echo the input', () => {
  const e = failure(() => parseResourceText('{\n  "kind": "postgres",\n  "host": "db" "x"\n}', 'resources/db.json', 'db'));
  assert.match(e.message, /^resources\/db\.json: not valid JSON at line 3, column 16: /);
  const key = `-----BEGIN PRIVATE KEY-----\n${'MIIEvQIBADANBgkqhkiG9w0BAQEFAASCBKcwggSjAgEAAoIBAQC7'.repeat(3)}\n-----END PRIVATE KEY-----`;
  const k = failure(() => parseResourceText(key, 'resources/k.json', 'k'));
  assert.doesNotMatch(k.message, /PRIVATE KEY|MIIEvQ/);
});

test('YAML aliases are limited (no billion laughs)', () => {
  let text = 'a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n';
  for (let i = 1; i < 8; i++)
    text += `a${i}: &a${i} [${Array(10)
      .fill(`*a${i - 1}`)
      .join(', ')}]\n`;
  assert.equal(failure(() => parseDocs(text, { source: 'x.yaml', code: 'E_OPTION' })).code, 'E_OPTION');
});
