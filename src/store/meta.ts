/**
 * @module store/meta
 * A stored certificate's metadata: what the certificate itself says (issuer, serial, validity)
 * read from its leaf, and what only the caller knows (names, where it came from).
 */
import { createPrivateKey, X509Certificate } from 'node:crypto';
import { CertgateError } from '../errors.ts';
import { decodeCertificate } from '../pki/certificate.ts';
import { parsePem } from '../pki/pem.ts';
import type { CertMeta, IndexEntry } from './store.ts';

export interface MetaFields {
  name: string;
  names: string[];
  /** The ACME directory URL, or "local" for the local CA. */
  directory: string;
  keyType: string;
  accountUrl?: string | null;
  profile?: string | null;
  issuedAt?: Date;
}

/** The metadata of the leaf (the first certificate) of `certPem`. */
export function certMeta(certPem: string, fields: MetaFields): CertMeta {
  const der = parsePem(certPem).find((b) => b.label === 'CERTIFICATE')?.der;
  if (!der) throw new CertgateError('E_INPUT_FORMAT', 'no certificate in the PEM text', 'pass the leaf (and its chain) as PEM');
  const { info } = decodeCertificate(der);
  return {
    name: fields.name,
    names: fields.names,
    issuer: info.issuer,
    serialNumber: info.serialNumber,
    notBefore: info.notBefore,
    notAfter: info.notAfter,
    issuedAt: (fields.issuedAt ?? new Date()).toISOString(),
    directory: fields.directory,
    accountUrl: fields.accountUrl ?? null,
    keyType: fields.keyType,
    profile: fields.profile ?? null,
    ari: null,
  };
}

/**
 * What is wrong with a stored pair, or null when the certificate parses and the key is its own.
 * A damaged fullchain.pem or privkey.pem would otherwise fail every handshake for the name.
 */
export function pairProblem(bundle: { certPem: string; keyPem: string }): string | null {
  let cert: X509Certificate;
  try {
    const der = parsePem(bundle.certPem).find((b) => b.label === 'CERTIFICATE')?.der;
    if (!der) return 'fullchain.pem holds no certificate';
    cert = new X509Certificate(der);
  } catch {
    return 'fullchain.pem is not a readable certificate';
  }
  try {
    if (!cert.checkPrivateKey(createPrivateKey(bundle.keyPem))) return 'privkey.pem is not the key of the certificate in fullchain.pem';
  } catch {
    return 'privkey.pem is not a readable private key';
  }
  return null;
}

/** What a scan (and the renewal-window rules) read of a stored certificate: its index line. */
export function indexEntryOf(meta: CertMeta, name: string = meta.name): IndexEntry {
  return {
    name,
    notBefore: meta.notBefore,
    notAfter: meta.notAfter,
    serialNumber: meta.serialNumber,
    ariStart: meta.ari?.window?.start ?? null,
    ariEnd: meta.ari?.window?.end ?? null,
  };
}
