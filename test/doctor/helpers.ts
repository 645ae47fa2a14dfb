/**
 * Doctor test helpers: DNS records in pebble-challtestsrv through its management API, a
 * resolver pointed at its DNS port, and the report's checks by id.
 */
import { Resolver } from 'node:dns/promises';
import { request } from 'undici';
import type { DoctorCheck, DoctorReport } from '../../src/doctor/index.ts';
import type { Pebble } from '../helpers/pebble.ts';

async function post(pebble: Pebble, path: string, body: unknown): Promise<void> {
  const res = await request(`${pebble.challtestsrvUrl}${path}`, { method: 'POST', body: JSON.stringify(body) });
  await res.body.dump();
  if (res.statusCode >= 300) throw new Error(`challtestsrv ${path} → ${res.statusCode}`);
}

const fqdn = (h: string) => (h.endsWith('.') ? h : `${h}.`);

export const dns = {
  a: (p: Pebble, host: string, addresses: string[]) => post(p, '/add-a', { host: fqdn(host), addresses }),
  aaaa: (p: Pebble, host: string, addresses: string[]) => post(p, '/add-aaaa', { host: fqdn(host), addresses }),
  caa: (p: Pebble, host: string, policies: Array<{ tag: string; value: string }>) => post(p, '/add-caa', { host: fqdn(host), policies }),
};

/** A resolver that asks challtestsrv's DNS. */
export function resolverFor(pebble: Pebble): Resolver {
  const r = new Resolver({ timeout: 2000, tries: 1 });
  r.setServers([pebble.dnsServer]);
  return r;
}

export function only(report: DoctorReport, id: string): DoctorCheck {
  const found = report.checks.filter((c) => c.id === id);
  if (found.length !== 1) throw new Error(`expected one check ${id}, got ${JSON.stringify(report.checks.map((c) => c.id))}`);
  return found[0] as DoctorCheck;
}
