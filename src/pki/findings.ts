/**
 * @module pki/findings
 * A finding: one problem (or notable fact) with a stable code, the certificate it concerns,
 * and the fix. Lints, chain analysis and the TLS diagnostics all speak this shape.
 */

export type Severity = 'error' | 'warning' | 'info';

/** Stable finding codes. Documented in the README; other tools match on them. */
export type FindingCode =
  // certificate lints
  | 'CERT_EXPIRED'
  | 'CERT_NOT_YET_VALID'
  | 'CERT_EXPIRING_SOON'
  | 'WEAK_KEY'
  | 'WEAK_SIGNATURE'
  | 'NO_SAN'
  | 'CA_WITHOUT_KEYCERTSIGN'
  | 'ISSUER_NOT_CA'
  | 'NOT_FOR_SERVER_AUTH'
  // certificate signing requests
  | 'CSR_SIGNATURE_INVALID'
  | 'CSR_REQUESTS_CA'
  // chain shape
  | 'CHAIN_INCOMPLETE'
  | 'CHAIN_WRONG_ORDER'
  | 'CHAIN_EXTRA_CERT'
  | 'CHAIN_ROOT_SENT'
  | 'SELF_SIGNED_LEAF'
  | 'UNTRUSTED_ROOT'
  | 'SIGNATURE_INVALID'
  | 'PATH_LENGTH_EXCEEDED'
  | 'CHAIN_TOO_LONG'
  | 'CERT_REVOKED'
  | 'HOSTNAME_MISMATCH'
  | 'KEY_MISMATCH'
  | 'VERIFY_FAILED'
  // verification, named from OpenSSL's code and the chain's own analysis
  | 'CERT_MALFORMED'
  | 'KEY_USAGE_NOT_FOR_SERVER'
  | 'NAME_CONSTRAINTS_VIOLATION'
  | 'UNKNOWN_CRITICAL_EXTENSION'
  | 'POLICY_REQUIRED'
  | 'AKI_SKI_MISMATCH'
  | 'EXTENSION_INVALID'
  | 'REVOCATION_CHECK_FAILED'
  | 'SIGNATURE_ALGORITHM'
  | 'EC_EXPLICIT_PARAMS'
  | 'STRICT_X509'
  | 'PROXY_CERTIFICATE'
  | 'SUITE_B'
  | 'DANE_MISMATCH'
  | 'SCT_MISSING'
  | 'CHAIN_LOOP'
  | 'CHAIN_ALTERNATE_PATH'
  // connection
  | 'PLAINTEXT_PORT'
  | 'PLAIN_HTTP_PORT'
  | 'SSH_PORT'
  | 'SMTP_NEEDS_STARTTLS'
  | 'MYSQL_NEEDS_STARTTLS'
  | 'POSTGRES_NEEDS_STARTTLS'
  | 'STARTTLS_MISMATCH'
  | 'SILENT_PORT'
  | 'SNI_REQUIRED'
  | 'SNI_UNKNOWN_NAME'
  | 'CLIENT_CERT_REQUIRED'
  | 'CLIENT_CERT_REJECTED'
  | 'SECURITY_LEVEL'
  | 'PROTOCOL_MISMATCH'
  | 'HANDSHAKE_FAILED'
  | 'STARTTLS_REFUSED'
  | 'INTERMEDIATE_FETCHED';

export interface Finding {
  code: FindingCode;
  severity: Severity;
  /** Index of the certificate concerned in the chain as shown (0 = the server's own), or null. */
  certificate: number | null;
  message: string;
  fix: string;
}

export type Status = 'ok' | 'warn' | 'fail';

export function statusOf(findings: readonly Finding[]): Status {
  if (findings.some((f) => f.severity === 'error')) return 'fail';
  if (findings.some((f) => f.severity === 'warning')) return 'warn';
  return 'ok';
}
