/**
 * Property tests for the parsers: random, truncated and bit-flipped bytes never crash; they
 * end in a CertgateError with a code and a fix, or parse. Seeded so failures reproduce.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { CertgateError } from '../../src/errors.ts';
import { parseInput } from '../../src/pki/parse.ts';
import { makePki } from '../helpers/pki.ts';

function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function survives(bytes: Uint8Array, what: string): void {
  try {
    parseInput(bytes, { password: 'x' });
  } catch (err) {
    assert.ok(err instanceof CertgateError, `${what}: ${(err as Error)?.stack}`);
    assert.ok(err.code.startsWith('E_'));
    assert.ok(err.fix && err.fix.length > 0);
  }
}

const seed = Number(process.env.CERTGATE_FUZZ_SEED ?? 20261123);

test(`random bytes never crash the parser (seed ${seed})`, () => {
  const rand = rng(seed);
  for (let i = 0; i < 2000; i++) {
    const len = Math.floor(rand() * 300);
    const bytes = new Uint8Array(len);
    for (let j = 0; j < len; j++) bytes[j] = Math.floor(rand() * 256);
    if (rand() < 0.5 && len) bytes[0] = 0x30; // start like DER half the time
    survives(bytes, `random #${i}`);
  }
});

test('every truncation and many bit flips of real inputs never crash the parser', async () => {
  const pki = await makePki({ caIssuersUrl: 'http://127.0.0.1/x' });
  const rand = rng(seed + 1);
  for (const der of [pki.leaf.der, pki.root.der]) {
    for (let cut = 0; cut < der.length; cut++) survives(der.subarray(0, cut), `truncated at ${cut}`);
    for (let i = 0; i < 1500; i++) {
      const copy = Buffer.from(der);
      const pos = Math.floor(rand() * copy.length);
      copy[pos] = (copy[pos] as number) ^ (1 << Math.floor(rand() * 8));
      survives(copy, `flip at ${pos}`);
    }
  }
  const pem = Buffer.from(pki.leaf.certPem);
  for (let cut = 0; cut < pem.length; cut += 3) survives(pem.subarray(0, cut), `pem truncated at ${cut}`);
});
