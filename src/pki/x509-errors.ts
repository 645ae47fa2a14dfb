/**
 * @module pki/x509-errors
 * Every X509_V_ERR_* code of OpenSSL 3 (openssl/x509_vfy.h) with the text X509_verify_cert_error_string
 * gives for it. Node names only some of them (the rest arrive as UNSPECIFIED with OpenSSL's text),
 * so the text is how certgate tells them apart. Generated from the headers and libcrypto of OpenSSL 3.0.
 */

export interface X509Error {
  /** X509_V_ERR_<name> value. */
  num: number;
  /** The name without the X509_V_ERR_ prefix, as Node spells its codes. */
  name: string;
  /** OpenSSL's own text. */
  text: string;
}

export const X509_ERRORS: readonly X509Error[] = [
  { num: 1, name: 'UNSPECIFIED', text: 'unspecified certificate verification error' },
  { num: 2, name: 'UNABLE_TO_GET_ISSUER_CERT', text: 'unable to get issuer certificate' },
  { num: 3, name: 'UNABLE_TO_GET_CRL', text: 'unable to get certificate CRL' },
  { num: 4, name: 'UNABLE_TO_DECRYPT_CERT_SIGNATURE', text: "unable to decrypt certificate's signature" },
  { num: 5, name: 'UNABLE_TO_DECRYPT_CRL_SIGNATURE', text: "unable to decrypt CRL's signature" },
  { num: 6, name: 'UNABLE_TO_DECODE_ISSUER_PUBLIC_KEY', text: 'unable to decode issuer public key' },
  { num: 7, name: 'CERT_SIGNATURE_FAILURE', text: 'certificate signature failure' },
  { num: 8, name: 'CRL_SIGNATURE_FAILURE', text: 'CRL signature failure' },
  { num: 9, name: 'CERT_NOT_YET_VALID', text: 'certificate is not yet valid' },
  { num: 10, name: 'CERT_HAS_EXPIRED', text: 'certificate has expired' },
  { num: 11, name: 'CRL_NOT_YET_VALID', text: 'CRL is not yet valid' },
  { num: 12, name: 'CRL_HAS_EXPIRED', text: 'CRL has expired' },
  { num: 13, name: 'ERROR_IN_CERT_NOT_BEFORE_FIELD', text: "format error in certificate's notBefore field" },
  { num: 14, name: 'ERROR_IN_CERT_NOT_AFTER_FIELD', text: "format error in certificate's notAfter field" },
  { num: 15, name: 'ERROR_IN_CRL_LAST_UPDATE_FIELD', text: "format error in CRL's lastUpdate field" },
  { num: 16, name: 'ERROR_IN_CRL_NEXT_UPDATE_FIELD', text: "format error in CRL's nextUpdate field" },
  { num: 17, name: 'OUT_OF_MEM', text: 'out of memory' },
  { num: 18, name: 'DEPTH_ZERO_SELF_SIGNED_CERT', text: 'self-signed certificate' },
  { num: 19, name: 'SELF_SIGNED_CERT_IN_CHAIN', text: 'self-signed certificate in certificate chain' },
  { num: 20, name: 'UNABLE_TO_GET_ISSUER_CERT_LOCALLY', text: 'unable to get local issuer certificate' },
  { num: 21, name: 'UNABLE_TO_VERIFY_LEAF_SIGNATURE', text: 'unable to verify the first certificate' },
  { num: 22, name: 'CERT_CHAIN_TOO_LONG', text: 'certificate chain too long' },
  { num: 23, name: 'CERT_REVOKED', text: 'certificate revoked' },
  { num: 24, name: 'NO_ISSUER_PUBLIC_KEY', text: "issuer certificate doesn't have a public key" },
  { num: 25, name: 'PATH_LENGTH_EXCEEDED', text: 'path length constraint exceeded' },
  { num: 26, name: 'INVALID_PURPOSE', text: 'unsuitable certificate purpose' },
  { num: 27, name: 'CERT_UNTRUSTED', text: 'certificate not trusted' },
  { num: 28, name: 'CERT_REJECTED', text: 'certificate rejected' },
  { num: 29, name: 'SUBJECT_ISSUER_MISMATCH', text: 'subject issuer mismatch' },
  { num: 30, name: 'AKID_SKID_MISMATCH', text: 'authority and subject key identifier mismatch' },
  { num: 31, name: 'AKID_ISSUER_SERIAL_MISMATCH', text: 'authority and issuer serial number mismatch' },
  { num: 32, name: 'KEYUSAGE_NO_CERTSIGN', text: 'key usage does not include certificate signing' },
  { num: 33, name: 'UNABLE_TO_GET_CRL_ISSUER', text: 'unable to get CRL issuer certificate' },
  { num: 34, name: 'UNHANDLED_CRITICAL_EXTENSION', text: 'unhandled critical extension' },
  { num: 35, name: 'KEYUSAGE_NO_CRL_SIGN', text: 'key usage does not include CRL signing' },
  { num: 36, name: 'UNHANDLED_CRITICAL_CRL_EXTENSION', text: 'unhandled critical CRL extension' },
  { num: 37, name: 'INVALID_NON_CA', text: 'invalid non-CA certificate (has CA markings)' },
  { num: 38, name: 'PROXY_PATH_LENGTH_EXCEEDED', text: 'proxy path length constraint exceeded' },
  { num: 39, name: 'KEYUSAGE_NO_DIGITAL_SIGNATURE', text: 'key usage does not include digital signature' },
  { num: 40, name: 'PROXY_CERTIFICATES_NOT_ALLOWED', text: 'proxy certificates not allowed, please set the appropriate flag' },
  { num: 41, name: 'INVALID_EXTENSION', text: 'invalid or inconsistent certificate extension' },
  { num: 42, name: 'INVALID_POLICY_EXTENSION', text: 'invalid or inconsistent certificate policy extension' },
  { num: 43, name: 'NO_EXPLICIT_POLICY', text: 'no explicit policy' },
  { num: 44, name: 'DIFFERENT_CRL_SCOPE', text: 'different CRL scope' },
  { num: 45, name: 'UNSUPPORTED_EXTENSION_FEATURE', text: 'unsupported extension feature' },
  { num: 46, name: 'UNNESTED_RESOURCE', text: "RFC 3779 resource not subset of parent's resources" },
  { num: 47, name: 'PERMITTED_VIOLATION', text: 'permitted subtree violation' },
  { num: 48, name: 'EXCLUDED_VIOLATION', text: 'excluded subtree violation' },
  { num: 49, name: 'SUBTREE_MINMAX', text: 'name constraints minimum and maximum not supported' },
  { num: 50, name: 'APPLICATION_VERIFICATION', text: 'application verification failure' },
  { num: 51, name: 'UNSUPPORTED_CONSTRAINT_TYPE', text: 'unsupported name constraint type' },
  { num: 52, name: 'UNSUPPORTED_CONSTRAINT_SYNTAX', text: 'unsupported or invalid name constraint syntax' },
  { num: 53, name: 'UNSUPPORTED_NAME_SYNTAX', text: 'unsupported or invalid name syntax' },
  { num: 54, name: 'CRL_PATH_VALIDATION_ERROR', text: 'CRL path validation error' },
  { num: 55, name: 'PATH_LOOP', text: 'path loop' },
  { num: 56, name: 'SUITE_B_INVALID_VERSION', text: 'Suite B: certificate version invalid' },
  { num: 57, name: 'SUITE_B_INVALID_ALGORITHM', text: 'Suite B: invalid public key algorithm' },
  { num: 58, name: 'SUITE_B_INVALID_CURVE', text: 'Suite B: invalid ECC curve' },
  { num: 59, name: 'SUITE_B_INVALID_SIGNATURE_ALGORITHM', text: 'Suite B: invalid signature algorithm' },
  { num: 60, name: 'SUITE_B_LOS_NOT_ALLOWED', text: 'Suite B: curve not allowed for this LOS' },
  { num: 61, name: 'SUITE_B_CANNOT_SIGN_P_384_WITH_P_256', text: 'Suite B: cannot sign P-384 with P-256' },
  { num: 62, name: 'HOSTNAME_MISMATCH', text: 'hostname mismatch' },
  { num: 63, name: 'EMAIL_MISMATCH', text: 'email address mismatch' },
  { num: 64, name: 'IP_ADDRESS_MISMATCH', text: 'IP address mismatch' },
  { num: 65, name: 'DANE_NO_MATCH', text: 'no matching DANE TLSA records' },
  { num: 66, name: 'EE_KEY_TOO_SMALL', text: 'EE certificate key too weak' },
  { num: 67, name: 'CA_KEY_TOO_SMALL', text: 'CA certificate key too weak' },
  { num: 68, name: 'CA_MD_TOO_WEAK', text: 'CA signature digest algorithm too weak' },
  { num: 69, name: 'INVALID_CALL', text: 'invalid certificate verification context' },
  { num: 70, name: 'STORE_LOOKUP', text: 'issuer certificate lookup error' },
  { num: 71, name: 'NO_VALID_SCTS', text: 'Certificate Transparency required, but no valid SCTs found' },
  { num: 72, name: 'PROXY_SUBJECT_NAME_VIOLATION', text: 'proxy subject name violation' },
  { num: 73, name: 'OCSP_VERIFY_NEEDED', text: 'OCSP verification needed' },
  { num: 74, name: 'OCSP_VERIFY_FAILED', text: 'OCSP verification failed' },
  { num: 75, name: 'OCSP_CERT_UNKNOWN', text: 'OCSP unknown cert' },
  { num: 76, name: 'UNSUPPORTED_SIGNATURE_ALGORITHM', text: 'Cannot find certificate signature algorithm' },
  { num: 77, name: 'SIGNATURE_ALGORITHM_MISMATCH', text: 'subject signature algorithm and issuer public key algorithm mismatch' },
  { num: 78, name: 'SIGNATURE_ALGORITHM_INCONSISTENCY', text: 'cert info signature and signature algorithm mismatch' },
  { num: 79, name: 'INVALID_CA', text: 'invalid CA certificate' },
  { num: 80, name: 'PATHLEN_INVALID_FOR_NON_CA', text: 'Path length invalid for non-CA cert' },
  { num: 81, name: 'PATHLEN_WITHOUT_KU_KEY_CERT_SIGN', text: 'Path length given without key usage keyCertSign' },
  { num: 82, name: 'KU_KEY_CERT_SIGN_INVALID_FOR_NON_CA', text: 'Key usage keyCertSign invalid for non-CA cert' },
  { num: 83, name: 'ISSUER_NAME_EMPTY', text: 'Issuer name empty' },
  { num: 84, name: 'SUBJECT_NAME_EMPTY', text: 'Subject name empty' },
  { num: 85, name: 'MISSING_AUTHORITY_KEY_IDENTIFIER', text: 'Missing Authority Key Identifier' },
  { num: 86, name: 'MISSING_SUBJECT_KEY_IDENTIFIER', text: 'Missing Subject Key Identifier' },
  { num: 87, name: 'EMPTY_SUBJECT_ALT_NAME', text: 'Empty Subject Alternative Name extension' },
  { num: 88, name: 'EMPTY_SUBJECT_SAN_NOT_CRITICAL', text: 'Subject empty and Subject Alt Name extension not critical' },
  { num: 89, name: 'CA_BCONS_NOT_CRITICAL', text: 'Basic Constraints of CA cert not marked critical' },
  { num: 90, name: 'AUTHORITY_KEY_IDENTIFIER_CRITICAL', text: 'Authority Key Identifier marked critical' },
  { num: 91, name: 'SUBJECT_KEY_IDENTIFIER_CRITICAL', text: 'Subject Key Identifier marked critical' },
  { num: 92, name: 'CA_CERT_MISSING_KEY_USAGE', text: 'CA cert does not include key usage extension' },
  { num: 93, name: 'EXTENSIONS_REQUIRE_VERSION_3', text: 'Using cert extension requires at least X509v3' },
  { num: 94, name: 'EC_KEY_EXPLICIT_PARAMS', text: 'Certificate public key has explicit ECC parameters' },
];

const BY_TEXT = new Map(X509_ERRORS.map((e) => [e.text.toLowerCase(), e]));
const BY_NAME = new Map(X509_ERRORS.map((e) => [e.name, e]));

/** The OpenSSL code name for Node's code or OpenSSL's text ("unhandled critical extension" → UNHANDLED_CRITICAL_EXTENSION). */
export function x509ErrorName(codeOrText: string): string | null {
  const name = codeOrText.replace(/^X509_V_ERR_/, '');
  if (BY_NAME.has(name) && name !== 'UNSPECIFIED') return name;
  return BY_TEXT.get(codeOrText.trim().toLowerCase())?.name ?? (name === 'UNSPECIFIED' ? 'UNSPECIFIED' : null);
}

export function x509Error(name: string): X509Error | undefined {
  return BY_NAME.get(name);
}
