/**
 * @module manager/policy
 * Which names a public CA can be asked for: a registrable name under a public suffix (the
 * Public Suffix List, via tldts), never a bare suffix, never localhost or .internal, an IP only
 * when the CA supports it. Names that fail go to the local CA instead (the edge decides).
 */
import { isIP } from 'node:net';
import { parse } from 'tldts';
import { CertgateError } from '../errors.ts';
import { canonicalName } from '../store/names.ts';

export interface PolicyOptions {
  /** The CA issues for IP addresses (Let's Encrypt short-lived profile; Pebble). Default false. */
  allowIp?: boolean;
  /** Accept names outside the public suffix list (a private ACME CA). Default false. */
  allowNonPublic?: boolean;
}

/** Throws E_DOMAIN_INVALID / E_DOMAIN_NOT_ALLOWED, or returns the canonical name. */
export function checkIssuable(input: string, options: PolicyOptions = {}): string {
  const name = canonicalName(input);
  if (isIP(name)) {
    if (!options.allowIp)
      throw new CertgateError(
        'E_DOMAIN_NOT_ALLOWED',
        `${name} is an IP address; this CA is not configured to issue for IPs`,
        'use a DNS name, or the local CA for private addresses',
      );
    return name;
  }
  if (options.allowNonPublic) return name;
  const base = name.replace(/^\*\./, '');
  const p = parse(base, { allowPrivateDomains: true });
  if (!p.domain) {
    throw new CertgateError(
      'E_DOMAIN_NOT_ALLOWED',
      `${name} is a public suffix${p.publicSuffix === base ? '' : ' or not under one'}: no one owns it`,
      'use a name under a domain you own, e.g. app.example.com',
    );
  }
  if (!p.isIcann && !p.isPrivate) {
    throw new CertgateError(
      'E_DOMAIN_NOT_ALLOWED',
      `${name} is not a public name (.${p.publicSuffix} is not on the public suffix list): a public CA cannot validate it`,
      'use the local CA for internal names (certgate local-ca), or a private ACME CA with allowNonPublic',
    );
  }
  return name;
}

/** The registered domain a rate limit counts against (Let's Encrypt: per registered domain). */
export function registeredDomain(name: string): string {
  const base = name.replace(/^\*\./, '');
  return isIP(base) ? base : (parse(base, { allowPrivateDomains: true }).domain ?? base);
}
