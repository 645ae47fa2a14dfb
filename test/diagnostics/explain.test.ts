import assert from 'node:assert/strict';
import { test } from 'node:test';
import { type ExplainContext, explainHandshakeError, explainVerifyCode, VERIFY_CODES } from '../../src/diagnostics/explain.ts';
import { decodeCertificate } from '../../src/pki/certificate.ts';
import { analyzeChain } from '../../src/pki/chain.ts';
import { makePki } from '../helpers/pki.ts';

/** Every code Node 20 puts in `authorizationError` (node/src/crypto/crypto_common.cc, X509ErrorCode). */
const NODE_VERIFY_CODES = [
  'UNABLE_TO_GET_ISSUER_CERT',
  'UNABLE_TO_GET_CRL',
  'UNABLE_TO_DECRYPT_CERT_SIGNATURE',
  'UNABLE_TO_DECRYPT_CRL_SIGNATURE',
  'UNABLE_TO_DECODE_ISSUER_PUBLIC_KEY',
  'CERT_SIGNATURE_FAILURE',
  'CRL_SIGNATURE_FAILURE',
  'CERT_NOT_YET_VALID',
  'CERT_HAS_EXPIRED',
  'CRL_NOT_YET_VALID',
  'CRL_HAS_EXPIRED',
  'ERROR_IN_CERT_NOT_BEFORE_FIELD',
  'ERROR_IN_CERT_NOT_AFTER_FIELD',
  'ERROR_IN_CRL_LAST_UPDATE_FIELD',
  'ERROR_IN_CRL_NEXT_UPDATE_FIELD',
  'OUT_OF_MEM',
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'SELF_SIGNED_CERT_IN_CHAIN',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'CERT_CHAIN_TOO_LONG',
  'CERT_REVOKED',
  'INVALID_CA',
  'PATH_LENGTH_EXCEEDED',
  'INVALID_PURPOSE',
  'CERT_UNTRUSTED',
  'CERT_REJECTED',
  'HOSTNAME_MISMATCH',
  'UNSPECIFIED',
];

/** The certificate-chain codes have a precise finding; only CRL/internal ones fall back. */
const EXPECTED: Record<string, string> = {
  UNABLE_TO_GET_ISSUER_CERT: 'CHAIN_INCOMPLETE',
  UNABLE_TO_GET_ISSUER_CERT_LOCALLY: 'CHAIN_INCOMPLETE',
  UNABLE_TO_VERIFY_LEAF_SIGNATURE: 'CHAIN_INCOMPLETE',
  SELF_SIGNED_CERT_IN_CHAIN: 'UNTRUSTED_ROOT',
  DEPTH_ZERO_SELF_SIGNED_CERT: 'SELF_SIGNED_LEAF',
  CERT_HAS_EXPIRED: 'CERT_EXPIRED',
  CERT_NOT_YET_VALID: 'CERT_NOT_YET_VALID',
  CERT_SIGNATURE_FAILURE: 'SIGNATURE_INVALID',
  UNABLE_TO_DECRYPT_CERT_SIGNATURE: 'SIGNATURE_INVALID',
  INVALID_CA: 'ISSUER_NOT_CA',
  PATH_LENGTH_EXCEEDED: 'PATH_LENGTH_EXCEEDED',
  INVALID_PURPOSE: 'NOT_FOR_SERVER_AUTH',
  CERT_REVOKED: 'CERT_REVOKED',
  CERT_CHAIN_TOO_LONG: 'CHAIN_TOO_LONG',
  HOSTNAME_MISMATCH: 'HOSTNAME_MISMATCH',
  CERT_UNTRUSTED: 'UNTRUSTED_ROOT',
};

const pki = await makePki();
const chain = [decodeCertificate(pki.leaf.der)];
const ctx: ExplainContext = {
  chain,
  analysis: analyzeChain(chain),
  host: 'app.test',
  target: 'app.test:443',
  trust: 'test',
  clientCertGiven: false,
  clientCertRequested: null,
};

test('every verification code Node reports is explained with a cause and a fix', () => {
  for (const code of NODE_VERIFY_CODES) {
    assert.ok(VERIFY_CODES[code], `${code} has an explainer`);
    const f = explainVerifyCode(code, ctx);
    assert.equal(f.severity, 'error', code);
    assert.ok(f.message.length > 10 && !f.message.includes('\n'), `${code}: one-line message`);
    assert.ok(f.fix.length > 10, `${code}: a fix`);
    if (EXPECTED[code]) assert.equal(f.code, EXPECTED[code], code);
  }
  assert.equal(explainVerifyCode('SOMETHING_NEW', ctx).code, 'VERIFY_FAILED');
});

test('handshake errors: each Node/OpenSSL failure maps to its meaning', () => {
  const cases: Array<[string, string, string | null, Partial<typeof ctx>, string]> = [
    ['ERR_SSL_WRONG_VERSION_NUMBER', 'wrong version number', 'HTTP/1.1 400 Bad Request', {}, 'PLAIN_HTTP_PORT'],
    ['ERR_SSL_PACKET_LENGTH_TOO_LONG', 'packet length too long', 'SSH-2.0-OpenSSH_9.2', {}, 'SSH_PORT'],
    ['ERR_SSL_WRONG_VERSION_NUMBER', 'wrong version number', '220 mail.test ESMTP', {}, 'SMTP_NEEDS_STARTTLS'],
    ['ERR_SSL_TLSV13_ALERT_CERTIFICATE_REQUIRED', 'alert certificate required', null, {}, 'CLIENT_CERT_REQUIRED'],
    ['ERR_SSL_SSLV3_ALERT_HANDSHAKE_FAILURE', 'handshake failure', null, { clientCertRequested: true }, 'CLIENT_CERT_REQUIRED'],
    ['ERR_SSL_TLSV1_ALERT_UNKNOWN_CA', 'alert unknown ca', null, { clientCertGiven: true }, 'CLIENT_CERT_REJECTED'],
    ['ERR_SSL_SSLV3_ALERT_BAD_CERTIFICATE', 'bad certificate', null, { clientCertGiven: true }, 'CLIENT_CERT_REJECTED'],
    ['ERR_SSL_EE_KEY_TOO_SMALL', 'ee key too small', null, {}, 'SECURITY_LEVEL'],
    ['ERR_SSL_CA_MD_TOO_WEAK', 'ca md too weak', null, {}, 'SECURITY_LEVEL'],
    ['ERR_SSL_DH_KEY_TOO_SMALL', 'dh key too small', null, {}, 'SECURITY_LEVEL'],
    ['ERR_SSL_UNSUPPORTED_PROTOCOL', 'unsupported protocol', null, {}, 'PROTOCOL_MISMATCH'],
    ['ERR_SSL_TLSV1_ALERT_PROTOCOL_VERSION', 'tlsv1 alert protocol version', null, {}, 'PROTOCOL_MISMATCH'],
    ['ERR_SSL_TLSV1_UNRECOGNIZED_NAME', 'unrecognized name', null, {}, 'SNI_REQUIRED'],
    ['ERR_SSL_SSLV3_ALERT_HANDSHAKE_FAILURE', 'handshake failure', null, {}, 'HANDSHAKE_FAILED'],
    ['ECONNRESET', 'socket hang up', null, {}, 'HANDSHAKE_FAILED'],
  ];
  for (const [code, message, plaintextPreview, extra, expected] of cases) {
    const f = explainHandshakeError({ code, message, plaintextPreview }, { ...ctx, ...extra });
    assert.equal(f.code, expected, `${code} ${plaintextPreview ?? ''}`);
    assert.ok(f.fix.length > 10);
  }
  const smtp = explainHandshakeError({ code: 'ERR_SSL_WRONG_VERSION_NUMBER', message: 'x', plaintextPreview: '220 mail.test ESMTP' }, ctx);
  assert.match(smtp.fix, /--starttls smtp/);
  const http = explainHandshakeError({ code: 'ERR_SSL_WRONG_VERSION_NUMBER', message: 'x', plaintextPreview: 'HTTP/1.1 400' }, ctx);
  assert.match(http.message, /plain HTTP/);
});
