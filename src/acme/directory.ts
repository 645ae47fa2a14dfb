/**
 * @module acme/directory
 * ACME directory presets and the HTTP client trust for the directory's own TLS.
 */
import { CertgateError } from '../errors.ts';

export const DIRECTORIES: Record<string, string> = {
  letsencrypt: 'https://acme-v02.api.letsencrypt.org/directory',
  'letsencrypt-staging': 'https://acme-staging-v02.api.letsencrypt.org/directory',
  zerossl: 'https://acme.zerossl.com/v2/DV90',
};

/** Directories whose CA is public (an email is required, placeholders are warned about). */
export const PUBLIC_DIRECTORIES = new Set(Object.values(DIRECTORIES));

export function resolveDirectory(value: string): string {
  const preset = DIRECTORIES[value];
  if (preset) return preset;
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw new CertgateError(
      'E_ACME_CONFIG',
      `"${value}" is neither a directory preset nor a URL`,
      `use one of ${Object.keys(DIRECTORIES).join(', ')}, or the https:// URL of an RFC 8555 directory`,
    );
  }
  if (url.protocol !== 'https:')
    throw new CertgateError('E_ACME_CONFIG', `the ACME directory ${value} is not https://`, 'ACME directories are served over HTTPS');
  return url.toString();
}
