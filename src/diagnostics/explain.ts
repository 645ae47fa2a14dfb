/**
 * @module diagnostics/explain
 * Turns OpenSSL's verification codes and Node's handshake errors into findings: the cause in
 * the operator's words, the certificate concerned, and the fix.
 */
import type { Certificate } from '../pki/certificate.ts';
import { type ChainAnalysis, isCertgateLocalCaName } from '../pki/chain.ts';
import type { Finding, FindingCode, Severity } from '../pki/findings.ts';
import { label } from '../pki/lint.ts';
import type { HandshakeError } from './probe.ts';

export interface ExplainContext {
  chain: readonly Certificate[];
  analysis: ChainAnalysis;
  /** The name the client checks (SNI or IP). */
  host: string;
  /** HOST:PORT as given, for commands in fixes. */
  target: string;
  /** How the trust set was made, e.g. "system roots + --ca corp.pem" or "only --ca bundle.pem". */
  trust: string;
  starttls?: string;
  /**
   * The files that are the whole trust set (`verify --ca BUNDLE`, like curl --cacert): a missing
   * CA goes into them, not into ca-certs, or the bundle under test still fails.
   */
  bundle?: readonly string[];
  /** --servername as the operator gave it (not the default taken from HOST). */
  servername?: string;
  clientCertGiven: boolean;
  clientCertRequested: boolean | null;
}

/**
 * The flags that reach this server again. A suggested command without them fails: a
 * PostgreSQL port without --starttls postgres never gets to TLS. `resources pin` takes the
 * protocol from the resource's kind, so it gets --servername only.
 */
export function reachFlags(ctx: Pick<ExplainContext, 'starttls' | 'servername'>, options: { starttls?: boolean } = {}): string {
  const starttls = options.starttls !== false && ctx.starttls ? ` --starttls ${ctx.starttls}` : '';
  return `${starttls}${ctx.servername ? ` --servername ${ctx.servername}` : ''}`;
}

function trustAddFrom(ctx: ExplainContext): string {
  return `certgate trust add --from ${ctx.target}${reachFlags(ctx)}`;
}

type Explainer = (ctx: ExplainContext) => { code: FindingCode; certificate: number | null; message: string; fix: string; severity?: Severity };

function lastOnPath(ctx: ExplainContext): number {
  return ctx.analysis.path[ctx.analysis.path.length - 1] ?? 0;
}

function bundleName(ctx: ExplainContext): string {
  const files = ctx.bundle ?? [];
  return files.length === 1 ? (files[0] as string) : `one of ${files.join(', ')}`;
}

/** Appending a sent certificate to the bundle under test: its PEM is in inspect's JSON. */
function appendSent(ctx: ExplainContext, idx: number): string {
  const file = ctx.bundle?.[0] ?? 'BUNDLE';
  return `certgate inspect ${ctx.target}${reachFlags(ctx)} --json | jq -r '.chain[${idx}].pem' >> ${file}`;
}

function issuerNote(ctx: ExplainContext): string {
  const url = ctx.analysis.missingIssuer?.caIssuersUrls[0];
  return url ? `; or add it from ${url}` : '';
}

/** How to trust certgate's local CA, which is never sent and has no AIA URL. */
export function trustLocalCa(bundle?: readonly string[]): string {
  return bundle?.length
    ? `add the local CA to ${bundle[0]}: certgate local-ca export >> ${bundle[0]} (on the machine that runs certgate serve)`
    : 'trust the local CA: certgate trust add "$(certgate local-ca path)" --yes on the machine that runs certgate serve; elsewhere, copy the output of certgate local-ca export (curl --cacert, NODE_EXTRA_CA_CERTS)';
}

const missingIssuer: Explainer = (ctx) => {
  const idx = lastOnPath(ctx);
  const missing = ctx.analysis.missingIssuer;
  const name = missing?.commonName ?? missing?.name ?? 'its issuer';
  const cert = ctx.chain[idx];
  if (missing && isCertgateLocalCaName(missing.name)) {
    return {
      code: 'UNTRUSTED_ROOT',
      certificate: idx,
      message: `#${idx} "${cert?.info.subjectCommonName ?? cert?.info.subject}" is issued by "${name}", certgate's local CA, which is not trusted here (${ctx.trust}); certgate serve sends the leaf alone`,
      fix: trustLocalCa(ctx.bundle),
    };
  }
  const isCa = cert?.info.basicConstraints?.ca === true;
  if (!isCa && ctx.analysis.path.length === 1) {
    return {
      code: 'CHAIN_INCOMPLETE',
      certificate: 0,
      message: `the server sent only its own certificate (#0); the issuer "${name}" is missing and not in the trust store (${ctx.trust})`,
      fix: `the server must send its intermediate: serve the full chain (certificate + intermediate)${issuerNote(ctx)}; if "${name}" is your own CA, ${
        ctx.bundle?.length ? `add it to ${bundleName(ctx)} (the bundle under test)` : 'add it to ca-certs (certgate trust add)'
      }`,
    };
  }
  if (ctx.bundle?.length) {
    const url = missing?.caIssuersUrls[0];
    return {
      code: 'UNTRUSTED_ROOT',
      certificate: idx,
      message: `the chain ends at #${idx} "${cert?.info.subjectCommonName ?? cert?.info.subject}", whose issuer "${name}" is not in ${bundleName(ctx)} (${ctx.trust})`,
      fix: `add the root "${name}" (the issuer of #${idx}, not #0 the server's own certificate) to ${bundleName(ctx)}: append its PEM to the file${url ? `; it is published at ${url}` : ''}`,
    };
  }
  return {
    code: 'UNTRUSTED_ROOT',
    certificate: idx,
    message: `the chain ends at #${idx} "${cert?.info.subjectCommonName ?? cert?.info.subject}", whose issuer "${name}" is not in the trust store (${ctx.trust})`,
    fix: `add the root "${name}" (the issuer of #${idx}, not #0 the server's own certificate) to ca-certs: ${trustAddFrom(ctx)}${issuerNote(ctx)}`,
  };
};

const untrustedRootInChain: Explainer = (ctx) => {
  const idx = lastOnPath(ctx);
  const cert = ctx.chain[idx];
  const name = cert?.info.subjectCommonName ?? cert?.info.subject ?? 'the root';
  if (ctx.bundle?.length) {
    return {
      code: 'UNTRUSTED_ROOT',
      certificate: idx,
      message: `certificate #${idx} "${name}" is a root CA that is not in ${bundleName(ctx)} (${ctx.trust})`,
      fix: `if "${name}" is your organisation's CA, add this one (#${idx}, not #0 the server's own) to ${bundleName(ctx)}: ${appendSent(ctx, idx)}`,
    };
  }
  return {
    code: 'UNTRUSTED_ROOT',
    certificate: idx,
    message: `certificate #${idx} "${name}" is a root CA that is not trusted here (${ctx.trust})`,
    fix: `if "${name}" is your organisation's CA, add this one (#${idx}, not #0 the server's own) to ca-certs: ${trustAddFrom(ctx)}`,
  };
};

const selfSignedLeaf: Explainer = (ctx) => ({
  code: 'SELF_SIGNED_LEAF',
  certificate: 0,
  message: `the server's certificate #0 "${ctx.chain[0]?.info.subjectCommonName ?? ctx.chain[0]?.info.subject}" is self-signed: no CA vouches for it`,
  fix: `pin it on this resource instead of adding it to ca-certs (certgate resources pin NAME --from ${ctx.target}${reachFlags(ctx, { starttls: false })}; sha256 ${ctx.chain[0]?.info.spkiSha256 ?? ''}); better, give the server a certificate from a CA (certgate local-ca)`,
});

const expired: Explainer = (ctx) => {
  const idx = ctx.chain.findIndex((c) => Date.parse(c.info.notAfter) < Date.now());
  const c = ctx.chain[Math.max(idx, 0)];
  return {
    code: 'CERT_EXPIRED',
    certificate: Math.max(idx, 0),
    message: `certificate ${c ? label(c, Math.max(idx, 0)) : '#0'} expired on ${c?.info.notAfter ?? 'an earlier date'}`,
    fix: "renew it and reload the server; if the dates look right, check this machine's clock",
  };
};

const notYetValid: Explainer = (ctx) => {
  const idx = ctx.chain.findIndex((c) => Date.parse(c.info.notBefore) > Date.now());
  const c = ctx.chain[Math.max(idx, 0)];
  return {
    code: 'CERT_NOT_YET_VALID',
    certificate: Math.max(idx, 0),
    message: `certificate ${c ? label(c, Math.max(idx, 0)) : '#0'} is not valid before ${c?.info.notBefore ?? 'a later date'}`,
    fix: `a clock is off: this machine reads ${new Date().toISOString()}; sync it (NTP), or reissue the certificate with a correct start date`,
  };
};

function simple(code: FindingCode, message: string, fix: string, certificate: number | null = 0): Explainer {
  return () => ({ code, certificate, message, fix });
}

/**
 * Every verification code Node reports in `authorizationError` (OpenSSL X509_V_ERR_* names).
 * Exported for the table test: each one must explain itself.
 */
export const VERIFY_CODES: Record<string, Explainer> = {
  UNABLE_TO_GET_ISSUER_CERT: missingIssuer,
  UNABLE_TO_GET_ISSUER_CERT_LOCALLY: missingIssuer,
  UNABLE_TO_VERIFY_LEAF_SIGNATURE: missingIssuer,
  SELF_SIGNED_CERT_IN_CHAIN: untrustedRootInChain,
  DEPTH_ZERO_SELF_SIGNED_CERT: selfSignedLeaf,
  CERT_HAS_EXPIRED: expired,
  CERT_NOT_YET_VALID: notYetValid,
  ERROR_IN_CERT_NOT_BEFORE_FIELD: simple(
    'VERIFY_FAILED',
    'a certificate has an unreadable notBefore date',
    'reissue the certificate; its validity field is malformed',
  ),
  ERROR_IN_CERT_NOT_AFTER_FIELD: simple(
    'VERIFY_FAILED',
    'a certificate has an unreadable notAfter date',
    'reissue the certificate; its validity field is malformed',
  ),
  UNABLE_TO_DECRYPT_CERT_SIGNATURE: simple(
    'SIGNATURE_INVALID',
    "a certificate signature could not be decrypted with its issuer's key",
    'the chain mixes certificates from different CAs or keys; serve the intermediate that really issued the certificate',
  ),
  UNABLE_TO_DECODE_ISSUER_PUBLIC_KEY: simple(
    'SIGNATURE_INVALID',
    "the issuer's public key could not be read",
    'replace the intermediate in the chain file with a fresh copy from the CA',
  ),
  CERT_SIGNATURE_FAILURE: simple(
    'SIGNATURE_INVALID',
    'a certificate signature does not verify: the certificate was altered or the chain holds the wrong intermediate',
    'serve the intermediate that really issued the server certificate (download it again from the CA)',
  ),
  CERT_CHAIN_TOO_LONG: simple(
    'CHAIN_TOO_LONG',
    'the chain is longer than the verification depth allows',
    'remove cross-signed or extra CA certificates from the chain file',
    null,
  ),
  CERT_REVOKED: simple('CERT_REVOKED', 'a certificate in the chain has been revoked by its CA', 'get a new certificate from the CA and reload the server'),
  INVALID_CA: (ctx) => {
    const bad = ctx.analysis.issuerNotCa[0];
    const idx = bad ? bad[1] : lastOnPath(ctx);
    const c = ctx.chain[idx];
    return {
      code: 'ISSUER_NOT_CA',
      certificate: idx,
      message: `certificate #${idx} "${c?.info.subjectCommonName ?? c?.info.subject}" is used as a CA but is not one (basicConstraints CA:FALSE or missing keyCertSign)`,
      fix: 'issue the server certificate from a real CA certificate (CA:TRUE, keyCertSign), e.g. certgate local-ca or your internal CA',
    };
  },
  PATH_LENGTH_EXCEEDED: simple(
    'PATH_LENGTH_EXCEEDED',
    'a CA in the chain allows fewer intermediates below it (pathLength) than the chain has',
    'issue the server certificate directly from an intermediate whose pathLength allows it',
    null,
  ),
  INVALID_PURPOSE: simple(
    'NOT_FOR_SERVER_AUTH',
    "the server's certificate (or a CA above it) is not allowed for TLS servers (extendedKeyUsage lacks serverAuth)",
    'reissue the certificate with extendedKeyUsage serverAuth',
  ),
  CERT_UNTRUSTED: simple(
    'UNTRUSTED_ROOT',
    'the root CA is not trusted for TLS server authentication',
    'add the right root CA to ca-certs (certgate trust add)',
    null,
  ),
  CERT_REJECTED: simple(
    'UNTRUSTED_ROOT',
    'the root CA is explicitly marked as rejected for this purpose',
    'use a root CA that is trusted for serverAuth',
    null,
  ),
  HOSTNAME_MISMATCH: (ctx) => hostnameExplainer(ctx),
  UNABLE_TO_GET_CRL: simple(
    'VERIFY_FAILED',
    'a revocation list (CRL) was required but could not be found',
    'disable CRL checking or make the CRL reachable',
    null,
  ),
  UNABLE_TO_DECRYPT_CRL_SIGNATURE: simple('VERIFY_FAILED', 'the CRL signature could not be decrypted', 'fetch the CRL again from the CA', null),
  CRL_SIGNATURE_FAILURE: simple('VERIFY_FAILED', 'the CRL signature does not verify', 'fetch the CRL again from the CA', null),
  CRL_NOT_YET_VALID: simple('VERIFY_FAILED', 'the CRL is not yet valid', 'check the clock of this machine', null),
  CRL_HAS_EXPIRED: simple('VERIFY_FAILED', 'the CRL has expired', 'fetch a current CRL from the CA', null),
  ERROR_IN_CRL_LAST_UPDATE_FIELD: simple('VERIFY_FAILED', 'the CRL has an unreadable lastUpdate date', 'fetch the CRL again from the CA', null),
  ERROR_IN_CRL_NEXT_UPDATE_FIELD: simple('VERIFY_FAILED', 'the CRL has an unreadable nextUpdate date', 'fetch the CRL again from the CA', null),
  OUT_OF_MEM: simple('VERIFY_FAILED', 'OpenSSL ran out of memory while verifying', 'retry; check the memory limits of this process', null),
  EE_KEY_TOO_SMALL: simple(
    'SECURITY_LEVEL',
    "the server's key is too small for OpenSSL's security level",
    'reissue the certificate with an ECDSA P-256 or RSA 2048+ key',
  ),
  CA_KEY_TOO_SMALL: simple(
    'SECURITY_LEVEL',
    "a CA key in the chain is too small for OpenSSL's security level",
    'use a CA with an RSA 2048+ or ECDSA key',
    null,
  ),
  CA_MD_TOO_WEAK: simple(
    'SECURITY_LEVEL',
    "a certificate in the chain is signed with a digest (SHA-1/MD5) that OpenSSL's security level refuses",
    'reissue the certificate signed with SHA-256',
    null,
  ),
  UNSPECIFIED: (ctx) => {
    // Node names only some X509_V_ERR codes; the security-level ones arrive as UNSPECIFIED.
    const weakKey = ctx.chain.findIndex((c) => ['RSA', 'RSA-PSS', 'DSA'].includes(c.info.publicKey.algorithm) && (c.info.publicKey.bits ?? 4096) < 2048);
    if (weakKey >= 0) {
      const c = ctx.chain[weakKey];
      return {
        code: 'SECURITY_LEVEL',
        certificate: weakKey,
        message: `OpenSSL's security level refused certificate #${weakKey} "${c?.info.subjectCommonName ?? c?.info.subject}": its ${c?.info.publicKey.bits}-bit key is too small`,
        fix: 'reissue it with an ECDSA P-256 or RSA 2048+ key',
      };
    }
    const weakSig = ctx.chain.findIndex((c) => c.info.kind !== 'root' && /sha1|md5|md2/i.test(c.info.signatureAlgorithm));
    if (weakSig >= 0) {
      return {
        code: 'SECURITY_LEVEL',
        certificate: weakSig,
        message: `OpenSSL's security level refused certificate #${weakSig}: it is signed with ${ctx.chain[weakSig]?.info.signatureAlgorithm}`,
        fix: 'reissue it signed with SHA-256',
      };
    }
    return {
      code: 'VERIFY_FAILED',
      certificate: null,
      message: 'OpenSSL refused the chain for a reason Node does not name',
      fix: 'run certgate decode on the chain; the lints usually name the cause',
    };
  },
};

function hostnameExplainer(ctx: ExplainContext): ReturnType<Explainer> {
  const leaf = ctx.chain[0];
  const sans = leaf ? [...leaf.info.subjectAltNames.dns, ...leaf.info.subjectAltNames.ip] : [];
  const names = sans.length ? sans.join(', ') : `no subjectAltName (CN ${leaf?.info.subjectCommonName ?? 'absent'})`;
  return {
    code: 'HOSTNAME_MISMATCH',
    certificate: 0,
    message: `the certificate is for ${names}, not for "${ctx.host}"`,
    fix: sans.length
      ? `connect with one of those names (certgate inspect ${ctx.target}${ctx.starttls ? ` --starttls ${ctx.starttls}` : ''} --servername ${sans[0]}), or reissue the certificate to include ${ctx.host}`
      : `reissue the certificate with subjectAltName DNS:${ctx.host}`,
  };
}

export function explainHostname(ctx: ExplainContext): Finding {
  return { ...hostnameExplainer(ctx), severity: 'error' };
}

export function explainVerifyCode(code: string, ctx: ExplainContext): Finding {
  const explainer = VERIFY_CODES[code];
  if (!explainer) {
    return {
      code: 'VERIFY_FAILED',
      severity: 'error',
      certificate: null,
      message: `verification failed: ${code}`,
      fix: 'run certgate decode on the chain and look at the lints; report this code to certgate if it is not explained',
    };
  }
  const out = explainer(ctx);
  return { severity: 'error', ...out };
}

/** Node error codes seen when a handshake fails, each mapped to its meaning. */
export function explainHandshakeError(
  err: HandshakeError,
  ctx: Pick<ExplainContext, 'host' | 'starttls' | 'clientCertGiven' | 'clientCertRequested'>,
): Finding {
  const code = err.code;
  const text = `${code} ${err.message}`;
  const preview = err.plaintextPreview ?? '';
  const f = (c: FindingCode, message: string, fix: string): Finding => ({ code: c, severity: 'error', certificate: null, message, fix });
  if (/WRONG_VERSION_NUMBER|PACKET_LENGTH_TOO_LONG|HTTP_REQUEST|UNKNOWN_PROTOCOL|record layer failure/i.test(text) || (preview && !/^\.{3}/.test(preview))) {
    let what = 'plain text, not TLS';
    let fix = 'connect to the TLS port instead (443 for HTTPS), or enable TLS on this one';
    if (/^HTTP\//.test(preview)) {
      what = 'plain HTTP';
      fix = 'this is the http:// port; use the https:// port (usually 443) or put certgate serve in front of it';
    } else if (/^SSH-/.test(preview)) {
      what = 'SSH';
      fix = 'this is an SSH port, not a TLS service';
    } else if (/^220[ -]/.test(preview)) {
      what = 'SMTP';
      fix = 'this mail port upgrades with STARTTLS: add --starttls smtp';
    } else if (/^\.\.\.\.\n/.test(preview) || /mysql|mariadb/i.test(preview)) {
      what = 'the MySQL protocol';
      fix = 'MySQL negotiates TLS inside its own protocol: add --starttls mysql';
    } else if (/^E/.test(preview) && /SFATAL|unsupported frontend protocol/.test(preview)) {
      what = 'the PostgreSQL protocol';
      fix = 'PostgreSQL negotiates TLS inside its own protocol: add --starttls postgres';
    }
    return f('PLAINTEXT_PORT', `${ctx.host} answered with ${what} (${code})${preview ? `: "${preview.slice(0, 40)}"` : ''}`, fix);
  }
  if (/CERTIFICATE_REQUIRED/i.test(text) || (!ctx.clientCertGiven && ctx.clientCertRequested && /HANDSHAKE_FAILURE|ECONNRESET|BAD_CERTIFICATE/i.test(text))) {
    return f(
      'CLIENT_CERT_REQUIRED',
      'the server requires a client certificate (mutual TLS) and none was sent',
      "pass --client-cert FILE --client-key FILE with a certificate the server's CA issued",
    );
  }
  if (ctx.clientCertGiven && ctx.clientCertRequested && code === 'ECONNRESET') {
    return f(
      'CLIENT_CERT_REJECTED',
      'the server asked for a client certificate, got one, and hung up: it rejected the certificate',
      'use a client certificate issued by the CA the server trusts, valid now, with extendedKeyUsage clientAuth',
    );
  }
  if (
    ctx.clientCertGiven &&
    /BAD_CERTIFICATE|UNKNOWN_CA|UNSUPPORTED_CERTIFICATE|CERTIFICATE_UNKNOWN|CERTIFICATE_EXPIRED|CERTIFICATE_REVOKED|ACCESS_DENIED/i.test(text)
  ) {
    return f(
      'CLIENT_CERT_REJECTED',
      `the server rejected the client certificate (${code})`,
      'use a client certificate issued by the CA the server trusts, valid now, with extendedKeyUsage clientAuth',
    );
  }
  if (/EE_KEY_TOO_SMALL|CA_KEY_TOO_SMALL|CA_MD_TOO_WEAK|DH_KEY_TOO_SMALL|KEY_TOO_SMALL|MD_TOO_WEAK/i.test(text)) {
    return f(
      'SECURITY_LEVEL',
      `OpenSSL's security level refused the server's key or signature (${code})`,
      'reissue the server certificate with an ECDSA P-256 or RSA 2048+ key signed with SHA-256',
    );
  }
  if (/UNSUPPORTED_PROTOCOL|PROTOCOL_VERSION|NO_PROTOCOLS_AVAILABLE|VERSION_TOO_LOW/i.test(text)) {
    return f(
      'PROTOCOL_MISMATCH',
      `the server and this client share no TLS version (${code}); the server probably offers only TLS 1.0/1.1`,
      'enable TLS 1.2 and 1.3 on the server; TLS 1.0 and 1.1 are disabled in every current client',
    );
  }
  if (/UNRECOGNIZED_NAME/i.test(text)) {
    return f('HANDSHAKE_FAILED', `the server does not know the name "${ctx.host}" (SNI)`, 'use the name the server is configured for (--servername NAME)');
  }
  if (/HANDSHAKE_FAILURE|NO_SHARED_CIPHER|INSUFFICIENT_SECURITY/i.test(text)) {
    return f(
      'HANDSHAKE_FAILED',
      `the server ended the handshake (${code}): no common cipher or signature algorithm, or it wants something this client did not send`,
      "check the server's TLS settings (ciphers, protocols); try --servername if it hosts several names",
    );
  }
  if (code === 'ECONNRESET') {
    return f(
      'HANDSHAKE_FAILED',
      'the server closed the connection during the TLS handshake',
      ctx.starttls
        ? 'the server dropped TLS after STARTTLS; check its TLS configuration and log'
        : 'the port may not speak TLS, or the server requires SNI (--servername) or a client certificate',
    );
  }
  return f('HANDSHAKE_FAILED', `the TLS handshake failed: ${err.message} (${code})`, "check the server's TLS configuration and its log");
}
