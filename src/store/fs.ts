/**
 * @module store/fs
 * The filesystem backend as the embedded default: the repository over FsStorage, and the file
 * locker. Layout under the data directory:
 *
 *   certificates/<name> → .versions/<name>/<id>/   a symlink swapped atomically; the version
 *                                                   holds fullchain.pem, privkey.pem (0600), meta.json
 *   certificates/index.log                          one JSON line per write: what a scan reads
 *   state/<name>.json  events/<name>.jsonl  accounts/<hash>.json (0600)  docs/<key>.json  locks/
 */
import { CertgateError } from '../errors.ts';
import type { Keyring } from './crypt.ts';
import { FsStorage } from './fs-storage.ts';
import { Repository } from './repository.ts';

export { FsLocker, type FsLockerOptions, FsStorage, type FsStorageOptions } from './fs-storage.ts';

export interface FsStoreOptions {
  /** certgate's data directory. */
  root: string;
  /** Seals private keys at rest (see store/crypt); default: none. */
  keyring?: Keyring;
}

export class FsStore extends Repository {
  readonly root: string;

  constructor(options: FsStoreOptions) {
    if (!options?.root) throw new CertgateError('E_OPTION', 'the filesystem store needs a directory', 'pass { root: "/var/lib/certgate" }', { option: 'data' });
    super(new FsStorage({ root: options.root }), options.keyring ? { keyring: options.keyring } : {});
    this.root = options.root;
  }

  override filePaths(name: string): { fullchain: string; key: string; meta: string } {
    return super.filePaths(name) as { fullchain: string; key: string; meta: string };
  }
}
