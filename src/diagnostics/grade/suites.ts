/**
 * @module diagnostics/grade/suites
 * Which cipher suites a server accepts, found by elimination (offer everything, strike what the
 * server picked, offer again), and what a scanner thinks of each.
 */
import { type Hello, type HelloOptions, hello, LEGACY_CIPHERS } from './hello.ts';

export interface Suite {
  /** OpenSSL name, e.g. ECDHE-RSA-AES128-GCM-SHA256 or TLS_AES_128_GCM_SHA256. */
  name: string;
  protocol: 'TLSv1.3' | 'TLSv1.2' | 'TLSv1.1' | 'TLSv1';
  /** ECDHE, DHE, RSA (static: no forward secrecy), anon, or TLS 1.3's own. */
  keyExchange: 'ECDHE' | 'DHE' | 'RSA' | 'ECDH' | 'DH' | 'anon' | 'TLS1.3';
  forwardSecrecy: boolean;
  aead: boolean;
  /** Broken outright: NULL, export, RC4, DES/3DES, anonymous. */
  weak: boolean;
}

export function classify(name: string, protocol: Suite['protocol']): Suite {
  const n = name.toUpperCase();
  let keyExchange: Suite['keyExchange'];
  if (n.startsWith('TLS_')) keyExchange = 'TLS1.3';
  else if (n.startsWith('ECDHE-')) keyExchange = 'ECDHE';
  else if (n.startsWith('DHE-') || n.startsWith('EDH-')) keyExchange = 'DHE';
  else if (n.startsWith('ADH-') || n.startsWith('AECDH-')) keyExchange = 'anon';
  else if (n.startsWith('ECDH-')) keyExchange = 'ECDH';
  else if (n.startsWith('DH-')) keyExchange = 'DH';
  else keyExchange = 'RSA';
  const aead = keyExchange === 'TLS1.3' || /GCM|CCM|POLY1305/.test(n);
  const weak = keyExchange === 'anon' || /(^|-)(NULL|EXP|RC4|DES|DES-CBC3|3DES)(-|$)/.test(n) || n.includes('DES-CBC');
  return { name, protocol, keyExchange, forwardSecrecy: keyExchange === 'ECDHE' || keyExchange === 'DHE' || keyExchange === 'TLS1.3', aead, weak };
}

const TLS13_SUITES = ['TLS_AES_128_GCM_SHA256', 'TLS_AES_256_GCM_SHA384', 'TLS_CHACHA20_POLY1305_SHA256', 'TLS_AES_128_CCM_SHA256', 'TLS_AES_128_CCM_8_SHA256'];

export interface Enumeration {
  suites: Suite[];
  /** False when the bound on handshakes or time cut the search short. */
  complete: boolean;
  handshakes: number;
}

type Base = Omit<HelloOptions, 'ciphers' | 'minVersion' | 'maxVersion'>;

/**
 * TLS <= 1.2 suites at one version. Bounded: at most `maxHandshakes`, and stops at `deadline`
 * (a Date.now() value), reporting `complete: false`.
 */
export async function enumerateLegacy(
  base: Base,
  version: 'TLSv1.2' | 'TLSv1.1' | 'TLSv1',
  bound: { maxHandshakes: number; deadline: number },
): Promise<Enumeration> {
  const found: Suite[] = [];
  let handshakes = 0;
  while (handshakes < bound.maxHandshakes && Date.now() < bound.deadline) {
    const struck = found.map((s) => `:!${s.name}`).join('');
    handshakes++;
    const h: Hello = await hello({ ...base, minVersion: version, maxVersion: version, ciphers: LEGACY_CIPHERS.replace('@', `${struck}@`) });
    if (!h.ok || !h.cipher) return { suites: found, complete: true, handshakes };
    if (found.some((s) => s.name === h.cipher)) return { suites: found, complete: true, handshakes };
    found.push(classify(h.cipher, version));
  }
  return { suites: found, complete: false, handshakes };
}

/** TLS 1.3 suites, one at a time (there are five; OpenSSL offers each only when named). */
export async function enumerateTls13(base: Base, limit: <T>(task: () => Promise<T>) => Promise<T> = (task) => task()): Promise<Enumeration> {
  const results = await Promise.all(TLS13_SUITES.map((name) => limit(() => hello({ ...base, minVersion: 'TLSv1.3', maxVersion: 'TLSv1.3', ciphers: name }))));
  const suites = results.flatMap((h, i) => (h.ok ? [classify(h.cipher ?? (TLS13_SUITES[i] as string), 'TLSv1.3')] : []));
  return { suites, complete: true, handshakes: TLS13_SUITES.length };
}
