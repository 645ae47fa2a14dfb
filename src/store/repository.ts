/**
 * @module store/repository
 * Everything domain-shaped about storage, written once for every backend: certificate bundles
 * (a group of three keys replaced as one), the index a maintenance scan reads, per-name state
 * and events, ACME accounts and small documents. A backend only implements Storage.
 *
 *   certificates/<name>/{fullchain.pem, privkey.pem, meta.json}   one group
 *   certificates/index.log   state/<name>.json   events/<name>.jsonl   accounts/<hash>.json   docs/<key>.json
 */
import { createHash } from 'node:crypto';
import { CertgateError } from '../errors.ts';
import { type Keyring, NO_KEYS, type SecretKind, sealedKeyId } from './crypt.ts';
import { indexEntryOf } from './meta.ts';
import { canonicalName, nameFromSegment, pathSegment } from './names.ts';
import type { Storage, WriteCondition } from './storage.ts';
import {
  type AccountRecord,
  type CertEvent,
  type CertificateBundle,
  type CertMeta,
  type DomainState,
  EMPTY_STATE,
  type IndexEntry,
  type Store,
} from './store.ts';

const INDEX = 'certificates/index.log';

/**
 * The top-level directories the repository keeps: what `store copy` copies and a rekey walks.
 * A new kind of record gets its prefix here.
 */
export const STORE_PREFIXES = ['certificates', 'state', 'events', 'accounts', 'docs'] as const;

/** Keys written private (0600 on the filesystem): private keys and account records. */
export function isPrivateKey(key: string): boolean {
  return key.endsWith('/privkey.pem') || key.startsWith('accounts/');
}

/** One secret the repository keeps, as a rekey walks them. */
/** The TLS session ticket keys (edge/tickets.ts writes them): a secret, sealed whole with a store key. */
export const TICKETS_KEY = 'tickets/keys.json';

export interface SecretRef {
  kind: SecretKind;
  /** The certificate name, or the ACME directory URL of an account. */
  name: string;
  /** Where it is stored. */
  key: string;
  /** The key id that sealed it; null when it is plain. */
  keyId: string | null;
}

export interface RepositoryOptions {
  /** Seals private keys on write and opens them on read; default: no key (plain). */
  keyring?: Keyring;
}

function parseJson<T>(bytes: Buffer | null, key: string): T | null {
  if (bytes === null) return null;
  try {
    return JSON.parse(bytes.toString('utf8')) as T;
  } catch (err) {
    throw new CertgateError('E_STORE', `${key} is damaged (not JSON)`, `remove it: it is rebuilt or written again (${key})`, { cause: err });
  }
}

/** JSON lines; a torn last line (a crash mid-append) is skipped. */
function jsonLines<T>(text: string): T[] {
  const out: T[] = [];
  for (const line of text.split('\n')) {
    if (!line) continue;
    try {
      out.push(JSON.parse(line) as T);
    } catch {
      // torn line
    }
  }
  return out;
}

export class Repository implements Store {
  readonly storage: Storage;
  readonly keyring: Keyring;

  constructor(storage: Storage, options: RepositoryOptions = {}) {
    if (!storage) throw new CertgateError('E_OPTION', 'the repository needs a storage backend', 'pass new FsStorage({ root }) or another Storage');
    this.storage = storage;
    this.keyring = options.keyring ?? NO_KEYS;
  }
  /** Removes leftovers of writers killed mid-write (see Storage.sweep); the paths removed. */
  async sweep(olderThanMs?: number): Promise<string[]> {
    return (await this.storage.sweep?.(olderThanMs)) ?? [];
  }

  #certKey(name: string): string {
    return `certificates/${pathSegment(canonicalName(name))}`;
  }

  #seg(name: string): string {
    return pathSegment(canonicalName(name));
  }

  /** Files an outside tool (a web server) can read, when the backend has files. */
  filePaths(name: string): { fullchain: string; key: string; meta: string } | null {
    const base = this.#certKey(name);
    const pathOf = this.storage.pathOf?.bind(this.storage);
    if (!pathOf) return null;
    return { fullchain: pathOf(`${base}/fullchain.pem`), key: pathOf(`${base}/privkey.pem`), meta: pathOf(`${base}/meta.json`) };
  }

  async putBundle(name: string, bundle: CertificateBundle, condition?: WriteCondition): Promise<void> {
    await this.storage.storeGroup(
      this.#certKey(name),
      {
        'privkey.pem': { value: this.keyring.seal('certificate', canonicalName(name), bundle.keyPem), private: true },
        'fullchain.pem': { value: bundle.certPem },
        'meta.json': { value: JSON.stringify(bundle.meta, null, 2) },
      },
      condition,
    );
    await this.storage.append(INDEX, `${JSON.stringify(indexEntryOf(bundle.meta))}\n`);
  }

  async getBundle(name: string): Promise<CertificateBundle | null> {
    const base = this.#certKey(name);
    const [cert, key, meta] = await Promise.all([
      this.storage.load(`${base}/fullchain.pem`),
      this.storage.load(`${base}/privkey.pem`),
      this.storage.load(`${base}/meta.json`),
    ]);
    if (!cert || !key || !meta) return null;
    const keyPem = this.keyring.open('certificate', canonicalName(name), key.toString('utf8'), `${base}/privkey.pem`);
    return { certPem: cert.toString('utf8'), keyPem, meta: parseJson<CertMeta>(meta, `${base}/meta.json`) as CertMeta };
  }

  async updateMeta(name: string, meta: CertMeta): Promise<void> {
    const bundle = await this.getBundle(name);
    if (!bundle) return;
    // Rewritten as a group: the meta belongs to the pair it describes.
    await this.putBundle(name, { ...bundle, meta });
  }

  async deleteBundle(name: string): Promise<void> {
    await this.storage.delete(this.#certKey(name));
    await this.storage.append(INDEX, `${JSON.stringify({ name: canonicalName(name), deleted: true })}\n`);
  }

  /** The index (one line per write, the last per name wins), rebuilt from the bundles when missing. */
  async scan(): Promise<IndexEntry[]> {
    const text = await this.storage.load(INDEX);
    if (text === null) return this.#rebuildIndex();
    const latest = new Map<string, IndexEntry | null>();
    let lines = 0;
    for (const e of jsonLines<IndexEntry & { deleted?: boolean }>(text.toString('utf8'))) {
      lines++;
      latest.set(e.name, e.deleted ? null : e);
    }
    const out = [...latest.values()].filter((e): e is IndexEntry => e !== null);
    if (lines > 2 * out.length + 1000) await this.#compact(out);
    return out;
  }

  async #compact(entries: IndexEntry[]): Promise<void> {
    await this.storage.store(INDEX, entries.map((e) => `${JSON.stringify(e)}\n`).join(''));
  }

  async #rebuildIndex(): Promise<IndexEntry[]> {
    const out: IndexEntry[] = [];
    for (const key of await this.storage.list('certificates', false)) {
      if (key === INDEX) continue;
      const meta = parseJson<CertMeta>(await this.storage.load(`${key}/meta.json`), `${key}/meta.json`);
      if (meta) out.push(indexEntryOf(meta));
    }
    if (out.length) await this.#compact(out);
    return out;
  }

  async getState(name: string): Promise<DomainState> {
    const key = `state/${this.#seg(name)}.json`;
    return parseJson<DomainState>(await this.storage.load(key), key) ?? { ...EMPTY_STATE };
  }

  /** Every name with recorded state (attempts, failures), with or without a certificate. */
  async statedNames(): Promise<string[]> {
    return (await this.storage.list('state', false)).filter((k) => k.endsWith('.json')).map((k) => nameFromSegment(k.slice('state/'.length, -'.json'.length)));
  }

  async putState(name: string, state: DomainState): Promise<void> {
    await this.storage.store(`state/${this.#seg(name)}.json`, JSON.stringify(state, null, 2));
  }

  async appendEvent(event: CertEvent): Promise<void> {
    await this.storage.append(`events/${this.#seg(event.name)}.jsonl`, `${JSON.stringify(event)}\n`);
  }

  async readEvents(name?: string): Promise<CertEvent[]> {
    const keys = name ? [`events/${this.#seg(name)}.jsonl`] : (await this.storage.list('events', false)).filter((k) => k.endsWith('.jsonl'));
    const events: CertEvent[] = [];
    for (const key of keys) events.push(...jsonLines<CertEvent>((await this.storage.load(key))?.toString('utf8') ?? ''));
    return events.sort((a, b) => a.at.localeCompare(b.at));
  }

  #accountKey(directory: string): string {
    return `accounts/${createHash('sha256').update(directory).digest('hex').slice(0, 16)}.json`;
  }

  async getAccount(directory: string): Promise<AccountRecord | null> {
    const key = this.#accountKey(directory);
    const record = parseJson<AccountRecord>(await this.storage.load(key), key);
    if (!record) return null;
    return { ...record, keyPem: this.keyring.open('account', record.directory, record.keyPem, key) };
  }

  async putAccount(record: AccountRecord): Promise<void> {
    const sealed = { ...record, keyPem: this.keyring.seal('account', record.directory, record.keyPem) };
    await this.storage.store(this.#accountKey(record.directory), JSON.stringify(sealed, null, 2), { private: true });
  }

  /** Every secret in the store, with the key id that sealed it (nothing is decrypted). */
  async secrets(): Promise<SecretRef[]> {
    const dirs = (await this.storage.list('certificates', false)).filter((d) => d !== INDEX);
    const certs: Array<SecretRef | null> = [];
    // Read a few at a time: a start-up check over 100k certificates must not take minutes.
    for (let i = 0; i < dirs.length; i += 32)
      certs.push(
        ...(await Promise.all(
          dirs.slice(i, i + 32).map(async (dir): Promise<SecretRef | null> => {
            const key = `${dir}/privkey.pem`;
            const value = await this.storage.load(key);
            if (value === null) return null;
            return { kind: 'certificate', name: nameFromSegment(dir.slice('certificates/'.length)), key, keyId: sealedKeyId(value.toString('utf8'), key) };
          }),
        )),
      );
    const out = certs.filter((s): s is SecretRef => s !== null);
    for (const key of await this.storage.list('accounts', false)) {
      const record = parseJson<AccountRecord>(await this.storage.load(key), key);
      if (!record || typeof record.keyPem !== 'string') continue;
      out.push({ kind: 'account', name: record.directory, key, keyId: sealedKeyId(record.keyPem, key) });
    }
    const tickets = await this.storage.load(TICKETS_KEY);
    if (tickets !== null) out.push({ kind: 'tickets', name: 'tickets', key: TICKETS_KEY, keyId: sealedKeyId(tickets.toString('utf8'), TICKETS_KEY) });
    return out;
  }

  /**
   * Refuses a keyring that cannot open the store: every sealed secret's key id must be one the
   * keyring has. Read only, nothing is decrypted: what a node checks before it starts.
   */
  async checkSecrets(): Promise<{ plain: number; sealed: Record<string, number> }> {
    const all = await this.secrets();
    const sealed: Record<string, number> = {};
    for (const s of all) if (s.keyId !== null) sealed[s.keyId] = (sealed[s.keyId] ?? 0) + 1;
    const unknown = all.find((s) => s.keyId !== null && !this.keyring.ids.includes(s.keyId));
    if (unknown) {
      // The words a read would use, with how many secrets that key sealed.
      try {
        this.keyring.open(unknown.kind, unknown.name, (await this.#rawSecret(unknown)) ?? '', unknown.key);
      } catch (err) {
        const e = err as CertgateError;
        const n = sealed[unknown.keyId as string] ?? 0;
        throw new CertgateError(e.code, `${e.message} (${n} secret${n === 1 ? '' : 's'} in the store use${n === 1 ? 's' : ''} that key)`, e.fix, {
          cause: err,
        });
      }
    }
    return { plain: all.length - Object.values(sealed).reduce((a, b) => a + b, 0), sealed };
  }

  async #rawSecret(s: SecretRef): Promise<string | null> {
    const value = await this.storage.load(s.key);
    if (value === null) return null;
    if (s.kind === 'certificate' || s.kind === 'tickets') return value.toString('utf8');
    return parseJson<AccountRecord>(value, s.key)?.keyPem ?? null;
  }

  /**
   * Rewrites one secret under `to` (sealed with its current key, or plain without one), opening
   * it with `from`. A certificate's pair is rewritten as one group (the certificate and meta
   * unchanged), so a crash leaves the old envelope or the new one. False when the secret is gone
   * or already as wanted.
   */
  async reseal(s: SecretRef, from: Keyring, to: Keyring): Promise<boolean> {
    const want = to.current?.id ?? null;
    if (s.kind === 'certificate') {
      const base = s.key.slice(0, -'/privkey.pem'.length);
      const [cert, key, meta] = await Promise.all([
        this.storage.load(`${base}/fullchain.pem`),
        this.storage.load(s.key),
        this.storage.load(`${base}/meta.json`),
      ]);
      if (!cert || !key || !meta) return false;
      const stored = key.toString('utf8');
      if (sealedKeyId(stored, s.key) === want) return false;
      const plain = from.open('certificate', s.name, stored, s.key);
      await this.storage.storeGroup(base, {
        'privkey.pem': { value: to.seal('certificate', s.name, plain), private: true },
        'fullchain.pem': { value: cert },
        'meta.json': { value: meta },
      });
      return true;
    }
    const value = await this.storage.load(s.key);
    if (s.kind === 'tickets') {
      if (value === null) return false;
      const stored = value.toString('utf8');
      if (sealedKeyId(stored, s.key) === want) return false;
      await this.storage.store(s.key, to.seal('tickets', s.name, from.open('tickets', s.name, stored, s.key)), { private: true });
      return true;
    }
    const record = parseJson<AccountRecord>(value, s.key);
    if (!record) return false;
    if (sealedKeyId(record.keyPem, s.key) === want) return false;
    const plain = from.open('account', record.directory, record.keyPem, s.key);
    await this.storage.store(s.key, JSON.stringify({ ...record, keyPem: to.seal('account', record.directory, plain) }, null, 2), { private: true });
    return true;
  }

  #docKey(key: string): string {
    return `docs/${key.replace(/[^a-z0-9-]/gi, '_')}.json`;
  }

  async getDocument<T>(key: string): Promise<T | null> {
    return parseJson<T>(await this.storage.load(this.#docKey(key)), this.#docKey(key));
  }

  async putDocument<T>(key: string, value: T): Promise<void> {
    await this.storage.store(this.#docKey(key), JSON.stringify(value, null, 2));
  }

  /** Refuses before an order when the pair could not be kept (see Storage.checkWritable). */
  checkWritable(): Promise<void> {
    return this.storage.checkWritable(16 * 1024);
  }
}
