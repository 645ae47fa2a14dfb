/**
 * @module diagnostics/grade
 * `gradeServer`: the served TLS configuration judged the way a careful scanner (testssl.sh,
 * SSL Labs) judges it, each finding with a stable code and the fix. Probes run concurrently,
 * a few at a time, with a bound on handshakes and on time.
 */
import { constants, X509Certificate } from 'node:crypto';
import { isIP, type LookupFunction } from 'node:net';
import { rootCertificates, type SecureVersion } from 'node:tls';
import { type Certificate, decodeCertificate } from '../../pki/certificate.ts';
import { probe } from '../probe.ts';
import { gradeChain } from './certs.ts';
import type { GradeFinding } from './findings.ts';
import { type Hello, hello, LEGACY_CIPHERS } from './hello.ts';
import { httpHead, maxAge } from './hsts.ts';
import { type Enumeration, enumerateLegacy, enumerateTls13, type Suite } from './suites.ts';

export type { GradeCode, GradeFinding, GradeSeverity } from './findings.ts';
export type { Suite } from './suites.ts';

export interface GradeOptions {
  /** SNI name; defaults to the host unless it is an IP address. */
  servername?: string;
  /** Per handshake; default 5 000 ms. */
  timeoutMs?: number;
  /** Whole grade; the cipher search stops here and says it is incomplete. Default 20 000 ms. */
  budgetMs?: number;
  /** Handshakes in flight at once; default 4. */
  concurrency?: number;
  /** Extra trusted CAs (to tell a missing intermediate from an unsent root). */
  ca?: readonly Certificate[];
  /** Include Node's bundled roots (default true). */
  systemRoots?: boolean;
  now?: Date;
  lookup?: LookupFunction;
}

export interface GradeReport {
  target: { host: string; port: number; servername: string | null };
  protocols: Array<{ version: SecureVersion; offered: boolean; error: string | null }>;
  suites: Suite[];
  /** False when the handshake or time bound cut the cipher search short. */
  suitesComplete: boolean;
  /** True when the server follows its own suite order, false when the client's; null: not known. */
  serverCipherOrder: boolean | null;
  /** Diffie-Hellman group size behind the DHE suites, when any. */
  dhBits: number | null;
  /** What the server chose when offered h2 and http/1.1; null: no ALPN. */
  alpn: string | null;
  ocspStapled: boolean | null;
  resumption: { tickets: boolean | null; sessionIds: boolean | null };
  /** Without SNI: whether the handshake works and the certificate is the same one. */
  withoutSni: { handshake: boolean; sameCertificate: boolean | null } | null;
  /** The HTTPS answer to GET /; null when the server does not answer HTTP. */
  http: { status: string; hsts: string | null } | null;
  /** Certificates as sent, SHA-256 fingerprints in order. */
  chain: Array<{ subject: string; sha256: string }>;
  findings: GradeFinding[];
  handshakes: number;
  elapsedMs: number;
}

const VERSIONS: SecureVersion[] = ['TLSv1', 'TLSv1.1', 'TLSv1.2', 'TLSv1.3'];
const LABEL: Record<SecureVersion, string> = { TLSv1: 'TLS 1.0', 'TLSv1.1': 'TLS 1.1', 'TLSv1.2': 'TLS 1.2', 'TLSv1.3': 'TLS 1.3' };
const MODERN_FIX =
  'enable TLS 1.2 and 1.3 (nginx: ssl_protocols TLSv1.2 TLSv1.3; Apache: SSLProtocol -all +TLSv1.2 +TLSv1.3); certgate serve does this by default';

/** At most n tasks at once. */
function limiter(n: number): <T>(task: () => Promise<T>) => Promise<T> {
  let active = 0;
  const queue: Array<() => void> = [];
  return async (task) => {
    if (active >= n) await new Promise<void>((r) => queue.push(r));
    active++;
    try {
      return await task();
    } finally {
      active--;
      queue.shift()?.();
    }
  };
}

function trustedIssuer(extra: readonly Certificate[], systemRoots: boolean): (last: Certificate) => boolean {
  return (last) => {
    const candidates: X509Certificate[] = extra.map((c) => c.x509);
    if (systemRoots) for (const pem of rootCertificates) candidates.push(new X509Certificate(pem));
    return candidates.some((r) => last.x509.checkIssued(r) && last.x509.verify(r.publicKey));
  };
}

function list(names: string[], max = 6): string {
  return names.length <= max ? names.join(', ') : `${names.slice(0, max).join(', ')} and ${names.length - max} more`;
}

export async function gradeServer(target: { host: string; port: number }, options: GradeOptions = {}): Promise<GradeReport> {
  const t0 = Date.now();
  const timeoutMs = options.timeoutMs ?? 5_000;
  const deadline = t0 + (options.budgetMs ?? 20_000);
  const now = options.now ?? new Date();
  const servername = options.servername ?? (isIP(target.host) ? null : target.host);
  const name = servername ?? target.host;
  const run = limiter(options.concurrency ?? 4);
  let handshakes = 0;
  const base = { host: target.host, port: target.port, servername, timeoutMs, ...(options.lookup ? { lookup: options.lookup } : {}) };
  const say = (o: Parameters<typeof hello>[0]): Promise<Hello> =>
    run(() => {
      handshakes++;
      return hello(o);
    });

  // The chain exactly as sent (probe reads it off the wire); it throws when no TCP connection is possible.
  const sent = await probe({
    host: target.host,
    port: target.port,
    ...(servername ? { servername } : {}),
    timeoutMs,
    ca: [],
    minVersion: 'TLSv1',
    ciphers: LEGACY_CIPHERS,
    ...(options.lookup ? { lookup: options.lookup } : {}),
  });
  handshakes += sent.chainSource === 'wire' && sent.protocol === 'TLSv1.3' ? 2 : 1;

  const [protocolHellos, main, noSni, web] = await Promise.all([
    Promise.all(VERSIONS.map((v) => say({ ...base, minVersion: v, maxVersion: v }))),
    say({ ...base, minVersion: 'TLSv1', alpn: ['h2', 'http/1.1'], requestOCSP: true }),
    servername ? say({ ...base, servername: null, minVersion: 'TLSv1' }) : Promise.resolve(null),
    say({ ...base, minVersion: 'TLSv1', alpn: ['http/1.1'], keep: true }),
  ]);
  const httpAnswer = web.ok && web.socket ? httpHead(web.socket, name, timeoutMs) : Promise.resolve({ status: null, hsts: null });

  const offered = new Map(VERSIONS.map((v, i) => [v, protocolHellos[i] as Hello]));
  const is = (v: SecureVersion) => offered.get(v)?.ok === true;
  const legacyVersion = (['TLSv1.2', 'TLSv1.1', 'TLSv1'] as const).find(is);
  const bound = { maxHandshakes: 40, deadline };
  const [legacy, tls13, ticketFirst, idFirst] = await Promise.all([
    legacyVersion ? run(() => enumerateLegacy(base, legacyVersion, bound)) : Promise.resolve<Enumeration>({ suites: [], complete: true, handshakes: 0 }),
    is('TLSv1.3') ? enumerateTls13({ ...base }, run) : Promise.resolve<Enumeration>({ suites: [], complete: true, handshakes: 0 }),
    // Tickets as scanners test them: the TLS 1.2 ticket extension when 1.2 or older is spoken (a
    // TLS 1.3 "ticket" can be a stateful session id in disguise, e.g. openssl -no_ticket).
    main.ok ? say({ ...base, minVersion: 'TLSv1', ...(legacyVersion ? { maxVersion: legacyVersion } : {}), waitSessionMs: 300 }) : Promise.resolve(null),
    legacyVersion ? say({ ...base, minVersion: 'TLSv1', maxVersion: legacyVersion, secureOptions: constants.SSL_OP_NO_TICKET }) : Promise.resolve(null),
  ]);
  handshakes += legacy.handshakes + tls13.handshakes;
  // Two follow-ups on what was found: the DH group behind DHE suites, and whether the server or
  // the client picks the suite (offer two in both orders).
  const dhe = legacy.suites.filter((x) => x.keyExchange === 'DHE').map((x) => x.name);
  const pair = legacy.suites.slice(0, 2).map((x) => x.name);
  const [dh, forward, backward] = await Promise.all([
    dhe.length && legacyVersion
      ? say({ ...base, minVersion: legacyVersion, maxVersion: legacyVersion, ciphers: `${dhe.join(':')}@SECLEVEL=0` })
      : Promise.resolve(null),
    pair.length === 2 && legacyVersion
      ? say({ ...base, minVersion: legacyVersion, maxVersion: legacyVersion, ciphers: `${pair.join(':')}@SECLEVEL=0` })
      : Promise.resolve(null),
    pair.length === 2 && legacyVersion
      ? say({ ...base, minVersion: legacyVersion, maxVersion: legacyVersion, ciphers: `${[...pair].reverse().join(':')}@SECLEVEL=0` })
      : Promise.resolve(null),
  ]);
  const [ticketAgain, idAgain] = await Promise.all([
    ticketFirst?.session && (ticketFirst.ticket || ticketFirst.protocol === 'TLSv1.3')
      ? say({ ...base, minVersion: 'TLSv1', ...(legacyVersion ? { maxVersion: legacyVersion } : {}), session: ticketFirst.session })
      : Promise.resolve(null),
    idFirst?.session && legacyVersion
      ? say({ ...base, minVersion: 'TLSv1', maxVersion: legacyVersion, secureOptions: constants.SSL_OP_NO_TICKET, session: idFirst.session })
      : Promise.resolve(null),
  ]);
  const http = await httpAnswer;

  const chain = sent.chain.map((der) => decodeCertificate(der, now));
  const suites = [...tls13.suites, ...legacy.suites];
  const findings: GradeFinding[] = [];

  // Protocol versions
  const versionsOffered = VERSIONS.filter(is);
  if (versionsOffered.length === 0) {
    const why = [...offered.values()].map((h) => h.error).find((e) => e) ?? sent.error?.code ?? 'no answer';
    findings.push({
      code: 'GRADE_NO_TLS',
      severity: 'error',
      certificate: null,
      what: `no TLS handshake succeeded at any version from TLS 1.0 to 1.3 (${why})`,
      fix: 'check that this port serves TLS (certgate inspect without --grade names what it speaks) and that the server has a certificate and key configured',
    });
  } else if (!is('TLSv1.2') && !is('TLSv1.3')) {
    findings.push({
      code: 'GRADE_ONLY_LEGACY_TLS',
      severity: 'error',
      certificate: null,
      what: `the server speaks only ${versionsOffered.map((v) => LABEL[v]).join(' and ')}: Node 18+, curl and Python on OpenSSL 3, Java 11+ and every browser require TLS 1.2 and fail with "unsupported protocol" or "protocol version", not a certificate error`,
      fix: MODERN_FIX,
    });
  }
  for (const [v, code] of [
    ['TLSv1', 'GRADE_TLS1_0_OFFERED'],
    ['TLSv1.1', 'GRADE_TLS1_1_OFFERED'],
  ] as const) {
    if (is(v) && (is('TLSv1.2') || is('TLSv1.3')))
      findings.push({
        code,
        severity: 'warning',
        certificate: null,
        what: `the server still accepts ${LABEL[v]} (deprecated by RFC 8996; PCI DSS and scanners fail it)`,
        fix: `turn off ${LABEL[v]}: ${MODERN_FIX}`,
      });
  }
  if (versionsOffered.length && is('TLSv1.3') && !is('TLSv1.2'))
    findings.push({
      code: 'GRADE_NO_TLS1_2',
      severity: 'info',
      certificate: null,
      what: 'the server speaks TLS 1.3 only; clients without TLS 1.3 (OpenSSL 1.0.x, Java 8 before u261, older Android) cannot connect',
      fix: 'enable TLS 1.2 as well if such clients must connect',
    });
  if (versionsOffered.length && !is('TLSv1.3'))
    findings.push({
      code: 'GRADE_NO_TLS1_3',
      severity: 'info',
      certificate: null,
      what: 'the server does not offer TLS 1.3 (one round trip less, no legacy suites)',
      fix: `enable TLS 1.3 (OpenSSL 1.1.1+): ${MODERN_FIX}`,
    });

  // Cipher suites
  const legacySuites = legacy.suites;
  const weak = legacySuites.filter((s) => s.weak);
  if (weak.length)
    findings.push({
      code: 'GRADE_CIPHER_WEAK',
      severity: 'error',
      certificate: null,
      what: `the server accepts broken suites: ${list(weak.map((s) => s.name))}`,
      fix: 'remove them: a cipher list such as ECDHE+AESGCM:ECDHE+CHACHA20 (nginx ssl_ciphers) leaves only forward-secret AEAD suites',
    });
  const noFs = legacySuites.filter((s) => !s.forwardSecrecy);
  if (suites.length && suites.every((s) => !s.forwardSecrecy))
    findings.push({
      code: 'GRADE_NO_FORWARD_SECRECY',
      severity: 'error',
      certificate: null,
      what: `no suite the server accepts has forward secrecy (${list(noFs.map((s) => s.name))}): whoever gets the server's key later can decrypt recorded traffic`,
      fix: 'offer ECDHE suites first (nginx: ssl_ciphers ECDHE+AESGCM:ECDHE+CHACHA20; openssl: -cipher ECDHE+AESGCM)',
    });
  else if (noFs.length)
    findings.push({
      code: 'GRADE_CIPHER_NO_FORWARD_SECRECY',
      severity: 'warning',
      certificate: null,
      what: `the server also accepts suites without forward secrecy: ${list(noFs.map((s) => s.name))}`,
      fix: 'remove them from the cipher list, keep the ECDHE ones (nginx: ssl_ciphers ECDHE+AESGCM:ECDHE+CHACHA20)',
    });
  const rsaKex = legacySuites.filter((s) => s.keyExchange === 'RSA');
  if (rsaKex.length)
    findings.push({
      code: 'GRADE_RSA_KEY_EXCHANGE',
      severity: 'warning',
      certificate: null,
      what: `the server accepts RSA key exchange (${list(rsaKex.map((s) => s.name))}): no forward secrecy, and the class of suite ROBOT-style oracle attacks target`,
      fix: 'remove the suites that start without ECDHE/DHE (openssl: append :!kRSA to the cipher list)',
    });
  const cbc = legacySuites.filter((s) => !s.aead && !s.weak);
  if (suites.length && suites.every((s) => !s.aead))
    findings.push({
      code: 'GRADE_NO_AEAD',
      severity: 'warning',
      certificate: null,
      what: `no suite the server accepts is AEAD (GCM, ChaCha20-Poly1305): only CBC suites (${list(cbc.map((s) => s.name))}), exposed to padding-oracle (Lucky 13) attacks`,
      fix: 'offer AES-GCM or ChaCha20-Poly1305 suites (needs TLS 1.2): nginx ssl_ciphers ECDHE+AESGCM:ECDHE+CHACHA20',
    });
  else if (cbc.length)
    findings.push({
      code: 'GRADE_CIPHER_CBC',
      severity: 'info',
      certificate: null,
      what: `the server also accepts CBC suites without AEAD: ${list(cbc.map((s) => s.name))}`,
      fix: 'drop them unless very old clients need them (nginx: ssl_ciphers ECDHE+AESGCM:ECDHE+CHACHA20)',
    });
  const dhBits = dh?.ok && dh.ephemeral?.type === 'DH' ? dh.ephemeral.size : null;
  if (dhBits !== null && dhBits < 2048)
    findings.push({
      code: 'GRADE_DH_WEAK',
      severity: 'warning',
      certificate: null,
      what: `the DHE suites use a ${dhBits}-bit Diffie-Hellman group (Logjam range; OpenSSL refuses under 2048 bits from security level 2)`,
      fix: 'use a 2048-bit or larger group (nginx: ssl_dhparam with openssl dhparam 2048, or ffdhe2048), or drop the DHE suites and keep ECDHE',
    });
  const clientPicks = Boolean(forward?.ok && backward?.ok && forward.cipher !== backward.cipher);
  if (clientPicks) {
    const poor = legacySuites.some((x) => !x.forwardSecrecy || !x.aead || x.weak);
    findings.push({
      code: 'GRADE_NO_CIPHER_ORDER',
      severity: poor ? 'warning' : 'info',
      certificate: null,
      what: `the server lets the client pick the suite (offered ${pair.join(', ')} in both orders, it took the client's first each time)${poor ? ': a client that prefers a weaker suite gets it' : ''}`,
      fix: 'make the server choose (nginx: ssl_prefer_server_ciphers on; Apache: SSLHonorCipherOrder on; openssl s_server -serverpref)',
    });
  }
  if (!legacy.complete)
    findings.push({
      code: 'GRADE_CIPHERS_INCOMPLETE',
      severity: 'info',
      certificate: null,
      what: `the cipher search stopped at its bound (${legacy.suites.length} suites found); more may be accepted`,
      fix: 'run again with a longer --timeout, or run testssl -E for the full list',
    });

  // Certificates and chain
  const rsaKeyExchangeUsed = rsaKex.length > 0 && (main.cipher ? !/^(ECDHE|DHE|TLS_)/i.test(main.cipher) : false);
  findings.push(
    ...gradeChain(chain, {
      now,
      name,
      issuerTrusted: trustedIssuer(options.ca ?? [], options.systemRoots !== false),
      rsaKeyExchange: rsaKeyExchangeUsed,
    }),
  );

  // OCSP stapling
  const leaf = chain[0];
  if (main.ok) {
    if (leaf?.info.mustStaple && !main.ocspStapled)
      findings.push({
        code: 'GRADE_MUST_STAPLE_NOT_STAPLED',
        severity: 'error',
        certificate: 0,
        what: 'the certificate demands OCSP stapling (must-staple) but the server staples nothing: Firefox refuses the connection',
        fix: 'turn on stapling (nginx: ssl_stapling on; ssl_stapling_verify on; with a resolver), or reissue without must-staple',
      });
    else if (!main.ocspStapled)
      findings.push({
        code: 'GRADE_OCSP_NOT_STAPLED',
        severity: 'info',
        certificate: 0,
        what: 'the server does not staple an OCSP response: each client asks the CA itself (slower, and leaks who visits)',
        fix: leaf?.info.authorityInfoAccess.ocsp.length
          ? 'turn on OCSP stapling (nginx: ssl_stapling on; Apache: SSLUseStapling on)'
          : 'the certificate names no OCSP responder, so there is nothing to staple; nothing to do unless your CA offers OCSP',
      });
  }

  // SNI
  if (noSni && servername && main.ok) {
    if (!noSni.ok)
      findings.push({
        code: 'GRADE_SNI_REQUIRED',
        severity: 'info',
        certificate: null,
        what: `without SNI the handshake fails (${noSni.error}): clients that send no server name (IP-based health checks, very old Java and Android, some embedded TLS stacks) cannot connect`,
        fix: `tell such clients the name (curl --resolve ${name}:${target.port}:ADDRESS, openssl s_client -servername ${name}), or give the server a default certificate`,
      });
    else if (leaf && noSni.leafDer && !noSni.leafDer.equals(leaf.der))
      findings.push({
        code: 'GRADE_NO_SNI_OTHER_CERT',
        severity: 'info',
        certificate: null,
        what: `without SNI the server presents a different certificate ("${new X509Certificate(noSni.leafDer).subject.replace(/\n/g, ', ')}"): clients without SNI see a name mismatch`,
        fix: `make the certificate for ${name} the server's default (nginx: listen ... default_server on its server block)`,
      });
  }

  // ALPN
  if (main.ok && main.alpn !== 'h2')
    findings.push({
      code: 'GRADE_NO_ALPN_H2',
      severity: 'info',
      certificate: null,
      what: main.alpn
        ? `offered h2 and http/1.1, the server chose ${main.alpn}: no HTTP/2`
        : 'the server does not answer ALPN: clients cannot negotiate HTTP/2',
      fix: 'enable HTTP/2 (nginx: http2 on; Apache: Protocols h2 http/1.1; certgate serve offers h2)',
    });

  // Session resumption
  const tickets = ticketFirst ? Boolean(ticketAgain?.reused) : null;
  const ids = idFirst ? Boolean(idAgain?.reused) : null;
  if (main.ok) {
    if (!tickets && !ids)
      findings.push({
        code: 'GRADE_NO_RESUMPTION',
        severity: 'warning',
        certificate: null,
        what: 'the server resumes no session (neither tickets nor session ids): every reconnect pays a full handshake',
        fix: 'turn on session tickets or a session cache (nginx: ssl_session_cache shared:SSL:10m; ssl_session_tickets on)',
      });
    else if (!tickets)
      findings.push({
        code: 'GRADE_NO_SESSION_TICKETS',
        severity: 'info',
        certificate: null,
        what: 'the server resumes by session id only, not with tickets: resumption works only on the same server process or a shared cache',
        fix: 'turn on session tickets with keys shared by every instance (nginx: ssl_session_tickets on; ssl_session_ticket_key)',
      });
    else if (ids === false)
      findings.push({
        code: 'GRADE_NO_SESSION_IDS',
        severity: 'info',
        certificate: null,
        what: 'the server resumes with tickets only; clients that do not send tickets (some Java and embedded stacks) get full handshakes',
        fix: 'add a session cache (nginx: ssl_session_cache shared:SSL:10m) if such clients matter',
      });
  }

  // HSTS
  if (http.status) {
    const age = http.hsts ? maxAge(http.hsts) : null;
    if (!http.hsts)
      findings.push({
        code: 'GRADE_HSTS_MISSING',
        severity: 'warning',
        certificate: null,
        what: `the HTTPS answer to GET / (${http.status}) has no Strict-Transport-Security header: a first visit over http:// can be intercepted`,
        fix: 'send Strict-Transport-Security: max-age=31536000 (nginx: add_header Strict-Transport-Security "max-age=31536000" always; certgate serve --hsts)',
      });
    else if (age === null || age < 15_552_000)
      findings.push({
        code: 'GRADE_HSTS_SHORT',
        severity: 'info',
        certificate: null,
        what: `Strict-Transport-Security is "${http.hsts}": ${age === null ? 'no valid max-age' : `max-age ${age} s is under the 180 days scanners expect`}`,
        fix: 'use max-age=31536000 (one year)',
      });
  }

  const order = { error: 0, warning: 1, info: 2 };
  findings.sort((a, b) => order[a.severity] - order[b.severity]);
  return {
    target: { host: target.host, port: target.port, servername },
    protocols: VERSIONS.map((v) => ({ version: v, offered: is(v), error: is(v) ? null : (offered.get(v)?.error ?? null) })),
    suites,
    suitesComplete: legacy.complete && tls13.complete,
    serverCipherOrder: forward?.ok && backward?.ok ? !clientPicks : null,
    dhBits,
    alpn: main.ok ? main.alpn : null,
    ocspStapled: main.ok ? main.ocspStapled : null,
    resumption: { tickets, sessionIds: ids },
    withoutSni: noSni ? { handshake: noSni.ok, sameCertificate: noSni.ok && leaf && noSni.leafDer ? noSni.leafDer.equals(leaf.der) : null } : null,
    http: http.status ? { status: http.status, hsts: http.hsts } : null,
    chain: chain.map((c) => ({ subject: c.info.subject, sha256: c.info.fingerprints.sha256 })),
    findings,
    handshakes,
    elapsedMs: Date.now() - t0,
  };
}
