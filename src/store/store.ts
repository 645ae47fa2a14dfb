/**
 * @module store/store
 * The storage seam (certmagic's shape): a Store for certificates, keys, state and events, and
 * a Locker so that one node issues a name at a time. The filesystem backend is the embedded
 * default; a PostgreSQL backend implements the same interface for clusters.
 */

export interface AriInfo {
  /** The ARI certificate identifier: base64url(AKI keyIdentifier) "." base64url(serial). */
  certId: string;
  window: { start: string; end: string } | null;
  explanationUrl: string | null;
  checkedAt: string | null;
  /** When the CA asks to be asked again (Retry-After). */
  recheckAt: string | null;
}

export interface CertMeta {
  name: string;
  names: string[];
  issuer: string;
  serialNumber: string;
  notBefore: string;
  notAfter: string;
  issuedAt: string;
  /** ACME directory URL the certificate came from ("local" for the local CA). */
  directory: string;
  accountUrl: string | null;
  keyType: string;
  profile: string | null;
  ari: AriInfo | null;
}

export interface CertificateBundle {
  /** Leaf first, then the chain. */
  certPem: string;
  keyPem: string;
  meta: CertMeta;
}

export interface DomainState {
  attempts: number;
  lastError: { code: string; message: string; at: string } | null;
  nextAttemptAt: string | null;
  /** Stopped renewing automatically after too many failures. */
  flagged: boolean;
}

export interface CertEvent {
  at: string;
  name: string;
  type:
    | 'cert_obtaining'
    | 'cert_obtained'
    | 'cert_failed'
    | 'renewal_scheduled'
    | 'renewal_due'
    | 'renewal_skipped'
    | 'attempts_exhausted'
    | 'attempts_reset'
    | 'ari_checked'
    | 'domain_added'
    | 'domain_removed'
    | 'main_domain_set'
    | 'main_domain_released';
  message: string;
  data?: Record<string, unknown>;
}

export interface AccountRecord {
  directory: string;
  keyPem: string;
  url: string | null;
  email: string | null;
  createdAt: string;
}

/** The fields of a stored certificate a maintenance scan needs, read without the bundles. */
export interface IndexEntry {
  name: string;
  notBefore: string;
  notAfter: string;
  serialNumber: string;
  ariStart: string | null;
  ariEnd: string | null;
}

export interface Store {
  /** Writes certificate, key and meta as one: a reader sees the old pair or the new, never a mix. */
  putBundle(name: string, bundle: CertificateBundle, condition?: WriteCondition): Promise<void>;
  getBundle(name: string): Promise<CertificateBundle | null>;
  deleteBundle(name: string): Promise<void>;
  /** Every stored certificate's index entry: what a maintenance scan reads. */
  scan(): Promise<IndexEntry[]>;
  /** Updates the meta (e.g. a fetched ARI window) without touching the pair. */
  updateMeta(name: string, meta: CertMeta): Promise<void>;
  getState(name: string): Promise<DomainState>;
  putState(name: string, state: DomainState): Promise<void>;
  appendEvent(event: CertEvent): Promise<void>;
  readEvents(name?: string): Promise<CertEvent[]>;
  getAccount(directory: string): Promise<AccountRecord | null>;
  putAccount(record: AccountRecord): Promise<void>;
  /** Small JSON documents (the domain registry). */
  getDocument<T>(key: string): Promise<T | null>;
  putDocument<T>(key: string, value: T): Promise<void>;
  /** Files an outside tool can read for a name (fullchain and key), when the backend has files. */
  filePaths(name: string): { fullchain: string; key: string; meta: string } | null;
  /** Refuses early when a new pair could not be kept (a full disk): checked before a CA is asked. */
  checkWritable?(): Promise<void>;
}

export type { Locker } from './storage.ts';

import type { WriteCondition } from './storage.ts';

export const EMPTY_STATE: DomainState = { attempts: 0, lastError: null, nextAttemptAt: null, flagged: false };
