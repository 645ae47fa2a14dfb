/**
 * @module store
 * The storage seam (Storage + Locker, key-value), the repository written once on top of it,
 * the filesystem backend, private keys sealed at rest (crypt), and copy / rekey of a whole store.
 */
export { type CopyOptions, type CopyReport, copyStore, storeDigest } from './copy.ts';
export { Keyring, type KeyringOptions, keyringFrom, parseStoreKey, readStoreKeyFile, type SecretKind, type StoreKey, storeKeyId } from './crypt.ts';
export { FsLocker, type FsLockerOptions, FsStorage, type FsStorageOptions, FsStore, type FsStoreOptions } from './fs.ts';
export { certMeta, type MetaFields } from './meta.ts';
export { canonicalName } from './names.ts';
export { type OpenedStorage, type OpenStorageOptions, openStorage } from './open.ts';
export { type RekeyOptions, type RekeyReport, rekeyStore } from './rekey.ts';
export { isPrivateKey, Repository, type RepositoryOptions, type SecretRef, STORE_PREFIXES } from './repository.ts';
export { checkKey, type KeyInfo, type LockHolder, type LockOptions, type Release, type Storage, type WriteCondition } from './storage.ts';
export type { AccountRecord, AriInfo, CertEvent, CertificateBundle, CertMeta, DomainState, IndexEntry, Locker, Store } from './store.ts';
