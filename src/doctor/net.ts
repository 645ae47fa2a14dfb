/**
 * @module doctor/net
 * Checks that look at DNS and at this host's listeners from outside: each domain's A/AAAA and
 * CAA records, the redirect chain with and without X-Forwarded-Proto, plain HTTP on the HTTPS
 * port, and HSTS.
 */
import { isIP } from 'node:net';
import { isLocalName } from '../localca/local-ca.ts';
import { describeChain, fetchOnce, followRedirects, MAX_HOPS, rawExchange } from './probe.ts';
import { check, type DoctorCheck, type DoctorContext } from './types.ts';

const NO_RECORD = new Set(['ENODATA', 'ENOTFOUND', 'NXDOMAIN']);

async function lookup<T>(fn: () => Promise<T[]>): Promise<{ records: T[]; error: string | null }> {
  try {
    return { records: await fn(), error: null };
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code ?? (err as Error).message;
    return { records: [], error: NO_RECORD.has(code) ? null : code };
  }
}

function normal(address: string): string {
  return address.replace(/%.*$/, '').toLowerCase();
}

export async function addressCheck(ctx: DoctorContext, name: string): Promise<DoctorCheck> {
  const id = `dns-address:${name}`;
  const title = `${name}: A/AAAA point at this host`;
  const [v4, v6] = await Promise.all([lookup(() => ctx.resolver.resolve4(name)), lookup(() => ctx.resolver.resolve6(name))]);
  if (v4.error && v6.error)
    return check(id, 'warn', title, `the DNS lookups failed (${v4.error})`, 'check the resolver (/etc/resolv.conf); the CA resolves the name itself');
  const mine = new Set(ctx.hostAddresses.map(normal));
  const mine4 = ctx.hostAddresses.filter((a) => isIP(a) === 4);
  const mine6 = ctx.hostAddresses.filter((a) => isIP(normal(a)) === 6).map(normal);
  const here = `this host has ${ctx.hostAddresses.map(normal).join(', ') || 'no address'}`;
  if (!v4.records.length && !v6.records.length)
    return check(
      id,
      'fail',
      title,
      `${name} has no A or AAAA record; ${here}`,
      `add an A record: ${name} → ${mine4.find((a) => !a.startsWith('127.')) ?? mine4[0] ?? 'this host'}`,
    );
  const ok4 = v4.records.some((a) => mine.has(normal(a)));
  const ok6 = v6.records.some((a) => mine.has(normal(a)));
  const found = [v4.records.length ? `A ${v4.records.join(', ')}` : null, v6.records.length ? `AAAA ${v6.records.join(', ')}` : null]
    .filter(Boolean)
    .join('; ');
  const behind = ctx.settings.behindProxy !== null;
  if ((v4.records.length === 0 || ok4) && (v6.records.length === 0 || ok6)) return check(id, 'pass', title, `${found}: this host`);
  if (behind) return check(id, 'skip', title, `${found}; ${here}. Behind a load balancer the records point at it, which cannot be checked from here`);
  if (ok4 || ok6) {
    const bad = ok4 ? 'AAAA' : 'A';
    const records = ok4 ? v6.records : v4.records;
    return check(
      id,
      'warn',
      title,
      `only the ${ok4 ? 'IPv4' : 'IPv6'} records point here: ${bad} ${records.join(', ')} is another machine (${here}); visitors and the CA that use ${ok4 ? 'IPv6' : 'IPv4'} reach it instead (Let's Encrypt prefers IPv6)`,
      ok4
        ? `point ${name}'s AAAA at ${mine6.find((a) => a !== '::1') ?? "this host's IPv6 address"}, or remove the AAAA record`
        : `point ${name}'s A at ${mine4.find((a) => !a.startsWith('127.')) ?? "this host's IPv4 address"}, or remove the A record`,
    );
  }
  return check(
    id,
    'fail',
    title,
    `${found}: not this host (${here}); the CA's validation and visitors reach another machine`,
    `point ${name} at this host (A ${mine4.find((a) => !a.startsWith('127.')) ?? mine4[0] ?? '?'}${mine6.length ? `, AAAA ${mine6.find((a) => a !== '::1') ?? mine6[0]}` : ''}), or run certgate where the name points`,
  );
}

/** The relevant CAA record set (RFC 8659 §3): the name's, else the closest parent's; never the TLD's. */
async function relevantCaa(ctx: DoctorContext, name: string) {
  const labels = name.replace(/^\*\./, '').split('.');
  for (let i = 0; i < labels.length - 1; i++) {
    const at = labels.slice(i).join('.');
    const { records, error } = await lookup(() => ctx.resolver.resolveCaa(at));
    if (error) return { at, records, error };
    if (records.length) return { at, records, error: null };
  }
  return { at: null, records: [], error: null };
}

export async function caaCheck(ctx: DoctorContext, name: string, identities: string[] | null): Promise<DoctorCheck> {
  const id = `caa:${name}`;
  const title = `${name}: CAA allows the configured CA`;
  const { at, records, error } = await relevantCaa(ctx, name);
  if (error)
    return check(
      id,
      'fail',
      title,
      `the CAA lookup for ${at} failed (${error}); CAs refuse to issue when CAA cannot be read`,
      `fix the DNS servers of ${at} so that they answer CAA queries`,
    );
  if (!at) return check(id, 'pass', title, `no CAA record on ${name} or its parents: every CA may issue`);
  const wildcard = name.startsWith('*.');
  const tag = wildcard && records.some((r) => r.issuewild !== undefined) ? 'issuewild' : 'issue';
  const values = records.map((r) => r[tag]).filter((v): v is string => v !== undefined);
  const shown = records
    .map((r) =>
      Object.entries(r)
        .filter(([k]) => k !== 'critical')
        .map(([k, v]) => `${k} "${v}"`)
        .join(' '),
    )
    .join(', ');
  const unknownCritical = records.some((r) => r.critical & 128 && r.issue === undefined && r.issuewild === undefined && r.iodef === undefined);
  if (unknownCritical)
    return check(
      id,
      'fail',
      title,
      `CAA at ${at} has a critical record this check does not know (${shown}); CAs refuse to issue`,
      `remove the critical flag or the record at ${at}`,
    );
  if (!values.length) return check(id, 'pass', title, `CAA at ${at} (${shown}) has no ${tag} property: every CA may issue`);
  const allowed = values.map((v) => (v.split(';')[0] ?? '').trim().toLowerCase()).filter(Boolean);
  if (!identities || identities.length === 0)
    return check(
      id,
      'warn',
      title,
      `CAA at ${at} allows ${allowed.join(', ') || 'no CA'}; the configured CA's directory names no caaIdentities, so whether it is among them cannot be told`,
      'ask the CA for its CAA identity and check that it is in the record',
    );
  if (allowed.some((a) => identities.includes(a))) return check(id, 'pass', title, `CAA at ${at} allows ${identities.find((i) => allowed.includes(i))}`);
  return check(
    id,
    'fail',
    title,
    `CAA at ${at} allows only ${allowed.join(', ') || 'no CA at all (an empty value)'}; the configured CA (${identities.join(', ')}) is forbidden and will refuse to issue`,
    `add a CAA record at ${at}: 0 ${tag} "${identities[0]}" (or change CERTGATE_ACME_DIRECTORY to a CA the record allows)`,
  );
}

/** The name the listener probes ask for: the main domain, else the first custom one, else localhost. */
export function probeName(ctx: DoctorContext): string {
  return ctx.domains[0] ?? 'localhost';
}

export async function redirectCheck(ctx: DoctorContext): Promise<DoctorCheck> {
  const name = probeName(ctx);
  const title = `${name}: no redirect loop, with or without X-Forwarded-Proto: https`;
  if (ctx.httpPort === null || ctx.httpPort === 0) return check('redirect-loop', 'skip', title, 'no HTTP listener to probe');
  const base = { name, host: ctx.probeHost, httpPort: ctx.httpPort, httpsPort: ctx.httpsPort, ca: ctx.ca, timeoutMs: ctx.timeoutMs };
  const plain = await followRedirects({ ...base, forwardedProto: false });
  if (plain.outcome === 'error' && plain.hops.length === 1 && plain.hops[0]?.error === 'ECONNREFUSED')
    return check('redirect-loop', 'skip', title, `nothing listens on port ${ctx.httpPort}`, 'start certgate serve and run certgate doctor again');
  const forwarded = await followRedirects({ ...base, forwardedProto: true });
  const detail = `without X-Forwarded-Proto: ${describeChain(plain)}. With X-Forwarded-Proto: https: ${describeChain(forwarded)}`;
  const looped = [plain, forwarded].find((c) => c.outcome === 'loop' || c.outcome === 'too-many');
  if (looped) {
    const trusted = ctx.settings.behindProxy;
    return check(
      'redirect-loop',
      'fail',
      title,
      `${looped.outcome === 'loop' ? 'a redirect loop' : `more than ${MAX_HOPS} redirects`}: ${detail}`,
      trusted
        ? `the app does not see https: list the load balancer's address in --behind-proxy (now ${trusted.join(', ') || 'none'}), make it send X-Forwarded-Proto: https, and have the app trust that header`
        : 'the app redirects to https although certgate passes X-Forwarded-Proto: https: make the app trust X-Forwarded-Proto from certgate, or turn off its own https redirect (certgate redirects already)',
    );
  }
  const failed = [plain, forwarded].find((c) => c.outcome === 'error');
  if (failed)
    return check(
      'redirect-loop',
      'warn',
      title,
      `the chain could not be followed to the end: ${detail}`,
      /CERT|SELF_SIGNED|ISSUER|UNABLE/.test(failed.hops.at(-1)?.error ?? '')
        ? 'the HTTPS certificate is not trusted by the probe: pass the CA (certgate doctor --ca FILE)'
        : 'check that certgate serve runs with these settings',
    );
  return check('redirect-loop', 'pass', title, detail);
}

export async function plainHttpCheck(ctx: DoctorContext): Promise<DoctorCheck> {
  const title = 'plain HTTP is not answered on the HTTPS port';
  if (ctx.httpsPort === null || ctx.httpsPort === 0) return check('https-plain-http', 'skip', title, 'no HTTPS listener to probe');
  const name = probeName(ctx);
  const { data, closed } = await rawExchange(ctx.probeHost, ctx.httpsPort, `GET / HTTP/1.1\r\nHost: ${name}\r\nConnection: close\r\n\r\n`, ctx.timeoutMs);
  if (closed === 'ECONNREFUSED')
    return check('https-plain-http', 'skip', title, `nothing listens on port ${ctx.httpsPort}`, 'start certgate serve and run certgate doctor again');
  const head = data.subarray(0, 200).toString('latin1');
  const status = /^HTTP\/1\.[01] (\d{3})/.exec(head)?.[1];
  if (status && !/plain HTTP request was sent to HTTPS port/i.test(data.toString('latin1')) && status !== '400')
    return check(
      'https-plain-http',
      'fail',
      title,
      `port ${ctx.httpsPort} answered a plain HTTP request with HTTP ${status}: it speaks HTTP, not TLS, so browsers that go to https:// fail (ERR_SSL_PROTOCOL_ERROR)`,
      `let certgate (or your server) listen on ${ctx.httpsPort} with TLS; a plain-HTTP listener belongs on the HTTP port`,
    );
  return check(
    'https-plain-http',
    'pass',
    title,
    status
      ? `port ${ctx.httpsPort} refused plain HTTP with ${status}`
      : `port ${ctx.httpsPort} speaks TLS only (a plain HTTP request got ${data.length ? 'a TLS alert' : 'no answer'}, connection ${closed})`,
  );
}

export async function hstsCheck(ctx: DoctorContext): Promise<DoctorCheck> {
  const name = probeName(ctx);
  const title = `${name}: HSTS where it belongs`;
  if (ctx.httpsPort === null || ctx.httpsPort === 0) return check('hsts', 'skip', title, "no HTTPS listener here: HSTS is the load balancer's to send");
  const wanted = ctx.settings.mode === 'production' && !isLocalName(name);
  let answer: Awaited<ReturnType<typeof fetchOnce>>;
  try {
    answer = await fetchOnce({ host: ctx.probeHost, port: ctx.httpsPort, tls: true, name, path: '/', ca: ctx.ca, timeoutMs: ctx.timeoutMs });
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code ?? (err as Error).message;
    if (code === 'ECONNREFUSED')
      return check('hsts', 'skip', title, `nothing listens on port ${ctx.httpsPort}`, 'start certgate serve and run certgate doctor again');
    return check(
      'hsts',
      'warn',
      title,
      `the HTTPS request for ${name} failed (${code})`,
      /CERT|SELF_SIGNED|ISSUER|UNABLE/.test(code) ? 'pass the CA of the served certificate: certgate doctor --ca FILE' : 'check that certgate serve runs',
    );
  }
  const sts = answer.headers['strict-transport-security'];
  const value = Array.isArray(sts) ? sts.join(', ') : sts;
  if (wanted && value) return check('hsts', 'pass', title, `HTTPS answer ${answer.status} has Strict-Transport-Security: ${value}`);
  if (wanted)
    return check(
      'hsts',
      ctx.settings.hsts ? 'fail' : 'warn',
      title,
      `the HTTPS answer (${answer.status}) for ${name} has no Strict-Transport-Security${ctx.settings.hsts ? ' although HSTS is on: something in between removes it' : ' (HSTS is off)'}; a first visit over http can be intercepted`,
      ctx.settings.hsts ? 'find what strips the header (the app or a proxy in front)' : 'turn HSTS on: CERTGATE_HSTS=true (--hsts)',
    );
  if (value)
    return check(
      'hsts',
      // Development with a public name: a browser that met the local-CA certificate can no longer click through.
      isLocalName(name) ? 'fail' : 'warn',
      title,
      `${name} ${isLocalName(name) ? 'is a local name' : 'is served in development mode'} and its HTTPS answer has Strict-Transport-Security: ${value}; browsers then refuse plain http for it (every localhost port) until max-age runs out`,
      'do not send HSTS for local names or in development (certgate does not: the app sends it); clear it in the browser (chrome://net-internals/#hsts)',
    );
  return check(
    'hsts',
    'pass',
    title,
    `${name} ${isLocalName(name) ? 'is a local name' : 'is in development mode'}: no Strict-Transport-Security, as it should be`,
  );
}
