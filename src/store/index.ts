/**
 * @module store
 * The storage seam (Storage + Locker, key-value), the repository written once on top of it,
 * and the filesystem backend.
 */
export { FsLocker, type FsLockerOptions, FsStorage, type FsStorageOptions, FsStore, type FsStoreOptions } from './fs.ts';
export { certMeta, type MetaFields } from './meta.ts';
export { canonicalName } from './names.ts';
export { Repository } from './repository.ts';
export { checkKey, type KeyInfo, type LockHolder, type LockOptions, type Release, type Storage, type WriteCondition } from './storage.ts';
export type { AccountRecord, AriInfo, CertEvent, CertificateBundle, CertMeta, DomainState, IndexEntry, Locker, Store } from './store.ts';
