/**
 * @module pki
 * Pure certificate handling: parse any format, decode, order chains, lint. No I/O.
 */
export { type Certificate, type CertificateInfo, type CertificateKind, decodeCertificate, isIssuerOf, type PublicKeyInfo, toPem } from './certificate.ts';
export { analyzeChain, type ChainAnalysis, type MissingIssuer, orderChains } from './chain.ts';
export type { Finding, FindingCode, Severity, Status } from './findings.ts';
export { statusOf } from './findings.ts';
export type { PrivateKey, PrivateKeyInfo } from './keys.ts';
export { EXPIRY_WARNING_DAYS, lintCertificate, lintChain } from './lint.ts';
export { MAX_INPUT_BYTES, type ParsedInput, type ParseOptions, parseCertificates, parseInput } from './parse.ts';
export { type PemBlock, parsePem, toPemText } from './pem.ts';
