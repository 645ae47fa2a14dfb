/**
 * The environment of a child process a test starts "clean": PATH and nothing else of this
 * machine (no NODE_EXTRA_CA_CERTS, SSL_CERT_FILE, …), except the variables that move the clock
 * (libfaketime's LD_PRELOAD and FAKETIME*, set by `npm run test:future`), so a child shares the
 * test's clock as every process on a real machine does.
 */
const CLOCK = /^(LD_PRELOAD|FAKETIME.*|DONT_FAKE_MONOTONIC|NO_FAKE_STAT)$/;

/** The libfaketime variables of this process (empty unless the suite runs under faketime). */
export function clockEnv(): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(process.env)) if (CLOCK.test(k) && v !== undefined) out[k] = v;
  return out;
}

/** PATH, the clock variables, then `extra`. */
export function cleanEnv(extra: Record<string, string> = {}): Record<string, string> {
  return { PATH: process.env.PATH ?? '', ...clockEnv(), ...extra };
}

/** This process's environment without libfaketime, for a daemon that cannot run under it (redis-server). */
export function realClockEnv(): NodeJS.ProcessEnv {
  const env = { ...process.env };
  for (const k of Object.keys(env)) if (CLOCK.test(k)) delete env[k];
  return env;
}
