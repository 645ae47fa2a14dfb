/**
 * @module issuer
 * The issuer seam (certmagic's `Issuer`): whatever can turn names into a certificate bundle. The
 * ACME issuer and the local CA both implement it; the manager tries a name's issuers in turn.
 */
import type { CertificateBundle, CertMeta } from './store/store.ts';

export interface IssueRequest {
  keyType?: 'ec-p256' | 'ec-p384' | 'rsa-2048' | 'rsa-3072' | 'rsa-4096';
  profile?: string;
  /** The ARI certID of the certificate this one replaces (ACME; same account only). */
  replaces?: string;
  signal?: AbortSignal;
}

export interface Issuer {
  /** Stable and unique among issuers: `acme:<directory URL>`, `local`. */
  readonly id: string;
  issue(names: string[], request?: IssueRequest): Promise<CertificateBundle>;
  /** Whether a new certificate may say it replaces this one (ARI: the same account issued it). */
  canReplace?(meta: CertMeta): boolean;
}
