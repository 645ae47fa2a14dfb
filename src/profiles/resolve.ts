/**
 * @module profiles/resolve
 * Turns a resource's TLS profile into the material a connection needs: the CA list, the
 * client certificate and key (read from their references), the pins. Validated here, once.
 */
import { resolve as resolvePath } from 'node:path';
import { CertgateError } from '../errors.ts';
import { readLimitedSync } from '../input.ts';
import { type Certificate, decodeCertificate } from '../pki/certificate.ts';
import { parseInput } from '../pki/parse.ts';
import { parsePem } from '../pki/pem.ts';
import type { Resource, SecretRef, TlsMode } from './schema.ts';

export interface ResolvedTls {
  mode: TlsMode;
  /** PEM certificates to trust. For pinned: the pinned certificate alone. */
  ca: string[];
  cert?: string;
  key?: string;
  passphrase?: string;
  servername: string | undefined;
  /** SHA-256 fingerprints (colon hex) of the pinned certificate. */
  pinnedFingerprints: string[];
  /** base64 SPKI SHA-256 pins. */
  spkiPins: string[];
  /** A warning to print on every use (mode skip). */
  warning: string | null;
}

export interface ResolveContext {
  /** The trust store's current CA list (ca-certs + system roots). */
  trustCa: readonly string[];
  env: Record<string, string | undefined>;
  /** Directory that relative file references are read from (the resources directory). */
  baseDir: string;
}

export function readSecret(ref: SecretRef, what: string, resource: string, ctx: ResolveContext): string {
  if ('env' in ref) {
    const v = ctx.env[ref.env];
    if (v === undefined || v === '') {
      throw new CertgateError(
        'E_SECRET_MISSING',
        `resource ${resource}: ${what} comes from $${ref.env}, which is not set`,
        `set ${ref.env} in the environment of certgate (or of your app)`,
      );
    }
    return v;
  }
  const path = resolvePath(ctx.baseDir, ref.file);
  try {
    return readLimitedSync(path).toString('utf8');
  } catch (err) {
    const e = err as CertgateError;
    throw new CertgateError(
      e.code === 'E_INPUT_TOO_LARGE' ? 'E_INPUT_TOO_LARGE' : 'E_SECRET_MISSING',
      `resource ${resource}: ${what} file ${path} cannot be read (${e.message.replace(`${path}: `, '')})`,
      'check the path in the resource file and the file permissions',
      { cause: err },
    );
  }
}

function certs(text: string, what: string, resource: string): Certificate[] {
  const blocks = parsePem(text).filter((b) => b.label === 'CERTIFICATE');
  if (!blocks.length) throw new CertgateError('E_RESOURCE_INVALID', `resource ${resource}: ${what} holds no certificate`, 'paste the PEM certificate');
  return blocks.map((b) => decodeCertificate(b.der));
}

export function resolveTls(resource: Resource, ctx: ResolveContext): ResolvedTls {
  const tls = resource.tls;
  const name = resource.name;
  const own = tls.ca === undefined ? [] : Array.isArray(tls.ca) ? tls.ca : [tls.ca];
  let ca: string[] = [...(tls.useTrustStore ? ctx.trustCa : []), ...own];
  const pinnedFingerprints: string[] = [];
  if (tls.mode === 'pinned' && tls.pinnedCert) {
    const pinned = certs(tls.pinnedCert, 'tls.pinnedCert', name);
    pinnedFingerprints.push(...pinned.map((c) => c.info.fingerprints.sha256));
    // Only the pinned certificate is trusted: nothing a CA issues can stand in for it.
    ca = [tls.pinnedCert];
  }
  const out: ResolvedTls = {
    mode: tls.mode,
    ca,
    servername: tls.servername ?? (/^[\d.]+$|:/.test(resource.host) ? undefined : resource.host),
    pinnedFingerprints,
    spkiPins: (tls.pins ?? []).map((p) => p.slice('sha256//'.length)),
    warning:
      tls.mode === 'skip'
        ? `resource ${name}: TLS verification is off (mode skip): the traffic is encrypted but anyone on the path can pose as ${resource.host}`
        : null,
  };
  if (tls.clientCert && tls.clientKey) {
    const certText = typeof tls.clientCert === 'string' ? tls.clientCert : readSecret(tls.clientCert, 'tls.clientCert', name, ctx);
    const keyText = readSecret(tls.clientKey, 'tls.clientKey', name, ctx);
    const passphrase = tls.clientKeyPassphrase ? readSecret(tls.clientKeyPassphrase, 'tls.clientKeyPassphrase', name, ctx).replace(/\r?\n$/, '') : undefined;
    const clientCerts = certs(certText, 'tls.clientCert', name);
    const key = parseInput(Buffer.from(keyText), { source: `resource ${name} tls.clientKey`, ...(passphrase !== undefined ? { password: passphrase } : {}) })
      .keys[0];
    if (!key) throw new CertgateError('E_RESOURCE_INVALID', `resource ${name}: tls.clientKey holds no private key`, 'point it at the client private key (PEM)');
    if (clientCerts[0]?.info.spkiSha256 !== key.info.spkiSha256) {
      throw new CertgateError(
        'E_RESOURCE_INVALID',
        `resource ${name}: tls.clientKey does not belong to tls.clientCert`,
        'pair the client certificate with the key it was issued for',
      );
    }
    out.cert = certText;
    out.key = key.key.export({ type: 'pkcs8', format: 'pem' }) as string;
  }
  return out;
}
