/**
 * @module errors
 * One error class for everything that reaches a user: a stable code, a message in the
 * operator's words, and the fix. The CLI prints `error CODE: message` and `fix: ...`.
 */

/** Every code a CertgateError can carry. Stable: scripts may match on them. */
export type ErrorCode =
  // usage and options
  | 'E_USAGE'
  | 'E_OPTION'
  // reading input
  | 'E_FILE_NOT_FOUND'
  | 'E_FILE_READ'
  | 'E_INPUT_EMPTY'
  | 'E_INPUT_TOO_LARGE'
  | 'E_INPUT_TOO_MANY_BLOCKS'
  | 'E_INPUT_TOO_DEEP'
  | 'E_PBE_ITERATIONS'
  | 'E_INPUT_FORMAT'
  | 'E_PEM_MALFORMED'
  | 'E_DER_MALFORMED'
  | 'E_CERT_MALFORMED'
  | 'E_PKCS7_MALFORMED'
  | 'E_PKCS12_MALFORMED'
  | 'E_PKCS12_PASSWORD'
  | 'E_CSR_MALFORMED'
  | 'E_JKS_MALFORMED'
  | 'E_JKS_PASSWORD'
  | 'E_KEY_MALFORMED'
  | 'E_KEY_ENCRYPTED'
  | 'E_KEY_PASSPHRASE'
  | 'E_KEY_MISMATCH'
  | 'E_NOT_CERTIFICATE'
  // network
  | 'E_DNS'
  | 'E_CONNECT_REFUSED'
  | 'E_UNREACHABLE'
  | 'E_TIMEOUT'
  | 'E_CONNECTION_RESET'
  | 'E_STARTTLS'
  | 'E_FETCH'
  // trust store
  | 'E_TRUST_DIR'
  | 'E_TRUST_LEAF'
  | 'E_TRUST_KEY'
  | 'E_TRUST_EXPIRED'
  | 'E_TRUST_ROOT_MISSING'
  | 'E_TRUST_NOT_FOUND'
  | 'E_TRUST_NOTHING'
  | 'E_TOOL_MISSING'
  | 'E_SYSTEM_STORE'
  | 'E_CONFIRM'
  // admin API
  | 'E_ADMIN_AUTH'
  | 'E_ADMIN_TLS'
  | 'E_ADMIN_HOST'
  | 'E_ADMIN_CROSS_SITE'
  | 'E_ADMIN_RATE_LIMITED'
  | 'E_ADMIN_TOKEN_NOT_FOUND'
  | 'E_ADMIN_BODY_TOO_LARGE'
  | 'E_ADMIN_INVALID'
  | 'E_ADMIN_NOT_FOUND'
  | 'E_ADMIN_CONFLICT'
  | 'E_ADMIN_UNAVAILABLE'
  | 'E_CERT_NOT_FOUND'
  // resources
  | 'E_RESOURCE_INVALID'
  | 'E_RESOURCE_NOT_FOUND'
  | 'E_RESOURCE_EXISTS'
  | 'E_RESOURCE_DUPLICATE'
  | 'E_SECRET_MISSING'
  | 'E_WRITE'
  // ACME, store, domains
  | 'E_DOMAIN_INVALID'
  | 'E_DOMAIN_NOT_ALLOWED'
  | 'E_DOMAIN_UNREGISTERED'
  | 'E_ACME_CONFIG'
  | 'E_ACME_EMAIL'
  | 'E_ACME_UNREACHABLE'
  | 'E_ACME_PROBLEM'
  | 'E_ACME_RATE_LIMITED'
  | 'E_ACME_CHALLENGE'
  | 'E_ACME_DNS_HOOK'
  | 'E_LOCK_TIMEOUT'
  | 'E_PORT_IN_USE'
  | 'E_LISTEN'
  | 'E_ATTEMPTS_EXHAUSTED'
  | 'E_BUDGET'
  | 'E_STORE'
  // store encryption, copy, backends
  | 'E_STORE_KEY'
  | 'E_STORE_KEY_MISSING'
  | 'E_STORE_KEY_WRONG'
  | 'E_STORE_DECRYPT'
  | 'E_STORE_NOT_EMPTY'
  | 'E_STORE_UNSUPPORTED'
  // the PostgreSQL store
  | 'E_STORE_URL'
  | 'E_STORE_CONNECT'
  | 'E_STORE_TLS'
  | 'E_STORE_AUTH'
  | 'E_STORE_PERMISSION'
  | 'E_STORE_SCHEMA'
  | 'E_STORE_DOWN'
  | 'E_FENCED'
  | 'E_DATA_DIR'
  // bin/certgate.js only: it prints this itself, before any module of dist/ can load
  | 'E_NOT_BUILT';

// Registered, so the CLI's one-file bundle and the modules it loads from dist/ (each with its own
// copy of this class) still recognise each other's errors with `instanceof`.
const brand = Symbol.for('certgate.CertgateError');

export class CertgateError extends Error {
  readonly [brand] = true;
  readonly code: ErrorCode;
  /** What to do next, one line. */
  readonly fix: string | undefined;
  /**
   * The setting at fault, by its library key (`httpsPort`, `acmeEmail`), when a bad option value
   * caused this error. The CLI names it as `--flag / CERTGATE_X / file.path`; an embedder sees the key.
   */
  readonly option: string | undefined;

  constructor(code: ErrorCode, message: string, fix?: string, options?: { cause?: unknown; option?: string }) {
    super(message, options);
    this.name = 'CertgateError';
    this.code = code;
    this.fix = fix;
    this.option = options?.option;
  }
}

// On CertgateError only: a subclass (AcmeError) keeps plain instanceof.
Object.defineProperty(CertgateError, Symbol.hasInstance, {
  value: function (this: unknown, x: unknown): boolean {
    if (this !== CertgateError) return Function.prototype[Symbol.hasInstance].call(this, x);
    return typeof x === 'object' && x !== null && (x as { [brand]?: unknown })[brand] === true;
  },
});

export function isCertgateError(err: unknown): err is CertgateError {
  return err instanceof CertgateError;
}
