/**
 * @module diagnostics/explain
 * Turns OpenSSL's verification codes and Node's handshake errors into findings: the cause in
 * the operator's words, the certificate concerned, and the fix.
 */
import type { Certificate } from '../pki/certificate.ts';
import { type ChainAnalysis, isCertgateLocalCaName } from '../pki/chain.ts';
import type { Finding, FindingCode, Severity } from '../pki/findings.ts';
import { label } from '../pki/lint.ts';
import type { PathDefect } from '../pki/path.ts';
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
  /** Defects of the path found by decoding the chain (pki/path): which certificate, which extension. */
  defects?: readonly PathDefect[];
  /** OpenSSL's own words for the failure (Node's code is often UNSPECIFIED). */
  opensslText?: string;
  /** The trust set holds TRUSTED CERTIFICATE entries (OpenSSL trust settings that may reject a purpose). */
  trustSettings?: boolean;
  /** The trust anchor OpenSSL took from the store when the server did not send it; index chain.length in defects. */
  anchor?: Certificate | null;
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
  // The server sent a CA with the issuer's name but another key: a re-keyed intermediate, not a missing one.
  const namesake = missing ? ctx.chain.findIndex((c, i) => !ctx.analysis.path.includes(i) && c.info.subject === missing.name) : -1;
  if (missing && namesake >= 0) {
    const other = ctx.chain[namesake];
    return {
      code: 'AKI_SKI_MISMATCH',
      certificate: namesake,
      message: `#${namesake} "${name}" has the right name but not the key that signed #${idx}: #${idx} names the issuer key ${missing.authorityKeyId ?? '(no authorityKeyIdentifier)'}, #${namesake} has ${other?.info.subjectKeyId ?? 'another key'} (a re-keyed or renewed intermediate)`,
      fix: `serve the intermediate "${name}" whose subjectKeyIdentifier is ${missing.authorityKeyId ?? 'the key that signed the certificate'}${issuerNote(ctx)}; replace #${namesake} in the chain file (or reissue the server certificate from the new intermediate)`,
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

/** "#1 "Corp Intermediate"" or, past the sent chain, the trust anchor from the store. */
export function whichCertificate(ctx: Pick<ExplainContext, 'chain'> & { anchor?: Certificate | null }, idx: number): string {
  const c = ctx.chain[idx];
  if (c) return `#${idx} "${c.info.subjectCommonName ?? c.info.subject}"`;
  const a = ctx.anchor;
  return a ? `the trust-store root "${a.info.subjectCommonName ?? a.info.subject}" (not sent by the server)` : `#${idx}`;
}

/**
 * An explainer that names the certificate and extension from the chain's own analysis
 * (pki/path), with OpenSSL's words as the fallback when the analysis found nothing.
 */
function fromDefect(code: FindingCode, cause: string, fix: string | ((d: PathDefect | undefined, ctx: ExplainContext) => string), openssl?: string): Explainer {
  return (ctx) => {
    const d = ctx.defects?.find((x) => x.openssl === openssl) ?? (openssl ? undefined : ctx.defects?.[0]);
    const text = typeof fix === 'function' ? fix(d, ctx) : fix;
    if (!d) return { code, certificate: null, message: cause, fix: text };
    return { code, certificate: d.certificate, message: `${cause}: ${d.detail} (${d.field})`, fix: text };
  };
}

/** Explainers keyed by OpenSSL code name; filled with one per X509_V_ERR_* below. */
function byDefect(name: string, code: FindingCode, cause: string, fix: string | ((d: PathDefect | undefined, ctx: ExplainContext) => string)): Explainer {
  return fromDefect(code, cause, fix, name);
}

const REVOCATION_FIX =
  'certgate does not ask for CRLs itself: this comes from a client that checks revocation (CRL or OCSP); make the CA publish a current CRL at the URL in cRLDistributionPoints, or turn revocation checking off in that client';
const STRICT_NOTE = 'only strict verifiers report this (openssl verify -x509_strict, Python 3.13+ with VERIFY_X509_STRICT, Go since 1.23 for some)';

/**
 * Every verification code OpenSSL 3 can report (X509_V_ERR_* names, as Node spells them).
 * Node names 28 of them; the others arrive as UNSPECIFIED with OpenSSL's text, which
 * inspect turns back into the name (pki/x509-errors). Exported for the table test: each
 * one must explain itself.
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
    'CERT_MALFORMED',
    'a certificate has an unreadable notBefore date',
    'reissue the certificate; its validity field is malformed (UTCTime must end in Z, GeneralizedTime only after 2049)',
    null,
  ),
  ERROR_IN_CERT_NOT_AFTER_FIELD: simple(
    'CERT_MALFORMED',
    'a certificate has an unreadable notAfter date',
    'reissue the certificate; its validity field is malformed (UTCTime must end in Z, GeneralizedTime only after 2049)',
    null,
  ),
  UNABLE_TO_DECRYPT_CERT_SIGNATURE: fromDefect(
    'SIGNATURE_INVALID',
    "a certificate's signature could not be decrypted with its issuer's key",
    'the chain mixes certificates from different CAs or keys; serve the intermediate that really issued the certificate',
    'CERT_SIGNATURE_FAILURE',
  ),
  UNABLE_TO_DECODE_ISSUER_PUBLIC_KEY: simple(
    'SIGNATURE_INVALID',
    "the issuer's public key could not be read",
    'replace the intermediate in the chain file with a fresh copy from the CA',
    null,
  ),
  NO_ISSUER_PUBLIC_KEY: simple(
    'SIGNATURE_INVALID',
    'the issuer certificate has no public key OpenSSL can use',
    'replace the intermediate with a fresh copy from the CA',
    null,
  ),
  CERT_SIGNATURE_FAILURE: fromDefect(
    'SIGNATURE_INVALID',
    'a certificate signature does not verify: the certificate was altered or the chain holds the wrong intermediate',
    'serve the intermediate that really issued the server certificate (download it again from the CA)',
    'CERT_SIGNATURE_FAILURE',
  ),
  CERT_CHAIN_TOO_LONG: simple(
    'CHAIN_TOO_LONG',
    'the chain is longer than the verification depth allows',
    'remove cross-signed or extra CA certificates from the chain file',
    null,
  ),
  CERT_REVOKED: simple('CERT_REVOKED', 'a certificate in the chain has been revoked by its CA', 'get a new certificate from the CA and reload the server'),
  INVALID_CA: (ctx) => {
    const d = ctx.defects?.find((x) => x.openssl === 'INVALID_CA' || x.openssl === 'KEYUSAGE_NO_CERTSIGN');
    const bad = ctx.analysis.issuerNotCa[0];
    const idx = d?.certificate ?? (bad ? bad[1] : lastOnPath(ctx));
    if (d?.openssl === 'KEYUSAGE_NO_CERTSIGN') return { ...(VERIFY_CODES.KEYUSAGE_NO_CERTSIGN as Explainer)(ctx), certificate: idx };
    return {
      code: 'ISSUER_NOT_CA',
      certificate: idx,
      message: d
        ? `${whichCertificate(ctx, idx)} is used as a CA but is not one: ${d.detail} (${d.field})`
        : `certificate ${whichCertificate(ctx, idx)} is used as a CA but is not one (basicConstraints CA:FALSE or missing keyCertSign)`,
      fix: 'issue the server certificate from a real CA certificate (basicConstraints critical, CA:TRUE; keyUsage keyCertSign), e.g. certgate local-ca or your internal CA',
    };
  },
  PATH_LENGTH_EXCEEDED: byDefect(
    'PATH_LENGTH_EXCEEDED',
    'PATH_LENGTH_EXCEEDED',
    'a CA allows fewer CAs below it (basicConstraints pathlen) than the chain has',
    (d, ctx) =>
      d
        ? `issue the server certificate directly from ${whichCertificate(ctx, d.certificate)} (or from a CA it allows), or reissue ${whichCertificate(ctx, d.certificate)} with a larger pathlen`
        : 'issue the server certificate directly from an intermediate whose pathlen allows it',
  ),
  INVALID_PURPOSE: (ctx) => {
    const d = ctx.defects?.find((x) => x.openssl === 'INVALID_PURPOSE');
    // OpenSSL checks a CA's purpose too: a CA:FALSE issuer fails as "unsuitable certificate purpose".
    const notCa = ctx.defects?.find((x) => x.openssl === 'INVALID_CA' || x.openssl === 'KEYUSAGE_NO_CERTSIGN');
    if (!d && notCa) return (VERIFY_CODES.INVALID_CA as Explainer)(ctx);
    if (d?.field === 'keyUsage') {
      return {
        code: 'KEY_USAGE_NOT_FOR_SERVER',
        certificate: d.certificate,
        message: `the certificate's keyUsage does not allow a TLS server: ${d.detail}`,
        fix: `reissue ${whichCertificate(ctx, d.certificate)} with keyUsage digitalSignature (and keyEncipherment for RSA); its extendedKeyUsage is not the problem`,
      };
    }
    if (d && d.certificate !== 0) {
      return {
        code: 'NOT_FOR_SERVER_AUTH',
        certificate: d.certificate,
        message: `a CA above the server limits what it may issue: ${d.detail} (extendedKeyUsage)`,
        fix: `reissue ${whichCertificate(ctx, d.certificate)} with extendedKeyUsage serverAuth (or without extendedKeyUsage), or get the server certificate from a CA allowed to issue for TLS servers`,
      };
    }
    if (!d && ctx.defects) {
      // No extension in the chain explains it: OpenSSL trust settings on the anchor do (TRUSTED CERTIFICATE).
      return {
        code: 'UNTRUSTED_ROOT',
        certificate: null,
        message: `OpenSSL found the chain unsuitable for a TLS server ("unsuitable certificate purpose"), and no keyUsage, extendedKeyUsage or basicConstraints in it explains that${ctx.trustSettings ? '; the trust set holds TRUSTED CERTIFICATE entries, whose OpenSSL trust settings can reject serverAuth for a root' : ''}`,
        fix: ctx.trustSettings
          ? 'give the root as a plain certificate (openssl x509 -in ROOT.pem -out root-plain.pem drops the trust settings), or allow it for servers (openssl x509 -in ROOT.pem -addtrust serverAuth -trustout)'
          : 'check the trust settings of the root in the trust store (openssl x509 -in ROOT.pem -noout -text shows "Trusted Uses"/"Rejected Uses")',
      };
    }
    return {
      code: 'NOT_FOR_SERVER_AUTH',
      certificate: d?.certificate ?? 0,
      message: d
        ? `the server's certificate is not for TLS servers: ${d.detail} (extendedKeyUsage)`
        : "the server's certificate (or a CA above it) is not allowed for TLS servers (extendedKeyUsage lacks serverAuth)",
      fix: 'reissue the certificate with extendedKeyUsage serverAuth',
    };
  },
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
  EMAIL_MISMATCH: simple('HOSTNAME_MISMATCH', 'the certificate is not for the email address the client checks', 'reissue it with subjectAltName email:ADDRESS'),
  IP_ADDRESS_MISMATCH: (ctx) => hostnameExplainer(ctx),
  UNABLE_TO_GET_CRL: simple('REVOCATION_CHECK_FAILED', 'a revocation list (CRL) was required but could not be found', REVOCATION_FIX, null),
  UNABLE_TO_DECRYPT_CRL_SIGNATURE: simple('REVOCATION_CHECK_FAILED', 'the CRL signature could not be decrypted', 'fetch the CRL again from the CA', null),
  CRL_SIGNATURE_FAILURE: simple(
    'REVOCATION_CHECK_FAILED',
    'the CRL signature does not verify',
    'fetch the CRL again from the CA; it must be signed by the CA that issued the certificate',
    null,
  ),
  CRL_NOT_YET_VALID: simple('REVOCATION_CHECK_FAILED', 'the CRL is not yet valid (lastUpdate in the future)', "check this machine's clock (NTP)", null),
  CRL_HAS_EXPIRED: simple('REVOCATION_CHECK_FAILED', 'the CRL has expired (nextUpdate passed)', 'the CA must publish a fresh CRL; fetch the current one', null),
  ERROR_IN_CRL_LAST_UPDATE_FIELD: simple('REVOCATION_CHECK_FAILED', 'the CRL has an unreadable lastUpdate date', 'fetch the CRL again from the CA', null),
  ERROR_IN_CRL_NEXT_UPDATE_FIELD: simple('REVOCATION_CHECK_FAILED', 'the CRL has an unreadable nextUpdate date', 'fetch the CRL again from the CA', null),
  UNABLE_TO_GET_CRL_ISSUER: simple('REVOCATION_CHECK_FAILED', 'the issuer of an indirect CRL could not be found', REVOCATION_FIX, null),
  KEYUSAGE_NO_CRL_SIGN: simple(
    'REVOCATION_CHECK_FAILED',
    "the CRL's signer has keyUsage without cRLSign",
    'reissue the CA certificate with keyUsage keyCertSign, cRLSign',
    null,
  ),
  UNHANDLED_CRITICAL_CRL_EXTENSION: simple(
    'REVOCATION_CHECK_FAILED',
    'the CRL carries a critical extension OpenSSL does not know',
    'ask the CA for a CRL without it, or turn CRL checking off',
    null,
  ),
  DIFFERENT_CRL_SCOPE: simple(
    'REVOCATION_CHECK_FAILED',
    'the CRL found does not cover this certificate (different scope)',
    'publish a CRL whose issuingDistributionPoint covers the certificate',
    null,
  ),
  CRL_PATH_VALIDATION_ERROR: simple(
    'REVOCATION_CHECK_FAILED',
    "the CRL signer's own chain does not verify",
    'fix the chain of the CRL signer (same checks as for the server chain)',
    null,
  ),
  OCSP_VERIFY_NEEDED: simple(
    'REVOCATION_CHECK_FAILED',
    'the client requires an OCSP check and has no OCSP answer',
    'enable OCSP stapling on the server, or let the client reach the OCSP responder',
    null,
  ),
  OCSP_VERIFY_FAILED: simple('REVOCATION_CHECK_FAILED', 'the OCSP answer does not verify', 'check the OCSP responder and its signing certificate', null),
  OCSP_CERT_UNKNOWN: simple(
    'REVOCATION_CHECK_FAILED',
    'the OCSP responder does not know the certificate',
    'check that the certificate was issued by the CA the responder serves',
    null,
  ),
  OUT_OF_MEM: simple('VERIFY_FAILED', 'OpenSSL ran out of memory while verifying', 'retry; check the memory limits of this process', null),
  INVALID_CALL: simple(
    'VERIFY_FAILED',
    'the verification context was not set up (OpenSSL internal error)',
    'report this to certgate with the chain (certgate inspect --json)',
    null,
  ),
  STORE_LOOKUP: simple(
    'VERIFY_FAILED',
    'looking up an issuer in the trust store failed',
    'check that the CA files and directories of the trust store are readable',
    null,
  ),
  APPLICATION_VERIFICATION: simple(
    'VERIFY_FAILED',
    "the application's own check rejected the chain",
    "see the application's log; certgate adds no extra check",
    null,
  ),
  EE_KEY_TOO_SMALL: byDefect(
    'EE_KEY_TOO_SMALL',
    'SECURITY_LEVEL',
    "the server's key is too small for OpenSSL's security level",
    'reissue the certificate with an ECDSA P-256 or RSA 2048+ key',
  ),
  CA_KEY_TOO_SMALL: byDefect(
    'CA_KEY_TOO_SMALL',
    'SECURITY_LEVEL',
    "a CA key in the chain is too small for OpenSSL's security level",
    'use a CA with an RSA 2048+ or ECDSA key',
  ),
  CA_MD_TOO_WEAK: byDefect(
    'CA_MD_TOO_WEAK',
    'SECURITY_LEVEL',
    "a certificate in the chain is signed with a digest (SHA-1/MD5) that OpenSSL's security level refuses",
    (d, ctx) => `reissue ${d ? whichCertificate(ctx, d.certificate) : 'it'} signed with SHA-256`,
  ),
  SUBJECT_ISSUER_MISMATCH: byDefect(
    'SUBJECT_ISSUER_MISMATCH',
    'AKI_SKI_MISMATCH',
    "a certificate's issuer name is not its issuer's subject name",
    'serve the intermediate that really issued the certificate',
  ),
  AKID_SKID_MISMATCH: byDefect(
    'AKID_SKID_MISMATCH',
    'AKI_SKI_MISMATCH',
    "a certificate's authorityKeyIdentifier names a key other than its issuer's subjectKeyIdentifier: the intermediate was re-keyed",
    'serve the intermediate with the key the certificate was signed by (the CA publishes the current one; an old chain file is the usual cause)',
  ),
  AKID_ISSUER_SERIAL_MISMATCH: simple(
    'AKI_SKI_MISMATCH',
    "the authorityKeyIdentifier names an issuer serial number that is not the issuer's",
    'serve the intermediate that really issued the certificate',
    null,
  ),
  KEYUSAGE_NO_CERTSIGN: byDefect(
    'KEYUSAGE_NO_CERTSIGN',
    'CA_WITHOUT_KEYCERTSIGN',
    'a CA that signed a certificate has keyUsage without keyCertSign',
    (d, ctx) =>
      `reissue ${d ? whichCertificate(ctx, d.certificate) : 'the CA certificate'} with keyUsage keyCertSign, cRLSign (basicConstraints is not the problem)`,
  ),
  UNHANDLED_CRITICAL_EXTENSION: byDefect(
    'UNHANDLED_CRITICAL_EXTENSION',
    'UNKNOWN_CRITICAL_EXTENSION',
    'a certificate carries an extension marked critical that the client does not understand, so it must refuse the certificate',
    (d, ctx) =>
      d
        ? `reissue ${whichCertificate(ctx, d.certificate)} without ${d.field} or with it not critical (openssl x509 -extfile: drop "critical," from that line)`
        : 'reissue the certificate without the unknown critical extension (openssl x509 -text shows which are critical)',
  ),
  INVALID_NON_CA: byDefect(
    'INVALID_NON_CA',
    'EXTENSION_INVALID',
    'a certificate that is not a CA carries CA markings (keyUsage keyCertSign without basicConstraints CA:TRUE)',
    'reissue it without keyCertSign, or as a CA with basicConstraints critical, CA:TRUE',
  ),
  PROXY_PATH_LENGTH_EXCEEDED: simple(
    'PROXY_CERTIFICATE',
    'a proxy certificate chain is longer than its pCPathLenConstraint',
    'issue proxy certificates within the allowed depth',
    null,
  ),
  PROXY_CERTIFICATES_NOT_ALLOWED: simple(
    'PROXY_CERTIFICATE',
    'the chain holds an RFC 3820 proxy certificate, which TLS clients do not accept',
    'use an ordinary end-entity certificate',
    null,
  ),
  PROXY_SUBJECT_NAME_VIOLATION: simple(
    'PROXY_CERTIFICATE',
    "a proxy certificate's subject does not extend its issuer's",
    'issue the proxy certificate with its issuer subject plus one CN',
    null,
  ),
  KEYUSAGE_NO_DIGITAL_SIGNATURE: byDefect(
    'INVALID_PURPOSE',
    'KEY_USAGE_NOT_FOR_SERVER',
    'a certificate that must sign has keyUsage without digitalSignature',
    (d, ctx) => `reissue ${d ? whichCertificate(ctx, d.certificate) : 'it'} with keyUsage digitalSignature`,
  ),
  INVALID_EXTENSION: byDefect(
    'INVALID_EXTENSION',
    'EXTENSION_INVALID',
    'a certificate extension is malformed or contradicts another',
    'reissue the certificate; openssl x509 -text shows the extension OpenSSL cannot read',
  ),
  INVALID_POLICY_EXTENSION: simple(
    'POLICY_REQUIRED',
    'a certificatePolicies, policyMappings or policyConstraints extension is malformed or inconsistent',
    'reissue the CA or server certificate with valid policy extensions',
    null,
  ),
  NO_EXPLICIT_POLICY: byDefect(
    'NO_EXPLICIT_POLICY',
    'POLICY_REQUIRED',
    'a CA requires an explicit certificate policy (policyConstraints requireExplicitPolicy) that the certificates below it do not carry',
    (d, ctx) =>
      d
        ? `reissue ${whichCertificate(ctx, d.certificate)} with the CA's certificatePolicies (e.g. certificatePolicies=2.23.140.1.2.1), or drop requireExplicitPolicy from the CA`
        : 'give the certificates below the CA the policies it requires',
  ),
  UNSUPPORTED_EXTENSION_FEATURE: simple(
    'EXTENSION_INVALID',
    'a certificate uses an extension feature OpenSSL does not support (e.g. a delta CRL or indirect CRL option)',
    'reissue it without that feature',
    null,
  ),
  UNNESTED_RESOURCE: simple(
    'EXTENSION_INVALID',
    "an RFC 3779 IP/AS resource extension is not within its issuer's resources",
    "reissue it with resources inside its issuer's",
    null,
  ),
  PERMITTED_VIOLATION: byDefect(
    'PERMITTED_VIOLATION',
    'NAME_CONSTRAINTS_VIOLATION',
    "a certificate names a host outside the CA's permitted subtrees (nameConstraints)",
    (d, ctx) =>
      d
        ? `reissue ${whichCertificate(ctx, d.certificate)} only for names the CA permits, or have the CA's nameConstraints widened to include this name`
        : "reissue the certificate for names inside the CA's nameConstraints",
  ),
  EXCLUDED_VIOLATION: byDefect(
    'EXCLUDED_VIOLATION',
    'NAME_CONSTRAINTS_VIOLATION',
    'a certificate names a host in a subtree the CA excludes (nameConstraints)',
    (d, ctx) => `reissue ${d ? whichCertificate(ctx, d.certificate) : 'the certificate'} without the excluded name, or from a CA without that exclusion`,
  ),
  SUBTREE_MINMAX: simple(
    'NAME_CONSTRAINTS_VIOLATION',
    'a CA uses nameConstraints minimum/maximum, which OpenSSL does not support',
    'reissue the CA certificate without minimum/maximum in nameConstraints',
    null,
  ),
  UNSUPPORTED_CONSTRAINT_TYPE: simple(
    'NAME_CONSTRAINTS_VIOLATION',
    'a CA constrains a name type OpenSSL does not support (nameConstraints)',
    'reissue the CA with DNS, IP, email, URI or DirName constraints only',
    null,
  ),
  UNSUPPORTED_CONSTRAINT_SYNTAX: simple(
    'NAME_CONSTRAINTS_VIOLATION',
    "a CA's nameConstraints are malformed",
    'reissue the CA certificate with valid nameConstraints',
    null,
  ),
  UNSUPPORTED_NAME_SYNTAX: simple(
    'NAME_CONSTRAINTS_VIOLATION',
    'a name the CA constrains is malformed in the certificate (a SAN OpenSSL cannot read)',
    'reissue the certificate with well-formed subjectAltNames',
    0,
  ),
  PATH_LOOP: simple(
    'CHAIN_LOOP',
    'the chain loops (certificates issue each other)',
    'serve the chain leaf → intermediate(s) only; remove cross-signed pairs that point at each other',
    null,
  ),
  SUITE_B_INVALID_VERSION: simple('SUITE_B', 'Suite B mode: a certificate is not X.509 v3', 'reissue it as v3, or turn Suite B mode off in the client', null),
  SUITE_B_INVALID_ALGORITHM: simple(
    'SUITE_B',
    'Suite B mode: a certificate key is not ECDSA P-256/P-384',
    'reissue with an ECDSA P-256 or P-384 key, or turn Suite B mode off',
    null,
  ),
  SUITE_B_INVALID_CURVE: simple('SUITE_B', 'Suite B mode: a certificate key is on a curve other than P-256/P-384', 'reissue with P-256 or P-384', null),
  SUITE_B_INVALID_SIGNATURE_ALGORITHM: simple(
    'SUITE_B',
    'Suite B mode: a signature is not ECDSA with SHA-256/SHA-384',
    'reissue signed with ecdsa-with-SHA256 or -SHA384',
    null,
  ),
  SUITE_B_LOS_NOT_ALLOWED: simple('SUITE_B', 'Suite B mode: the curve is not allowed at this level of security', 'use P-384 for the 192-bit level', null),
  SUITE_B_CANNOT_SIGN_P_384_WITH_P_256: simple(
    'SUITE_B',
    'Suite B mode: a P-256 CA signed a P-384 certificate',
    'sign P-384 certificates with a P-384 CA',
    null,
  ),
  DANE_NO_MATCH: simple(
    'DANE_MISMATCH',
    'no certificate in the chain matches the DANE TLSA records',
    'publish TLSA records for the current certificate or key (3 1 1 = SHA-256 of the SPKI)',
    null,
  ),
  NO_VALID_SCTS: simple(
    'SCT_MISSING',
    'the client requires Certificate Transparency and the certificate has no valid SCTs',
    'use a certificate from a public CA that logs to CT (SCTs embedded), or turn the CT requirement off for a private CA',
    0,
  ),
  UNSUPPORTED_SIGNATURE_ALGORITHM: (ctx) => {
    const idx = ctx.chain.findIndex((c) => /^\d+(\.\d+)+$/.test(c.info.signatureAlgorithm));
    return {
      code: 'SIGNATURE_ALGORITHM',
      certificate: idx >= 0 ? idx : null,
      message: `${idx >= 0 ? `${whichCertificate(ctx, idx)} is signed with ${ctx.chain[idx]?.info.signatureAlgorithm}, ` : ''}a signature algorithm this OpenSSL does not know`,
      fix: 'reissue it signed with sha256WithRSAEncryption or ecdsa-with-SHA256',
    };
  },
  SIGNATURE_ALGORITHM_MISMATCH: simple(
    'SIGNATURE_ALGORITHM',
    "a certificate's signature algorithm does not fit its issuer's key type (e.g. an ECDSA signature from an RSA CA)",
    'serve the intermediate that really issued the certificate',
    null,
  ),
  SIGNATURE_ALGORITHM_INCONSISTENCY: simple(
    'SIGNATURE_ALGORITHM',
    'the signature algorithm inside a certificate differs from the one outside: it was tampered with or badly made',
    'reissue the certificate',
    null,
  ),
  EC_KEY_EXPLICIT_PARAMS: simple(
    'EC_EXPLICIT_PARAMS',
    'a certificate key spells out its elliptic curve parameters instead of naming the curve (CVE-2022-0778 class; refused by OpenSSL 3 in strict mode)',
    'make a new key with a named curve (openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -pkeyopt ec_param_enc:named_curve)',
    null,
  ),
  PATHLEN_INVALID_FOR_NON_CA: simple(
    'STRICT_X509',
    `a certificate that is not a CA has a basicConstraints pathlen; ${STRICT_NOTE}`,
    'reissue it without pathlen (pathlen only belongs on CA:TRUE)',
    null,
  ),
  PATHLEN_WITHOUT_KU_KEY_CERT_SIGN: simple(
    'STRICT_X509',
    `a CA has a pathlen but no keyUsage keyCertSign; ${STRICT_NOTE}`,
    'reissue the CA with keyUsage critical, keyCertSign, cRLSign',
    null,
  ),
  KU_KEY_CERT_SIGN_INVALID_FOR_NON_CA: simple(
    'STRICT_X509',
    `a certificate that is not a CA has keyUsage keyCertSign; ${STRICT_NOTE}`,
    'reissue it without keyCertSign',
    null,
  ),
  ISSUER_NAME_EMPTY: simple('STRICT_X509', `a certificate has an empty issuer name; ${STRICT_NOTE}`, 'reissue it from a CA with a subject name', null),
  SUBJECT_NAME_EMPTY: simple(
    'STRICT_X509',
    `a CA certificate has an empty subject name; ${STRICT_NOTE}`,
    'reissue the CA with a subject (e.g. CN=Corp Root CA)',
    null,
  ),
  MISSING_AUTHORITY_KEY_IDENTIFIER: simple(
    'STRICT_X509',
    `a certificate lacks authorityKeyIdentifier (RFC 5280 requires it below a root); ${STRICT_NOTE}`,
    'reissue it with authorityKeyIdentifier=keyid (openssl x509 -extfile: authorityKeyIdentifier=keyid,issuer)',
    null,
  ),
  MISSING_SUBJECT_KEY_IDENTIFIER: simple(
    'STRICT_X509',
    `a CA certificate lacks subjectKeyIdentifier; ${STRICT_NOTE}`,
    'reissue the CA with subjectKeyIdentifier=hash',
    null,
  ),
  EMPTY_SUBJECT_ALT_NAME: simple(
    'STRICT_X509',
    `a certificate has a subjectAltName extension with no names; ${STRICT_NOTE}`,
    'reissue it with the host names in subjectAltName',
    0,
  ),
  EMPTY_SUBJECT_SAN_NOT_CRITICAL: simple(
    'STRICT_X509',
    `a certificate with an empty subject must mark subjectAltName critical; ${STRICT_NOTE}`,
    'reissue it with a subject CN, or with subjectAltName critical',
    0,
  ),
  CA_BCONS_NOT_CRITICAL: simple(
    'STRICT_X509',
    `a CA certificate's basicConstraints is not marked critical; ${STRICT_NOTE}`,
    'reissue the CA with basicConstraints=critical,CA:TRUE',
    null,
  ),
  AUTHORITY_KEY_IDENTIFIER_CRITICAL: simple(
    'STRICT_X509',
    `authorityKeyIdentifier is marked critical (RFC 5280 forbids it); ${STRICT_NOTE}`,
    'reissue it with authorityKeyIdentifier not critical',
    null,
  ),
  SUBJECT_KEY_IDENTIFIER_CRITICAL: simple(
    'STRICT_X509',
    `subjectKeyIdentifier is marked critical (RFC 5280 forbids it); ${STRICT_NOTE}`,
    'reissue it with subjectKeyIdentifier not critical',
    null,
  ),
  CA_CERT_MISSING_KEY_USAGE: simple(
    'STRICT_X509',
    `a CA certificate has no keyUsage extension; ${STRICT_NOTE}`,
    'reissue the CA with keyUsage=critical,keyCertSign,cRLSign',
    null,
  ),
  EXTENSIONS_REQUIRE_VERSION_3: simple(
    'STRICT_X509',
    `a certificate has extensions but says it is X.509 v1/v2; ${STRICT_NOTE}`,
    'reissue it as v3 (any current openssl x509 -extfile does)',
    null,
  ),
  UNSPECIFIED: (ctx) => {
    // Whatever Node could not name and the text did not resolve: the chain's own analysis decides.
    const d = ctx.defects?.[0];
    if (d && VERIFY_CODES[d.openssl] && d.openssl !== 'UNSPECIFIED') return (VERIFY_CODES[d.openssl] as Explainer)(ctx);
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
      message: `OpenSSL refused the chain${ctx.opensslText ? `: "${ctx.opensslText}"` : ''}, and decoding the chain shows no cause`,
      fix: 'run openssl verify -show_chain -CAfile ROOT.pem -untrusted CHAIN.pem LEAF.pem on the chain (certgate inspect --json has the PEMs) and report it to certgate',
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
  // A root from the trust store has no index in the chain as sent: the message names it instead.
  const certificate = out.certificate !== null && out.certificate >= ctx.chain.length ? null : out.certificate;
  return { severity: 'error', ...out, certificate };
}

/** Node error codes seen when a handshake fails, each mapped to its meaning. */
export interface HandshakeContext extends Pick<ExplainContext, 'host' | 'starttls' | 'clientCertGiven' | 'clientCertRequested'> {
  target?: string;
  servername?: string;
  /** The SNI name sent, when one was. */
  sniSent?: string | null;
  /** The TLS alert the server ended with ("unrecognized name"). */
  alert?: string | null;
  /** Names on the certificate the server presents without SNI, when a retry got one. */
  defaultNames?: string[];
  /** A retry with a server name worked where the first handshake without one did not. */
  sniRequired?: boolean;
  /** The CAs the server named in its CertificateRequest (RFC 4514 text); null when unknown. */
  acceptableCas?: string[] | null;
  /** The issuer of the client certificate given (RFC 4514 text). */
  clientCertIssuer?: string | null;
}

export function explainHandshakeError(err: HandshakeError, ctx: HandshakeContext): Finding {
  const code = err.code;
  const text = `${code} ${err.message}`;
  const preview = err.plaintextPreview ?? '';
  const f = (c: FindingCode, message: string, fix: string): Finding => ({ code: c, severity: 'error', certificate: null, message, fix });
  if (/WRONG_VERSION_NUMBER|PACKET_LENGTH_TOO_LONG|HTTP_REQUEST|UNKNOWN_PROTOCOL|record layer failure/i.test(text) || (preview && !/^\.{3}/.test(preview))) {
    const target = ctx.target ?? ctx.host;
    const sni = ctx.servername ? ` --servername ${ctx.servername}` : '';
    let what = 'plain text, not TLS';
    let c: FindingCode = 'PLAINTEXT_PORT';
    let fix = 'connect to the TLS port instead (443 for HTTPS), or enable TLS on this one';
    if (/^HTTP\//.test(preview)) {
      what = 'plain HTTP';
      c = 'PLAIN_HTTP_PORT';
      fix = `this is an http:// port: inspect the https:// port instead (certgate inspect ${target.replace(/:\d+$/, '')}:443${sni}), or put certgate serve in front of the app`;
    } else if (/^SSH-/.test(preview)) {
      what = `SSH ("${preview.split(/[.\r\n]{2}/)[0]?.slice(0, 40)}")`;
      c = 'SSH_PORT';
      fix = 'this is an SSH server, which has no TLS: check the port number of the TLS service';
    } else if (/^220[ -]/.test(preview)) {
      what = 'SMTP (a 220 greeting)';
      c = 'SMTP_NEEDS_STARTTLS';
      fix = `this mail port upgrades with STARTTLS: certgate inspect ${target} --starttls smtp${sni} (or use the implicit-TLS port 465)`;
    } else if (/^\.\.\.\.\n/.test(preview) || /mysql|mariadb/i.test(preview)) {
      what = 'the MySQL protocol';
      c = 'MYSQL_NEEDS_STARTTLS';
      fix = `MySQL negotiates TLS inside its own protocol: certgate inspect ${target} --starttls mysql${sni}`;
    } else if (/^E/.test(preview) && /SFATAL|unsupported frontend protocol/.test(preview)) {
      what = 'the PostgreSQL protocol';
      c = 'POSTGRES_NEEDS_STARTTLS';
      fix = `PostgreSQL negotiates TLS inside its own protocol: certgate inspect ${target} --starttls postgres${sni}`;
    }
    return f(c, `${ctx.host} answered with ${what} (${code})${preview ? `: "${preview.slice(0, 40)}"` : ''}`, fix);
  }
  if (/UNRECOGNIZED_NAME|unrecognized name/i.test(text) || ctx.alert === 'unrecognized name' || ctx.sniRequired) {
    const target = ctx.target ?? ctx.host;
    const names = ctx.defaultNames?.length ? ctx.defaultNames : null;
    const flags = ctx.starttls ? ` --starttls ${ctx.starttls}` : '';
    if (!ctx.sniRequired && (ctx.servername || ctx.sniSent)) {
      return f(
        'SNI_UNKNOWN_NAME',
        `the server does not serve "${ctx.sniSent ?? ctx.host}": it ended the handshake with the alert unrecognized_name (SNI)${names ? `; without SNI it presents a certificate for ${names.join(', ')}` : ''}`,
        `connect with a name the server is configured for: certgate inspect ${target}${flags} --servername ${names?.[0] ?? 'NAME'}; or add "${ctx.sniSent ?? ctx.host}" to the server's names`,
      );
    }
    return f(
      'SNI_REQUIRED',
      `the server requires SNI: a client that sends no server name (an IP address, an old client) ${ctx.alert ? `gets the alert ${ctx.alert.replace(/ /g, '_')}` : 'gets no certificate'}${names ? `; with a name it presents a certificate for ${names.join(', ')}` : ''}`,
      `pass the name the server is configured for: certgate inspect ${target}${flags} --servername ${names?.[0] ?? 'NAME'}`,
    );
  }
  const cas = ctx.acceptableCas ?? null;
  const casText =
    cas === null ? '' : cas.length ? `; it accepts certificates issued by ${cas.map((n) => `"${n}"`).join(', ')}` : '; it names no CA (any it trusts)';
  const target = ctx.target ?? ctx.host;
  const reach = `${ctx.starttls ? ` --starttls ${ctx.starttls}` : ''}${ctx.servername ? ` --servername ${ctx.servername}` : ''}`;
  if (/CERTIFICATE_REQUIRED/i.test(text) || (!ctx.clientCertGiven && ctx.clientCertRequested && /HANDSHAKE_FAILURE|ECONNRESET|BAD_CERTIFICATE/i.test(text))) {
    return f(
      'CLIENT_CERT_REQUIRED',
      `the server requires a client certificate (mutual TLS) and none was sent${casText}`,
      `certgate inspect ${target}${reach} --client-cert FILE --client-key FILE, with a certificate ${cas?.length ? `issued by ${cas.map((n) => `"${n}"`).join(' or ')}` : "the server's CA issued"}`,
    );
  }
  const issuer = ctx.clientCertIssuer;
  const wrongCa = Boolean(issuer && cas?.length && !cas.some((n) => n.toLowerCase() === issuer.toLowerCase()));
  if (ctx.clientCertGiven && wrongCa && /BAD_CERTIFICATE|UNKNOWN_CA|CERTIFICATE_UNKNOWN|ECONNRESET|HANDSHAKE_FAILURE|DECRYPT_ERROR/i.test(text)) {
    return f(
      'CLIENT_CERT_REJECTED',
      `the server rejected the client certificate (${code}): it is issued by "${issuer}"${casText}`,
      `use a client certificate issued by ${cas?.map((n) => `"${n}"`).join(' or ')}: certgate inspect ${target}${reach} --client-cert FILE --client-key FILE`,
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
