/**
 * @module pki
 * Pure certificate handling: parse any format, decode, order chains, lint. No I/O.
 */
export { type Certificate, type CertificateInfo, type CertificateKind, decodeCertificate, isIssuerOf, type PublicKeyInfo, toPem } from './certificate.ts';
export { analyzeChain, type ChainAnalysis, type MissingIssuer, orderChains } from './chain.ts';
export { type CertificateRequest, type CsrInfo, decodeCsr, looksLikeCsr } from './csr.ts';
export type { Finding, FindingCode, Severity, Status } from './findings.ts';
export { statusOf } from './findings.ts';
export { type Keystore, type KeystoreCertificate, readJks } from './jks.ts';
export { looksLikeJks } from './jks-magic.ts';
export type { PrivateKey, PrivateKeyInfo } from './keys.ts';
export { EXPIRY_WARNING_DAYS, lintCertificate, lintChain, lintCsr } from './lint.ts';
export { loadKeystoreReader, MAX_INPUT_BYTES, type ParsedInput, type ParseOptions, parseCertificates, parseInput } from './parse.ts';
export { type BuiltPath, buildTrustedFirst, checkPath, type PathCheckOptions, type PathDefect } from './path.ts';
export { type PemBlock, parsePem, toPemText } from './pem.ts';
export { X509_ERRORS, type X509Error, x509ErrorName } from './x509-errors.ts';
