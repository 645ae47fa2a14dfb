/**
 * @module diagnostics/grade/findings
 * The shape of a grade finding and its stable codes (documented in the README).
 */

export type GradeSeverity = 'error' | 'warning' | 'info';

export type GradeCode =
  // protocol versions
  | 'GRADE_NO_TLS'
  | 'GRADE_ONLY_LEGACY_TLS'
  | 'GRADE_TLS1_0_OFFERED'
  | 'GRADE_TLS1_1_OFFERED'
  | 'GRADE_NO_TLS1_2'
  | 'GRADE_NO_TLS1_3'
  // cipher suites
  | 'GRADE_CIPHER_WEAK'
  | 'GRADE_NO_FORWARD_SECRECY'
  | 'GRADE_CIPHER_NO_FORWARD_SECRECY'
  | 'GRADE_RSA_KEY_EXCHANGE'
  | 'GRADE_NO_AEAD'
  | 'GRADE_CIPHER_CBC'
  | 'GRADE_CIPHERS_INCOMPLETE'
  | 'GRADE_DH_WEAK'
  | 'GRADE_NO_CIPHER_ORDER'
  // certificates and chain
  | 'GRADE_SIGNATURE_SHA1'
  | 'GRADE_SIGNATURE_MD5'
  | 'GRADE_KEY_TOO_SMALL'
  | 'GRADE_CERT_NO_SAN'
  | 'GRADE_CERT_NO_SERVER_AUTH'
  | 'GRADE_CERT_LEAF_IS_CA'
  | 'GRADE_CERT_KEY_USAGE'
  | 'GRADE_CERT_EXPIRED'
  | 'GRADE_CERT_EXPIRING'
  | 'GRADE_CHAIN_WRONG_ORDER'
  | 'GRADE_CHAIN_EXTRA_CERT'
  | 'GRADE_CHAIN_ROOT_SENT'
  | 'GRADE_CHAIN_INCOMPLETE'
  // features
  | 'GRADE_OCSP_NOT_STAPLED'
  | 'GRADE_MUST_STAPLE_NOT_STAPLED'
  | 'GRADE_SNI_REQUIRED'
  | 'GRADE_NO_SNI_OTHER_CERT'
  | 'GRADE_NO_ALPN_H2'
  | 'GRADE_NO_RESUMPTION'
  | 'GRADE_NO_SESSION_TICKETS'
  | 'GRADE_NO_SESSION_IDS'
  | 'GRADE_HSTS_MISSING'
  | 'GRADE_HSTS_SHORT';

export interface GradeFinding {
  code: GradeCode;
  severity: GradeSeverity;
  /** Index of the certificate concerned in the chain as sent (0 = the server's own), or null. */
  certificate: number | null;
  /** What is wrong, in the operator's words. */
  what: string;
  fix: string;
}
