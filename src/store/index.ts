/**
 * @module store
 * The Store and Locker seam and the filesystem backend.
 */
export { FsLocker, type FsLockerOptions, FsStore, type FsStoreOptions } from './fs.ts';
export { certMeta, type MetaFields } from './meta.ts';
export { canonicalName } from './names.ts';
export type { AccountRecord, AriInfo, CertEvent, CertificateBundle, CertMeta, DomainState, IndexEntry, Locker, Store } from './store.ts';
