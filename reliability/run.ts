/**
 * `npm run reliability`: every part of the reliability suite, bounded, with one output directory
 * (logs of every process, each part's JSON summary, summary.md). Exit 1 when a part fails.
 *
 *   RELIABILITY_QUICK=1              the short run (about 8 minutes instead of about 22-25)
 *   RELIABILITY_PARTS=faults,load    some parts only (faults, hostile, smuggle, load, tls-grade, secrets)
 *   RELIABILITY_OUT=DIR              where the logs and summaries go (default: a new temp directory)
 *   RELIABILITY_SEED=N               the seed of every random choice (printed by each part)
 *
 * Groups run one after the other; the parts of a group run side by side (the machine has two
 * cores: the soak runs alone so its RSS and latency figures are its own).
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const QUICK = process.env.RELIABILITY_QUICK === '1' || process.env.RELIABILITY_QUICK === 'true';
const out = process.env.RELIABILITY_OUT ?? mkdtempSync(join(tmpdir(), 'certgate-reliability-'));
const wanted = process.env.RELIABILITY_PARTS?.split(',').map((s) => s.trim());
const seed = process.env.RELIABILITY_SEED ?? String(Date.now() % 1_000_000);
const groups: Array<Array<{ part: string; minutes: number }>> = [
  [
    { part: 'faults', minutes: QUICK ? 8 : 20 },
    { part: 'hostile', minutes: QUICK ? 5 : 25 },
  ],
  [{ part: 'load', minutes: QUICK ? 8 : 20 }],
  [
    { part: 'smuggle', minutes: 5 },
    { part: 'tls-grade', minutes: QUICK ? 6 : 12 },
  ],
  [{ part: 'secrets', minutes: 5 }],
];

function runPart(part: string, minutes: number): Promise<{ part: string; code: number | null; seconds: number }> {
  const t0 = Date.now();
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ['--import', 'tsx', join(import.meta.dirname, `${part}.ts`)], {
      stdio: ['ignore', 'inherit', 'inherit'],
      env: { ...process.env, RELIABILITY_OUT: out, RELIABILITY_SEED: seed },
    });
    const timer = setTimeout(() => {
      console.log(`!! ${part}: over its ${minutes} min bound, stopped`);
      child.kill('SIGTERM');
      setTimeout(() => child.kill('SIGKILL'), 10_000).unref();
    }, minutes * 60_000);
    child.on('exit', (code) => {
      clearTimeout(timer);
      resolve({ part, code, seconds: Math.round((Date.now() - t0) / 1000) });
    });
  });
}

console.log(`certgate reliability suite: ${QUICK ? 'quick' : 'full'} run, seed ${seed}, output in ${out}`);
const results: Array<{ part: string; code: number | null; seconds: number }> = [];
for (const group of groups) {
  const parts = group.filter((g) => !wanted || wanted.includes(g.part));
  results.push(...(await Promise.all(parts.map((g) => runPart(g.part, g.minutes)))));
}

const lines = [`# certgate reliability: ${QUICK ? 'quick' : 'full'} run, seed ${seed}`, ''];
for (const r of results) {
  const file = join(out, `${r.part}.json`);
  const summary = existsSync(file)
    ? (JSON.parse(readFileSync(file, 'utf8')) as { checks: Array<{ name: string; status: string; detail: string }>; figures: Record<string, string | number> })
    : null;
  lines.push(`## ${r.part}: ${r.code === 0 ? 'passed' : 'FAILED'} in ${r.seconds} s`, '');
  if (summary) {
    for (const [k, v] of Object.entries(summary.figures)) lines.push(`- ${k}: ${v}`);
    const notOk = summary.checks.filter((c) => c.status !== 'pass');
    lines.push(`- checks: ${summary.checks.length - notOk.length}/${summary.checks.length} passed`);
    for (const c of notOk) lines.push(`- ${c.status.toUpperCase()} ${c.name}: ${c.detail.slice(0, 400)}`);
  }
  lines.push('');
}
if (existsSync(join(out, 'tls-table.md'))) lines.push('## testssl findings', '', readFileSync(join(out, 'tls-table.md'), 'utf8'));
writeFileSync(join(out, 'summary.md'), `${lines.join('\n')}\n`);
const failed = results.filter((r) => r.code !== 0);
console.log(
  `\ncertgate reliability: ${results.length - failed.length}/${results.length} parts passed${failed.length ? `; FAILED: ${failed.map((f) => f.part).join(', ')}` : ''}; summary in ${join(out, 'summary.md')}`,
);
process.exitCode = failed.length ? 1 : 0;
