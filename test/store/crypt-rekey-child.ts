// Rekeys a store from one key to another until done, announcing itself first: the crash test
// kills it (SIGKILL) somewhere in the middle.
import { parseStoreKey } from '../../src/store/crypt.ts';
import { FsLocker, FsStorage } from '../../src/store/fs-storage.ts';
import { rekeyStore } from '../../src/store/rekey.ts';
import { Repository } from '../../src/store/repository.ts';

const [root, from, to] = process.argv.slice(2) as [string, string, string];
const repository = new Repository(new FsStorage({ root }));
process.stdout.write('ready\n');
await rekeyStore({ repository, locker: new FsLocker({ root }), from: [parseStoreKey(from)], to: parseStoreKey(to) });
process.stdout.write('done\n');
