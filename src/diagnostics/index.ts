/**
 * @module diagnostics
 * Probe live TLS servers (with STARTTLS), verify, and explain every failure with its fix.
 */
export { explainHandshakeError, explainVerifyCode, VERIFY_CODES } from './explain.ts';
export { type GradeCode, type GradeFinding, type GradeOptions, type GradeReport, gradeServer } from './grade/index.ts';
export { type ChainEntry, type InspectOptions, type InspectResult, inspect, parseTarget } from './inspect.ts';
export { type HandshakeError, type ProbeOptions, type ProbeResult, probe } from './probe.ts';
export { DEFAULT_PORTS, STARTTLS_PROTOCOLS, type StartTlsProtocol } from './starttls.ts';
