/**
 * Shared pieces of the reliability suite: the output directory (logs of every process, the
 * summaries), child processes tracked by PID and killed on every exit path, a clean environment
 * (no inherited trust variables), certgate's CLI as a process, and the summary that decides the
 * exit code.
 *
 * RELIABILITY_QUICK=1 shortens every part; RELIABILITY_OUT=DIR keeps the logs there (the runner
 * sets it so the secrets scan reads what every part wrote).
 */
import { type ChildProcess, type SpawnOptions, spawn } from 'node:child_process';
import { createPrivateKey } from 'node:crypto';
import { appendFileSync, chmodSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export const QUICK = process.env.RELIABILITY_QUICK === '1' || process.env.RELIABILITY_QUICK === 'true';
export const ROOT = join(import.meta.dirname, '..');
export const BIN = join(ROOT, 'bin', 'certgate.js');

export const OUT = process.env.RELIABILITY_OUT ?? mkdtempSync(join(tmpdir(), 'certgate-reliability-'));
mkdirSync(join(OUT, 'logs'), { recursive: true });

/** PATH and HOME only: the machine's NODE_EXTRA_CA_CERTS, SSL_CERT_FILE, CURL_CA_BUNDLE stay out. */
export function cleanEnv(extra: Record<string, string> = {}): Record<string, string> {
  return { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: join(OUT, 'home'), NO_COLOR: '1', ...extra };
}

const children = new Set<ChildProcess>();

function killAll(): void {
  for (const c of children) {
    if (c.exitCode === null && c.signalCode === null && c.pid) {
      try {
        process.kill(c.pid, 'SIGKILL');
      } catch {
        // already gone
      }
    }
  }
}
process.on('exit', killAll);
for (const sig of ['SIGINT', 'SIGTERM'] as const) {
  process.on(sig, () => {
    killAll();
    process.exit(130);
  });
}

export interface Child {
  child: ChildProcess;
  out(): string;
  err(): string;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

/** Spawns a tracked child; its stdout and stderr also go to OUT/logs/<log>.log (for the secrets scan). */
export function spawnLogged(log: string, cmd: string, args: string[], options: SpawnOptions = {}): Child {
  const child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'], ...options });
  children.add(child);
  const file = join(OUT, 'logs', `${log}.log`);
  let out = '';
  let err = '';
  child.stdout?.on('data', (d: Buffer) => {
    out += d;
    if (out.length > 4_000_000) out = out.slice(-2_000_000);
    appendFileSync(file, d);
  });
  child.stderr?.on('data', (d: Buffer) => {
    err += d;
    if (err.length > 4_000_000) err = err.slice(-2_000_000);
    appendFileSync(file, d);
  });
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((r) =>
    child.once('exit', (code, signal) => {
      children.delete(child);
      r({ code, signal });
    }),
  );
  return { child, out: () => out, err: () => err, exited };
}

/** Stops a child by its PID: SIGTERM, then SIGKILL after `ms`. */
export async function stop(c: Child, ms = 5000): Promise<void> {
  if (c.child.exitCode !== null || c.child.signalCode !== null) return;
  c.child.kill('SIGTERM');
  const t = setTimeout(() => c.child.kill('SIGKILL'), ms);
  await c.exited;
  clearTimeout(t);
}

export interface CliResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  out: string;
  err: string;
  ms: number;
  timedOut: boolean;
}

/** `certgate ARGS` from the built bin; killed (and flagged) after `timeoutMs`. */
export async function cli(args: string[], env: Record<string, string>, options: { timeoutMs?: number; log?: string; cwd?: string } = {}): Promise<CliResult> {
  const t0 = performance.now();
  const c = spawnLogged(options.log ?? 'cli', process.execPath, [BIN, ...args], { env, cwd: options.cwd ?? OUT });
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    c.child.kill('SIGKILL');
  }, options.timeoutMs ?? 60_000);
  const { code, signal } = await c.exited;
  clearTimeout(timer);
  return { code, signal, out: c.out(), err: c.err(), ms: performance.now() - t0, timedOut };
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Percentile of a list of numbers (p in 0..100). */
export function percentile(values: number[], p: number): number {
  if (!values.length) return Number.NaN;
  const s = [...values].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil((p / 100) * s.length) - 1))] as number;
}

/** A seeded PRNG (mulberry32), so a failing run can be repeated with RELIABILITY_SEED. */
export function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
export const SEED = Number(process.env.RELIABILITY_SEED ?? Date.now() % 1_000_000);

/**
 * Records the private keys found under `dir` (for the secrets scan: their DER in base64, in a
 * 0600 file inside OUT that the scan deletes) and the mode of each key file.
 */
export function collectKeys(dir: string, part: string): { files: number; badModes: string[] } {
  const keysFile = join(OUT, 'keys.b64');
  if (!existsSync(keysFile)) writeFileSync(keysFile, '', { mode: 0o600 });
  chmodSync(keysFile, 0o600);
  const badModes: string[] = [];
  let files = 0;
  const walk = (d: string, depth: number) => {
    if (depth > 8) return;
    for (const e of readdirSync(d, { withFileTypes: true })) {
      const p = join(d, e.name);
      if (e.isDirectory()) walk(p, depth + 1);
      else if (e.isFile()) {
        const text = readFileSync(p, 'utf8');
        const pems = [...text.matchAll(/-----BEGIN ((?:EC |RSA |ENCRYPTED )?PRIVATE KEY)-----[\s\S]*?-----END \1-----/g)].map((m) => m[0]);
        if (p.endsWith('.json') && text.includes('keyPem')) {
          try {
            const j = JSON.parse(text) as { keyPem?: string };
            if (j.keyPem) pems.push(j.keyPem);
          } catch {
            // not JSON after all
          }
        }
        if (!pems.length) continue;
        files++;
        const mode = statSync(p).mode & 0o777;
        if (mode & 0o077) badModes.push(`${p} ${mode.toString(8)}`);
        for (const pem of pems) {
          try {
            const der = createPrivateKey(pem).export({ type: 'pkcs8', format: 'der' });
            appendFileSync(keysFile, `${der.toString('base64')}\n`);
            const body = pem.replace(/-----[^-]+-----/g, '').replace(/\s+/g, '');
            appendFileSync(keysFile, `${body}\n`);
          } catch {
            // an encrypted key: its body is still recorded
            appendFileSync(keysFile, `${pem.replace(/-----[^-]+-----/g, '').replace(/\s+/g, '')}\n`);
          }
        }
      }
    }
  };
  if (existsSync(dir)) walk(dir, 0);
  appendFileSync(join(OUT, 'modes.jsonl'), `${JSON.stringify({ part, dir, files, badModes })}\n`);
  return { files, badModes };
}

type Status = 'pass' | 'fail' | 'known';
interface Check {
  name: string;
  status: Status;
  detail: string;
}

/** Checks and figures of one part; `finish()` prints them, writes OUT/<part>.json and sets the exit code. */
export class Summary {
  readonly checks: Check[] = [];
  readonly figures: Record<string, string | number> = {};
  readonly started = Date.now();
  readonly part: string;
  constructor(part: string) {
    this.part = part;
    console.log(`== ${part} (${QUICK ? 'quick' : 'full'} run, seed ${SEED}, logs in ${OUT}/logs)`);
  }
  check(name: string, ok: boolean, detail = ''): boolean {
    this.checks.push({ name, status: ok ? 'pass' : 'fail', detail });
    console.log(`  ${ok ? 'ok  ' : 'FAIL'} ${name}${detail ? `: ${detail}` : ''}`);
    return ok;
  }
  /** A failure already reported to the owner of the code (see RELIABILITY.md): shown, not fatal. */
  known(name: string, ok: boolean, detail: string): void {
    this.checks.push({ name, status: ok ? 'pass' : 'known', detail });
    console.log(`  ${ok ? 'ok  ' : 'KNOWN'} ${name}${detail ? `: ${detail}` : ''}`);
  }
  figure(key: string, value: string | number): void {
    this.figures[key] = value;
    console.log(`  ${key}: ${value}`);
  }
  finish(): void {
    const failed = this.checks.filter((c) => c.status === 'fail');
    const seconds = Math.round((Date.now() - this.started) / 1000);
    writeFileSync(
      join(OUT, `${this.part}.json`),
      JSON.stringify({ part: this.part, quick: QUICK, seed: SEED, seconds, checks: this.checks, figures: this.figures }, null, 2),
    );
    console.log(
      `== ${this.part}: ${this.checks.length - failed.length}/${this.checks.length} passed in ${seconds} s${failed.length ? `; FAILED: ${failed.map((f) => f.name).join('; ')}` : ''}`,
    );
    process.exitCode = failed.length ? 1 : 0;
  }
}

/** Runs `body` with a hard deadline, so no part can hang the suite. */
export async function bounded<T>(what: string, ms: number, body: () => Promise<T>): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what}: over its ${ms} ms bound`)), ms);
  });
  try {
    return await Promise.race([body(), deadline]);
  } finally {
    clearTimeout(timer);
  }
}
