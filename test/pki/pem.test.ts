import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { CertgateError } from '../../src/errors.ts';
import { MAX_PEM_BLOCKS, parsePem } from '../../src/pki/pem.ts';
import { loadCaDir } from '../../src/trust/load.ts';
import { tempDir } from '../helpers/tmp.ts';

const tiny = (i: number) => `-----BEGIN THING-----\n${Buffer.from(`#${i}`).toString('base64')}\n-----END THING-----\n`;

/**
 * How many characters of `text` the string methods read while fn runs: a structural measure
 * of the work, independent of the machine's speed.
 */
function charsTouched(text: string, fn: () => void): number {
  const proto = String.prototype as unknown as Record<string, (...a: unknown[]) => unknown>;
  const names = ['indexOf', 'charCodeAt', 'charAt', 'slice', 'substring', 'startsWith', 'split', 'match', 'matchAll', 'replace', 'includes'] as const;
  const saved = names.map((n) => proto[n] as (...a: unknown[]) => unknown);
  let touched = 0;
  names.forEach((n, k) => {
    const orig = saved[k] as (...a: unknown[]) => unknown;
    proto[n] = function (this: string, ...args: unknown[]) {
      const out = orig.apply(this, args);
      if (this === text) {
        if (n === 'charCodeAt' || n === 'charAt') touched += 1;
        else if (n === 'indexOf') {
          const from = Number(args[1] ?? 0);
          touched += (out as number) < 0 ? text.length - from : (out as number) - from + String(args[0]).length;
        } else if (n === 'startsWith') touched += String(args[0]).length;
        else if (n === 'slice' || n === 'substring') touched += (out as string).length;
        else touched += text.length; // whole-string scans
      }
      return out;
    };
  });
  try {
    fn();
  } finally {
    names.forEach((n, k) => {
      proto[n] = saved[k] as (...a: unknown[]) => unknown;
    });
  }
  return touched;
}

test('PEM scanning reads each character a bounded number of times (many blocks with text between them)', () => {
  const filler = `${'x'.repeat(200)}\n`;
  const text = Array.from({ length: 5000 }, (_, i) => filler + tiny(i)).join('');
  let blocks = 0;
  const touched = charsTouched(text, () => {
    blocks = parsePem(text).length;
  });
  assert.equal(blocks, 5000);
  assert.ok(touched <= 4 * text.length, `touched ${touched} characters of ${text.length}`);
});

test('PEM scanning of BEGIN lines that never end is linear too', () => {
  const text = '-----BEGIN CERTIFICATE-----\nAAAA\n'.repeat(20_000);
  let err: unknown;
  const touched = charsTouched(text, () => {
    try {
      parsePem(text);
    } catch (e) {
      err = e;
    }
  });
  assert.ok(err instanceof CertgateError && err.code === 'E_PEM_MALFORMED', String(err));
  assert.ok(touched <= 4 * text.length, `touched ${touched} characters of ${text.length}`);
});

test(`PEM: more than ${MAX_PEM_BLOCKS} blocks is E_INPUT_TOO_MANY_BLOCKS with a fix`, () => {
  const text = Array.from({ length: MAX_PEM_BLOCKS + 1 }, (_, i) => tiny(i)).join('');
  assert.throws(
    () => parsePem(text),
    (e: unknown) => e instanceof CertgateError && e.code === 'E_INPUT_TOO_MANY_BLOCKS' && Boolean(e.fix),
  );
});

test(`PEM: ${MAX_PEM_BLOCKS - 1} blocks in 2 MB parse in well under a few seconds`, () => {
  const filler = `${'x'.repeat(200)}\n`;
  const text = Array.from({ length: MAX_PEM_BLOCKS - 1 }, (_, i) => filler + tiny(i)).join('');
  const t0 = performance.now();
  assert.equal(parsePem(text).length, MAX_PEM_BLOCKS - 1);
  assert.ok(performance.now() - t0 < 3000);
});

test('PEM: line numbers are still right after the rewrite', () => {
  const blocks = parsePem(`a\nb\n${tiny(1)}c\n${tiny(2)}`);
  assert.deepEqual(
    blocks.map((b) => b.line),
    [3, 7],
  );
});

test('a 1 MB junk file in ca-certs is reported as a problem naming the file, quickly', async (t) => {
  const dir = tempDir(t);
  writeFileSync(join(dir, 'junk.crt'), '-----BEGIN CERTIFICATE-----\nnot base64 at all ~~~\n'.repeat(24_000));
  const t0 = performance.now();
  const { entries, problems } = await loadCaDir(dir);
  assert.ok(performance.now() - t0 < 3000);
  assert.equal(entries.length, 0);
  assert.equal(problems.length, 1);
  assert.equal(problems[0]?.file, 'junk.crt');
  assert.equal(problems[0]?.code, 'E_PEM_MALFORMED');
});
