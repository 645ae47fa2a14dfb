/**
 * @module store/names
 * Domain names are validated before they become paths: no traversal, no surprises.
 */

import { isIP } from 'node:net';
import { domainToASCII } from 'node:url';
import { CertgateError } from '../errors.ts';
import { excerpt } from '../text/excerpt.ts';

const LABEL = /^(?!-)[a-z0-9-]{1,63}(?<!-)$/;

/**
 * The canonical form of a certificate name: lower-case ASCII (IDNA), optional leading `*.`.
 * Throws E_DOMAIN_INVALID with the reason.
 */
export function canonicalName(input: string): string {
  const raw = input.trim().replace(/\.$/, '');
  const bad = (why: string) =>
    new CertgateError(
      'E_DOMAIN_INVALID',
      `"${excerpt(input)}" is not a valid domain name: ${why}`,
      'use a name like app.example.com (or *.example.com for a wildcard)',
    );
  if (!raw) throw bad('it is empty');
  if (raw.length > 253) throw bad(`it is ${raw.length} characters long; the limit is 253`);
  if (isIP(raw)) return raw;
  const wildcard = raw.startsWith('*.');
  const rest = wildcard ? raw.slice(2) : raw;
  if (rest.includes('*')) throw bad('a wildcard may only be the whole leftmost label (*.example.com)');
  if (/[/\\\s]/.test(rest) || rest.includes('..')) throw bad('it contains a path character, a space or an empty label');
  const ascii = domainToASCII(rest);
  if (!ascii) throw bad('it is not a valid internationalized name');
  const labels = ascii.split('.');
  if (labels.length < 2) throw bad('it has a single label; certificates are for names like app.example.com');
  for (const label of labels) if (!LABEL.test(label)) throw bad(`the label "${label}" is not allowed (letters, digits and inner hyphens, 1 to 63 characters)`);
  const name = `${wildcard ? '*.' : ''}${ascii}`;
  if (name.length > 253) throw bad('it is longer than 253 characters');
  return name;
}

/** The directory name for a certificate name (`*` is not a good character in paths). */
export function pathSegment(name: string): string {
  return name.replace(/^\*\./, '_wildcard_.').replace(/:/g, '_');
}

export function nameFromSegment(segment: string): string {
  return segment.replace(/^_wildcard_\./, '*.');
}
