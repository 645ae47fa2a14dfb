/**
 * @module diagnostics/inspect
 * Connects, captures the chain as sent, decodes it, verifies it against a trust set and the
 * hostname, and explains every problem with its fix.
 */
import { isIP, type LookupFunction } from 'node:net';
import { rootCertificates } from 'node:tls';
import { CertgateError } from '../errors.ts';
import { type Certificate, type CertificateInfo, decodeCertificate, isIssuerOf, nameText, toPem } from '../pki/certificate.ts';
import { analyzeChain, type ChainAnalysis, kindOf } from '../pki/chain.ts';
import { readTlv } from '../pki/der.ts';
import { type Finding, type Status, statusOf } from '../pki/findings.ts';
import { lintCertificate, lintChain } from '../pki/lint.ts';
import { buildTrustedFirst, checkPath, subjectNameDer } from '../pki/path.ts';
import { x509ErrorName } from '../pki/x509-errors.ts';
import { fetchIssuer } from './aia.ts';
import { type ExplainContext, explainHandshakeError, explainHostname, explainVerifyCode } from './explain.ts';
import { identify, isPostgresPort, type ProbeResult, probe } from './probe.ts';
import { DEFAULT_PORTS, type StartTlsProtocol } from './starttls.ts';

export interface InspectOptions {
  servername?: string;
  /** Default 10 000 ms. */
  timeoutMs?: number;
  starttls?: StartTlsProtocol;
  /** Extra trusted CA certificates. */
  ca?: Certificate[];
  /** Extra trusted CA certificates as PEM (no decoding cost; e.g. a trust store's set). */
  caPem?: readonly string[];
  /** Where `ca` came from, for messages (e.g. "--ca corp.pem"). */
  caLabel?: string;
  /**
   * The files `ca` was read from when they are the whole trust set (verify --ca BUNDLE): the
   * fixes then say to add a missing CA to them, not to ca-certs.
   */
  bundle?: readonly string[];
  /** Include Node's bundled Mozilla roots (default true; `verify` turns it off like curl --cacert). */
  systemRoots?: boolean;
  clientCert?: string;
  clientKey?: string;
  /** Fetch a missing intermediate from its AIA URL (default false). */
  fetchMissing?: boolean;
  now?: Date;
  /** A resolver in place of the system's (dns.lookup signature). */
  lookup?: LookupFunction;
  /**
   * Verify as a client at this OpenSSL security level (0-5). Debian's and RHEL's curl and
   * Python use 2; Node's default is 1. Unset: Node's default.
   */
  securityLevel?: number;
}

export interface ChainEntry extends CertificateInfo {
  index: number;
  /** Index of the certificate in this chain that issued this one, when sent. */
  issuedBy: number | null;
  pem: string;
}

export interface InspectResult {
  target: { host: string; port: number; servername: string | null; address: string | null; starttls: StartTlsProtocol | null };
  status: Status;
  findings: Finding[];
  tls: { protocol: string | null; cipher: string | null; alpn: string | null; handshakeMs: number; chainSource: ProbeResult['chainSource'] } | null;
  verification: {
    trusted: boolean;
    hostnameMatches: boolean | null;
    /** OpenSSL's code name (X509_V_ERR_ without the prefix), resolved from its text when Node says UNSPECIFIED. */
    opensslCode: string | null;
    /** OpenSSL's own words for it. */
    opensslText: string | null;
    trust: string;
    /** The path OpenSSL built: indices into `chain`, or the subject of a root taken from the trust store. */
    builtPath: Array<number | string>;
  };
  chain: ChainEntry[];
  fetched: ChainEntry[];
}

/** Splits `host`, `host:port`, `[v6]:port` and `https://host:port/path`. */
export function parseTarget(input: string, defaultPort: number): { host: string; port: number } {
  let text = input.trim();
  if (!text) throw new CertgateError('E_USAGE', 'no host given', 'pass HOST[:PORT], e.g. example.com:443');
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(text)) {
    let url: URL;
    try {
      url = new URL(text);
    } catch {
      throw new CertgateError('E_USAGE', `"${input}" is not a valid URL`, 'pass https://host[:port]/ or HOST[:PORT]');
    }
    const port = url.port ? Number(url.port) : url.protocol === 'https:' ? 443 : defaultPort;
    return { host: url.hostname.replace(/^\[|\]$/g, ''), port };
  }
  let host = text;
  let port = defaultPort;
  const v6 = /^\[([^\]]+)\](?::(\d+))?$/.exec(text);
  if (v6) {
    host = v6[1] as string;
    if (v6[2]) port = Number(v6[2]);
  } else if (isIP(text) === 6) {
    host = text;
  } else {
    const idx = text.lastIndexOf(':');
    if (idx >= 0) {
      host = text.slice(0, idx);
      const p = text.slice(idx + 1);
      if (!/^\d+$/.test(p)) throw new CertgateError('E_USAGE', `"${p}" in "${input}" is not a port number`, 'pass HOST[:PORT], e.g. db.internal:5432');
      port = Number(p);
    }
  }
  text = host;
  if (!Number.isInteger(port) || port < 1 || port > 65535) throw new CertgateError('E_USAGE', `port ${port} is out of range`, 'use a port from 1 to 65535');
  if (!/^[A-Za-z0-9._:-]+$/.test(text) || text.length > 253) {
    throw new CertgateError('E_USAGE', `"${text}" is not a valid host name`, 'pass a DNS name or an IP address');
  }
  return { host: text, port };
}

function entries(chain: readonly Certificate[], analysis: ChainAnalysis): ChainEntry[] {
  return chain.map((c, index) => ({
    index,
    issuedBy: analysis.issuerOf[index] ?? null,
    ...c.info,
    kind: kindOf(c, { position: index, others: chain }),
    pem: toPem(c),
  }));
}

function mergeFinding(findings: Finding[], f: Finding): void {
  const same = findings.find((x) => x.code === f.code && (x.certificate === f.certificate || f.certificate === null || x.certificate === null));
  if (same) {
    // OpenSSL's verdict makes a lint warning an error, and its wording is about this server.
    same.severity = f.severity === 'error' ? 'error' : same.severity;
    same.message = f.message;
    same.fix = f.fix;
    return;
  }
  findings.push(f);
}

/**
 * Inspects a live TLS server.
 * @example const r = await inspect('db.internal:5432', { starttls: 'postgres', ca: corpRoots })
 */
export async function inspect(target: string, options: InspectOptions = {}): Promise<InspectResult> {
  const now = options.now ?? new Date();
  const timeoutMs = options.timeoutMs ?? 10_000;
  const { host, port } = parseTarget(target, DEFAULT_PORTS[options.starttls ?? 'tls']);
  const servername = options.servername ?? (isIP(host) ? null : host);
  const checkName = options.servername ?? host;
  const systemRoots = options.systemRoots ?? true;
  const extra = options.ca ?? [];
  const extraPem = options.caPem ?? [];
  const trustParts = [
    systemRoots ? "Node's bundled roots" : null,
    extra.length || extraPem.length
      ? (options.caLabel ?? `${extra.length + extraPem.length} extra CA certificate${extra.length + extraPem.length === 1 ? '' : 's'}`)
      : null,
  ].filter(Boolean);
  const trust = trustParts.length ? trustParts.join(' + ') : 'no trusted roots';
  const ca = [...(systemRoots ? rootCertificates : []), ...extraPem, ...extra.map(toPem)];
  const probeOptions = {
    host,
    port,
    timeoutMs,
    ca,
    ...(servername ? { servername } : {}),
    ...(options.starttls ? { starttls: options.starttls } : {}),
    ...(options.lookup ? { lookup: options.lookup } : {}),
    ...(options.securityLevel !== undefined ? { ciphers: `DEFAULT@SECLEVEL=${options.securityLevel}` } : {}),
    ...(options.clientCert ? { clientCert: options.clientCert, clientKey: options.clientKey } : {}),
  };
  const findings: Finding[] = [];
  const hostPort = `${host.includes(':') ? `[${host}]` : host}:${port}`;
  let result: ProbeResult;
  try {
    result = await probe(probeOptions);
  } catch (err) {
    // A preamble that fails, or a port that took the connection and never answered the TLS hello,
    // is what this port is, not an error of certgate: a finding with the flag that works.
    const silent = err instanceof CertgateError && err.code === 'E_TIMEOUT' && /TLS handshake/.test(err.message);
    if (!(err instanceof CertgateError) || (err.code !== 'E_STARTTLS' && !silent)) throw err;
    if (silent) findings.push(await silentPort(probeOptions, hostPort, timeoutMs, options.servername));
    else
      findings.push({
        code: /does not speak/.test(err.message) ? 'STARTTLS_MISMATCH' : 'STARTTLS_REFUSED',
        severity: 'error',
        certificate: null,
        message: err.message,
        fix: err.fix ?? 'check the port and the --starttls protocol',
      });
    return {
      target: { host, port, servername, address: null, starttls: options.starttls ?? null },
      status: 'fail',
      findings,
      tls: null,
      verification: { trusted: false, hostnameMatches: null, opensslCode: null, opensslText: null, trust, builtPath: [] },
      chain: [],
      fetched: [],
    };
  }
  let sniFacts: { sniSent: string | null; defaultNames?: string[] } = { sniSent: servername };
  if (result.error && result.chain.length === 0 && !result.error.plaintextPreview) sniFacts = await sniFactsFor(result, probeOptions, servername);
  if (result.error && result.chain.length === 0) {
    // Learn what the server would have sent under a permissive policy, to name weak keys and old protocols.
    const permissive = await probe({ ...probeOptions, minVersion: 'TLSv1', ciphers: 'DEFAULT:@SECLEVEL=0' }).catch(() => null);
    if (permissive && !permissive.error && permissive.chain.length) {
      const err = result.error;
      result = { ...permissive, error: err, authorized: false, authorizationError: null };
    }
  }
  if (result.chainSource === 'reconstructed') result = { ...result, chain: withoutStoreRoot(result.chain, ca) };
  const chain = result.chain.map((der) => decodeCertificate(der, now));
  const analysis = analyzeChain(chain);
  const inStore = trustIndex([...ca], now);
  const walk = result.chainSource === 'wire' ? buildTrustedFirst(chain, analysis.path, inStore) : null;
  // Without the sent order (TLS 1.3 only), OpenSSL's reconstruction is the best account there is.
  const built = walk
    ? walk.steps.map((s) => (typeof s === 'number' ? (chain[s] as Certificate) : s))
    : result.builtPath.map((der) => decodeCertificate(der, now));
  const builtPath = built.map((c) => {
    const i = chain.findIndex((x) => x.info.fingerprints.sha256 === c.info.fingerprints.sha256);
    return i >= 0 ? i : (c.info.subjectCommonName ?? c.info.subject);
  });
  // The root OpenSSL took from the store counts for the path's constraints (pathlen, nameConstraints on a root).
  const lastSent = chain[analysis.path[analysis.path.length - 1] ?? -1];
  const anchor =
    walk?.anchor ??
    built.find((c) => lastSent && !chain.some((x) => x.info.fingerprints.sha256 === c.info.fingerprints.sha256) && isIssuerOf(c, lastSent)) ??
    null;
  const defectPath = walk ? walk.steps.map((s) => (typeof s === 'number' ? s : chain.length)) : anchor ? [...analysis.path, chain.length] : analysis.path;
  const defects = checkPath(anchor ? [...chain, anchor] : chain, defectPath, {
    now,
    host: checkName,
    ...(options.securityLevel !== undefined ? { securityLevel: options.securityLevel } : {}),
  }).map((d) => ({ ...d, detail: d.detail.replaceAll(`#${chain.length} "`, 'the trust-store root "') }));
  const ctx: ExplainContext = {
    chain,
    analysis,
    host: checkName,
    target: `${host.includes(':') ? `[${host}]` : host}:${port}`,
    trust,
    ...(options.starttls ? { starttls: options.starttls } : {}),
    ...(options.servername ? { servername: options.servername } : {}),
    ...(options.bundle?.length && !systemRoots && !extraPem.length ? { bundle: options.bundle } : {}),
    clientCertGiven: Boolean(options.clientCert),
    clientCertRequested: result.clientCertRequested,
    defects,
    anchor,
    trustSettings: ca.some((pem) => pem.includes('BEGIN TRUSTED CERTIFICATE')),
    ...(result.authorizationText ? { opensslText: result.authorizationText } : {}),
  };
  if (result.error) {
    let finding = explainHandshakeError(result.error, {
      ...ctx,
      target: hostPort,
      ...sniFacts,
      alert: result.alert,
      acceptableCas: result.acceptableClientCas?.map((b64) => safeName(b64)) ?? null,
      clientCertIssuer: options.clientCert ? clientIssuer(options.clientCert) : null,
    });
    if (
      finding.code === 'HANDSHAKE_FAILED' &&
      result.error.code === 'ECONNRESET' &&
      !result.error.plaintextPreview &&
      !options.starttls &&
      (await isPostgresPort(probeOptions))
    ) {
      finding = {
        code: 'POSTGRES_NEEDS_STARTTLS',
        severity: 'error',
        certificate: null,
        message: `${host}:${port} is PostgreSQL, which negotiates TLS inside its own protocol (it dropped the TLS hello)`,
        fix: `add --starttls postgres: certgate inspect ${hostPort} --starttls postgres${options.servername ? ` --servername ${options.servername}` : ''}`,
      };
    }
    findings.push(finding);
  } else if (result.closedSilently && options.clientCert) {
    const cas = result.acceptableClientCas?.map((b64) => safeName(b64)) ?? [];
    const issuer = clientIssuer(options.clientCert);
    if (issuer && cas.length && !cas.some((n) => n.toLowerCase() === issuer.toLowerCase())) {
      findings.push({
        code: 'CLIENT_CERT_REJECTED',
        severity: 'error',
        certificate: null,
        message: `the server hung up right after the handshake: the client certificate is issued by "${issuer}"; it accepts certificates issued by ${cas.map((n) => `"${n}"`).join(', ')}`,
        fix: `use a client certificate issued by ${cas.map((n) => `"${n}"`).join(' or ')}`,
      });
    } else {
      // Servers that check the client certificate in application code hang up without an alert.
      findings.push({
        code: 'CLIENT_CERT_REJECTED',
        severity: 'error',
        certificate: null,
        message: 'the server hung up right after the handshake without a word: it most likely rejected the client certificate',
        fix: 'use a client certificate issued by the CA the server trusts, valid now, with extendedKeyUsage clientAuth',
      });
    }
  }
  chain.forEach((c, i) => {
    for (const f of lintCertificate(c, i, { now, endEntity: i === 0 })) findings.push(f);
  });
  for (const f of lintChain(chain, analysis, { context: 'server' })) mergeFinding(findings, f);
  let hostnameMatches: boolean | null = null;
  const leaf = chain[0];
  if (leaf) {
    hostnameMatches = isIP(checkName) ? leaf.x509.checkIP(checkName) !== undefined : leaf.x509.checkHost(checkName) !== undefined;
    if (!hostnameMatches) mergeFinding(findings, explainHostname(ctx));
  }
  let trusted = result.authorized && !result.error;
  let opensslCode = result.authorizationError;
  // Node names 28 of OpenSSL's 94 codes; for the rest its text says which one it was.
  if (opensslCode && (opensslCode === 'UNSPECIFIED' || !x509ErrorName(opensslCode)) && result.authorizationText) {
    opensslCode = x509ErrorName(result.authorizationText) ?? opensslCode;
  }
  const alternate = alternatePath(chain, analysis.path, built, builtPath);
  if (alternate) findings.push(alternate);
  const fetched: Certificate[] = [];
  if (opensslCode && opensslCode !== 'HOSTNAME_MISMATCH' && opensslCode !== 'ERR_TLS_CERT_ALTNAME_INVALID') {
    if (options.fetchMissing && analysis.missingIssuer?.caIssuersUrls.length && !analysis.endsInSelfSigned) {
      const url = analysis.missingIssuer.caIssuersUrls[0] as string;
      try {
        const got = await fetchIssuer(url, timeoutMs);
        fetched.push(...got);
        const retry = await probe({ ...probeOptions, ca: [...ca, ...got.map(toPem)] });
        const name = got[0]?.info.subjectCommonName ?? got[0]?.info.subject ?? 'the issuer';
        findings.push({
          code: 'INTERMEDIATE_FETCHED',
          severity: 'info',
          certificate: null,
          message: `fetched "${name}" from ${url}; with it the chain ${retry.authorized ? 'verifies' : `still fails (${retry.authorizationError})`}`,
          fix: retry.authorized
            ? 'the server must still send this intermediate itself: add it to its chain file'
            : 'the missing issuer is not enough; see the other findings',
        });
        if (retry.authorized) {
          // The verdict for the server stays: clients without AIA fetching (curl, Node, Java) fail.
          mergeFinding(findings, { ...explainVerifyCode(opensslCode, ctx), code: 'CHAIN_INCOMPLETE' });
        } else if (retry.authorizationError) {
          opensslCode = retry.authorizationError;
          mergeFinding(findings, explainVerifyCode(opensslCode, { ...ctx, chain: [...chain, ...got], analysis: analyzeChain([...chain, ...got]) }));
        }
      } catch (err) {
        const e = err as CertgateError;
        findings.push({
          code: 'CHAIN_INCOMPLETE',
          severity: 'error',
          certificate: null,
          message: `could not fetch the missing issuer: ${e.message}`,
          fix: e.fix ?? 'get the intermediate from the CA',
        });
        mergeFinding(findings, explainVerifyCode(opensslCode, ctx));
      }
    } else {
      mergeFinding(findings, explainVerifyCode(opensslCode, ctx));
    }
    trusted = false;
  }
  if (!leaf && !result.error) {
    findings.push({
      code: 'HANDSHAKE_FAILED',
      severity: 'error',
      certificate: null,
      message: 'the server sent no certificate',
      fix: 'configure a certificate on the server',
    });
  }
  if (result.error) trusted = false;
  return {
    target: { host, port, servername, address: result.address, starttls: options.starttls ?? null },
    status: statusOf(findings),
    findings: sortFindings(findings),
    tls:
      result.error && !result.protocol
        ? null
        : { protocol: result.protocol, cipher: result.cipher, alpn: result.alpn, handshakeMs: result.handshakeMs, chainSource: result.chainSource },
    verification: { trusted, hostnameMatches, opensslCode, opensslText: result.authorizationText, trust, builtPath },
    chain: entries(chain, analysis),
    fetched: entries(fetched, analyzeChain(fetched)),
  };
}

/** A port that accepted TCP and stayed silent through the TLS handshake: ask it what it speaks. */
async function silentPort(probeOptions: Parameters<typeof probe>[0], hostPort: string, timeoutMs: number, servername?: string): Promise<Finding> {
  const speaks = await identify(probeOptions).catch(() => null);
  const sni = servername ? ` --servername ${servername}` : '';
  const f = (code: Finding['code'], message: string, fix: string): Finding => ({ code, severity: 'error', certificate: null, message, fix });
  if (speaks?.use === '--starttls postgres')
    return f(
      'POSTGRES_NEEDS_STARTTLS',
      `${hostPort} is PostgreSQL, which negotiates TLS inside its own protocol`,
      `certgate inspect ${hostPort} --starttls postgres${sni}`,
    );
  if (speaks?.use === '')
    return f(
      'HANDSHAKE_FAILED',
      `${hostPort} speaks TLS but did not finish the handshake within ${timeoutMs} ms (a second try did)`,
      `raise --timeout (certgate inspect ${hostPort}${sni} --timeout ${timeoutMs * 3}); a slow handshake is often an overloaded server or a slow OCSP/CRL fetch on it`,
    );
  if (speaks?.what === 'plain HTTP')
    return f(
      'PLAIN_HTTP_PORT',
      `${hostPort} speaks plain HTTP (it answered an HTTP request, not the TLS hello)`,
      `inspect the https:// port instead (certgate inspect ${hostPort.replace(/:\d+$/, '')}:443${sni})`,
    );
  return f(
    'SILENT_PORT',
    `${hostPort} accepted the connection but answered nothing to the TLS hello for ${timeoutMs} ms, nor to a PostgreSQL SSLRequest or an HTTP request: it is not a TLS port, or it waits for a protocol of its own`,
    `check the port number of the TLS service; if it upgrades to TLS inside its protocol, pass --starttls postgres|mysql|smtp (certgate inspect ${hostPort} --starttls smtp${sni})`,
  );
}

function safeName(b64: string): string {
  try {
    return nameText(Buffer.from(b64, 'base64'));
  } catch {
    return '(an unreadable name)';
  }
}

function clientIssuer(pem: string): string | null {
  const b64 = /-----BEGIN CERTIFICATE-----([\s\S]+?)-----END CERTIFICATE-----/.exec(pem)?.[1];
  if (!b64) return null;
  try {
    return decodeCertificate(Buffer.from(b64.replace(/\s+/g, ''), 'base64')).info.issuer;
  } catch {
    return null;
  }
}

function namesOf(r: ProbeResult | null): string[] | undefined {
  const der = r?.chain[0];
  if (!der) return undefined;
  try {
    const info = decodeCertificate(der).info;
    const names = [...info.subjectAltNames.dns, ...info.subjectAltNames.ip];
    return names.length ? names : info.subjectCommonName ? [info.subjectCommonName] : undefined;
  } catch {
    return undefined;
  }
}

/**
 * A handshake that failed before any certificate: is it about SNI? With a name sent and the
 * alert unrecognized_name, a retry without SNI shows the names the server does serve. Without
 * a name sent, a retry with one that works (or fails differently) means the server needs SNI.
 */
async function sniFactsFor(
  result: ProbeResult,
  probeOptions: Parameters<typeof probe>[0],
  servername: string | null,
): Promise<{ sniSent: string | null; defaultNames?: string[]; sniRequired?: boolean }> {
  const err = result.error;
  if (!err) return { sniSent: servername };
  const unrecognized = result.alert === 'unrecognized name' || /UNRECOGNIZED_NAME/i.test(`${err.code} ${err.message}`);
  if (servername) {
    if (!unrecognized) return { sniSent: servername };
    const plain = await probe({ ...probeOptions, noSni: true }).catch(() => null);
    const names = namesOf(plain);
    return { sniSent: servername, ...(names ? { defaultNames: names } : {}) };
  }
  if (unrecognized) return { sniSent: null, sniRequired: true };
  if (!/HANDSHAKE_FAILURE|ECONNRESET|INTERNAL_ERROR|NO_SHARED_CIPHER|ALERT/i.test(`${err.code} ${err.message}`)) return { sniSent: null };
  const named = await probe({ ...probeOptions, servername: 'certgate-sni-probe.invalid' }).catch(() => null);
  if (!named || (named.error && named.error.code === err.code && named.alert === result.alert)) return { sniSent: null };
  const names = namesOf(named);
  return { sniSent: null, sniRequired: true, ...(names ? { defaultNames: names } : {}) };
}

/** Trust-store certificates by subject, decoded only when asked for (144 roots cost 57 ms to decode in full). */
function trustIndex(pems: readonly string[], now: Date): (issuerName: Uint8Array) => Certificate[] {
  let bySubject: Map<string, string[]> | null = null;
  const decoded = new Map<string, Certificate | null>();
  return (issuerName) => {
    if (!bySubject) {
      bySubject = new Map();
      for (const pem of pems) {
        const der = Buffer.from(pem.replace(/-----[^-]+-----|\s+/g, ''), 'base64');
        const subject = subjectNameDer(der);
        if (!subject) continue;
        const key = Buffer.from(subject).toString('hex');
        bySubject.set(key, [...(bySubject.get(key) ?? []), pem]);
      }
    }
    const out: Certificate[] = [];
    for (const pem of bySubject.get(Buffer.from(issuerName).toString('hex')) ?? []) {
      if (!decoded.has(pem)) {
        try {
          // A TRUSTED CERTIFICATE carries OpenSSL trust settings after the certificate: read the certificate only.
          const der = Buffer.from(pem.replace(/-----[^-]+-----|\s+/g, ''), 'base64');
          decoded.set(pem, decodeCertificate(der.subarray(0, readTlv(der, 0).end), now));
        } catch {
          decoded.set(pem, null);
        }
      }
      const c = decoded.get(pem);
      if (c) out.push(c);
    }
    return out;
  };
}

/**
 * When the chain as sent and the path OpenSSL built part ways (a cross-signed intermediate, a
 * root both sent and in the store under another issuer), says which path Node built and which
 * one a client with an older or different trust store builds from what was sent.
 */
function alternatePath(
  chain: readonly Certificate[],
  path: readonly number[],
  built: readonly Certificate[],
  builtPath: ReadonlyArray<number | string>,
): Finding | null {
  if (built.length < 2 || chain.length < 2) return null;
  const sameAsSent = path.every((idx, pos) => builtPath[pos] === idx);
  if (sameAsSent) return null;
  const name = (c: Certificate | undefined) => `"${c?.info.subjectCommonName ?? c?.info.subject}"`;
  const describe = (p: number | string) => (typeof p === 'number' ? `#${p}` : `"${p}" (trust store)`);
  const storeRoot = built[built.length - 1];
  const lastSent = chain[path[path.length - 1] as number];
  const sentEnd = lastSent?.info.selfSigned ? '' : ` → "${lastSent?.info.issuerCommonName ?? lastSent?.info.issuer}" (must be in the client's store)`;
  // A sent certificate with the store root's subject and key, issued by someone else: the cross-sign.
  const cross = path.find((i) => {
    const c = chain[i] as Certificate;
    return storeRoot && c.info.subject === storeRoot.info.subject && c.info.spkiSha256 === storeRoot.info.spkiSha256 && !c.info.selfSigned;
  });
  const builtText = builtPath.map(describe).join(' → ');
  const sentText = `${path.map((i) => `#${i}`).join(' → ')}${sentEnd}`;
  return {
    code: 'CHAIN_ALTERNATE_PATH',
    severity: 'info',
    certificate: cross ?? null,
    message:
      cross !== undefined
        ? `two paths: Node built ${builtText}; #${cross} is ${name(storeRoot)} cross-signed by "${chain[cross]?.info.issuerCommonName ?? chain[cross]?.info.issuer}", so a client whose store lacks ${name(storeRoot)} (an older one) builds ${sentText}`
        : `two paths: Node built ${builtText}; the chain as sent leads ${sentText}, which a client with a different trust store builds`,
    fix:
      cross !== undefined
        ? `keep #${cross} in the chain file while clients with old trust stores matter (they need "${chain[cross]?.info.issuerCommonName ?? chain[cross]?.info.issuer}" valid and trusted); drop it once they do not, so every client builds the short path`
        : 'nothing to change for this client; to make every client build the same path, send only the chain up to the root your clients trust',
  };
}

/**
 * OpenSSL's reconstruction ends with the root from the local trust store; the server did not
 * necessarily send it, so it is not shown as part of what the server sent.
 */
function withoutStoreRoot(chain: Buffer[], ca: readonly string[]): Buffer[] {
  const last = chain[chain.length - 1];
  if (chain.length < 2 || !last) return chain;
  const b64 = last.toString('base64');
  const inStore = ca.some((pem) => pem.replace(/-----[^-]+-----|\s+/g, '') === b64);
  return inStore ? chain.slice(0, -1) : chain;
}

const ORDER = { error: 0, warning: 1, info: 2 } as const;

function sortFindings(findings: Finding[]): Finding[] {
  return [...findings].sort((a, b) => ORDER[a.severity] - ORDER[b.severity]);
}
