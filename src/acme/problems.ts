/**
 * @module acme/problems
 * ACME problem documents (RFC 8555 §6.7), kept whole and translated for the operator.
 */
import { CertgateError, type ErrorCode } from '../errors.ts';

export interface AcmeProblem {
  type: string;
  detail: string;
  status?: number;
  subproblems?: Array<{ type: string; detail: string; identifier?: { type: string; value: string } }>;
  /** Seconds to wait, from Retry-After. */
  retryAfter?: number;
}

export function isProblem(x: unknown): x is AcmeProblem {
  return (
    typeof x === 'object' && x !== null && typeof (x as AcmeProblem).type === 'string' && (x as AcmeProblem).type.startsWith('urn:ietf:params:acme:error:')
  );
}

export class AcmeError extends CertgateError {
  readonly problem: AcmeProblem | null;
  constructor(code: ErrorCode, message: string, fix: string, problem: AcmeProblem | null, options?: { cause?: unknown }) {
    super(code, message, fix, options);
    this.problem = problem;
  }
}

const text = (x: unknown): string => (typeof x === 'string' ? x : '');

/**
 * A problem document as the CA sent it may carry any JSON where RFC 8555 says a string or a list
 * (`"subproblems": {}`, `"detail": 5`): keep what has the documented shape, drop the rest.
 */
function wellFormed(problem: AcmeProblem): AcmeProblem {
  const subs = Array.isArray(problem.subproblems) ? problem.subproblems : [];
  const out: AcmeProblem = {
    ...problem,
    detail: text(problem.detail),
    subproblems: subs
      .filter((s): s is NonNullable<AcmeProblem['subproblems']>[number] => typeof s === 'object' && s !== null)
      .map((s) => ({ ...s, type: text(s.type), detail: text(s.detail) })),
  };
  if (typeof problem.retryAfter !== 'number' || !Number.isFinite(problem.retryAfter)) delete out.retryAfter;
  return out;
}

/** Turns a problem (of an order, an authorization or a request) into an error an operator can act on. */
export function explainProblem(raw: AcmeProblem, name: string, context: { httpPort?: number; challenge?: string } = {}): AcmeError {
  const problem = wellFormed(raw);
  const kind = problem.type.replace('urn:ietf:params:acme:error:', '');
  const detail = [problem.detail, ...(problem.subproblems ?? []).map((s) => s.detail)].filter(Boolean).join('; ');
  const say = (code: ErrorCode, message: string, fix: string) => new AcmeError(code, `${name}: ${message} (ACME ${kind}: ${detail})`, fix, problem);
  switch (kind) {
    case 'rateLimited':
      return say(
        'E_ACME_RATE_LIMITED',
        `the CA's rate limit was hit${problem.retryAfter ? `; it asks to wait ${problem.retryAfter} s` : ''}`,
        'wait (certgate retries after Retry-After); for tests use the staging directory',
      );
    case 'dns':
      return say(
        'E_ACME_CHALLENGE',
        `the CA could not resolve ${name}: DNS does not point here (or does not exist)`,
        `create an A/AAAA record for ${name} pointing at this server, and wait for it to propagate`,
      );
    case 'connection': {
      // The port the CA really used (a test CA, or one configured otherwise) is in its detail:
      // "127.0.0.1:5002: Connection refused", "Fetching http://name:8080/.well-known/...".
      const used = /(?:\]|\d|[a-z]):(\d{2,5})\b/i.exec(problem.detail ?? '')?.[1];
      const port = used ?? (context.challenge === 'tls-alpn-01' ? '443' : '80');
      return say(
        'E_ACME_CHALLENGE',
        `the CA could not reach port ${port} of ${name}`,
        context.challenge === 'tls-alpn-01'
          ? `open port ${port} to the internet, or use the dns-01 challenge`
          : `open port ${port} to the internet (HTTP-01), or use tls-alpn-01 (port 443 only) or dns-01`,
      );
    }
    case 'unauthorized':
      return say(
        'E_ACME_CHALLENGE',
        'the CA reached a server that did not give the expected challenge answer: the name points at another machine, or a proxy in front answered',
        'check that DNS points at this server and that nothing in front of it intercepts /.well-known/acme-challenge/ (or the TLS handshake)',
      );
    case 'incorrectResponse':
      return say('E_ACME_CHALLENGE', 'the challenge answer was wrong', 'check that the name points at this server and that no proxy rewrites the challenge');
    case 'caa':
      return say(
        'E_ACME_CHALLENGE',
        'a CAA record forbids this CA from issuing for the name',
        `add a CAA record allowing the CA (e.g. ${name}. CAA 0 issue "letsencrypt.org"), or remove the restrictive one`,
      );
    case 'invalidContact':
    case 'unsupportedContact':
      return say('E_ACME_EMAIL', 'the CA refused the contact email', 'set CERTGATE_ACME_EMAIL to a real address you read (not example.com)');
    case 'rejectedIdentifier':
      return say(
        'E_DOMAIN_NOT_ALLOWED',
        'the CA will not issue for this name',
        'use a name the CA accepts (public names; IPs only where the CA supports them)',
      );
    case 'unsupportedIdentifier':
      return say('E_DOMAIN_NOT_ALLOWED', 'the CA does not support this kind of identifier', 'use a DNS name');
    case 'externalAccountRequired':
      return say('E_ACME_CONFIG', 'the CA requires External Account Binding', 'set the EAB key id and HMAC key from your CA account (e.g. ZeroSSL)');
    case 'badNonce':
      return say('E_ACME_PROBLEM', 'the CA rejected the request nonce repeatedly', 'retry; if it persists, the CA is having trouble');
    case 'serverInternal':
      return say('E_ACME_PROBLEM', 'the CA had an internal error', 'retry later; certgate retries on the next cycle');
    default:
      return say('E_ACME_PROBLEM', `the CA refused: ${problem.detail}`, 'see the ACME problem type in the message; certgate retries on the next cycle');
  }
}
