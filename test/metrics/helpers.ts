/**
 * Reading a Prometheus exposition in tests: one sample by metric name and labels.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { ServerSettings } from '../../src/runtime/settings.ts';
import type { Pebble } from '../helpers/pebble.ts';
import { settings } from '../helpers/settings.ts';

export interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

export function samples(text: string): Sample[] {
  const out: Sample[] = [];
  for (const line of text.split('\n')) {
    if (!line || line.startsWith('#')) continue;
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (!m) throw new Error(`not an exposition line: ${line}`);
    const labels: Record<string, string> = {};
    for (const [, k, v] of (m[2] ?? '').matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g)) labels[k as string] = v as string;
    out.push({ name: m[1] as string, labels, value: Number(m[3]) });
  }
  return out;
}

/** The value of the one sample with this name and (at least) these labels; undefined when there is none. */
export function value(text: string, name: string, labels: Record<string, string> = {}): number | undefined {
  const found = samples(text).filter((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v));
  if (found.length > 1) throw new Error(`${found.length} samples of ${name} match ${JSON.stringify(labels)}`);
  return found[0]?.value;
}

/** Settings that point the runtime at this Pebble (HTTP-01 answered by the runtime's own HTTP port). */
export function pebbleSettings(pebble: Pebble, data: string, over: Partial<ServerSettings> = {}): ServerSettings {
  const caFile = join(data, 'pebble-tls-ca.pem');
  writeFileSync(caFile, pebble.tlsCaPem);
  return settings(data, {
    acmeDirectory: pebble.directoryUrl,
    acmeCaRoot: caFile,
    acmeEmail: 'ops@certgate.dev',
    acmeAgreeTos: true,
    challenges: ['http-01'],
    httpPort: pebble.httpPort,
    ...over,
  });
}
