/**
 * Every code a CertgateError can carry is documented in the README's errors table: scripts
 * match on them, so an undocumented one is a bug.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';

const root = join(import.meta.dirname, '..', '..');

test('README errors table: every ErrorCode in src/errors.ts has a row', () => {
  const union = readFileSync(join(root, 'src', 'errors.ts'), 'utf8').match(/export type ErrorCode =([\s\S]*?);/)?.[1] ?? '';
  const codes = [...union.matchAll(/'(E_[A-Z0-9_]+)'/g)].map((m) => m[1] as string);
  assert.ok(codes.length > 40, 'the union was read');
  const readme = readFileSync(join(root, 'README.md'), 'utf8');
  const section = readme.slice(readme.indexOf('\n## Errors\n'), readme.indexOf('\n## Findings\n'));
  const rows = section.split('\n').filter((l) => l.startsWith('| `E_'));
  const documented = new Set(rows.flatMap((l) => [...(l.split(' | ')[0] ?? '').matchAll(/`(E_[A-Z0-9_]+)`/g)].map((m) => m[1])));
  assert.deepEqual(
    codes.filter((c) => !documented.has(c)),
    [],
  );
});
