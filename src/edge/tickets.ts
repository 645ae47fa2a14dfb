/**
 * @module edge/tickets
 * TLS session ticket keys shared by every serving process through the store, so that a ticket
 * one worker (or one node) issued resumes on any other.
 *
 * Node holds one ticket key per server (`server.setTicketKeys()`, 48 bytes: a 16-byte name, a
 * 16-byte HMAC secret and a 16-byte AES key, as RFC 5077 suggests) and uses it to encrypt and to
 * decrypt; a ticket under any other key gets a full handshake (and a new ticket). There is no
 * "old keys still decrypt" window to be had from Node. So keys are scheduled instead of swapped:
 * the store holds the current key and the next one with the moment it takes over
 * (`activeFrom`), written well before that moment; every process switches at that moment from
 * memory, nobody waits for a message. A rotation therefore costs one full handshake to a client
 * whose ticket was issued under the old key and is still within its lifetime (Node's
 * sessionTimeout, 300 s): about 300 s / 12 h = 0.7% of returning clients, once per rotation.
 *
 * One process writes (the one running maintenance), under the Locker; every serving process
 * reads. Stored private (0600 on the filesystem), never logged: a log line names a key by its
 * id (the hex of its first 4 bytes, which every ticket carries in clear anyway).
 */
import { randomBytes } from 'node:crypto';
import { CertgateError } from '../errors.ts';
import type { Locker, Storage } from '../store/storage.ts';

export const TICKET_KEYS_KEY = 'tickets/keys.json';
const LOCK = 'ticket-keys';
const KEY_BYTES = 48;

export interface TicketKeysOptions {
  storage: Storage;
  /** Needed by the process that rotates (rotate()); readers need none. */
  locker?: Locker;
  /** How long one key encrypts (default 12 h). */
  rotateMs?: number;
  /**
   * How long before it takes over a next key is written (default 1 h): every reader must have
   * loaded it by then (readers load at start, when told, and every `refreshMs` of the runtime).
   */
  leadMs?: number;
  clock?: () => number;
  random?: (n: number) => Buffer;
  /**
   * How the file is sealed at rest (the store key's AES-256-GCM, as private keys are); absent:
   * written as JSON, mode 0600.
   */
  codec?: TicketCodec;
}

export interface TicketCodec {
  seal(text: string): string;
  open(text: string): string;
}

const PLAIN: TicketCodec = { seal: (t) => t, open: (t) => t };

interface StoredKey {
  /** Hex of the key's first 4 bytes (part of its public name): what logs show. */
  id: string;
  /** base64 of the 48 bytes. */
  key: string;
  /** ISO time from which it encrypts and decrypts. */
  activeFrom: string;
}

interface StoredKeys {
  version: 1;
  keys: StoredKey[];
}

export interface TicketKey {
  id: string;
  key: Buffer;
  activeFrom: number;
}

function parse(bytes: Buffer | null, codec: TicketCodec): TicketKey[] {
  if (!bytes) return [];
  // A store key that does not open it is the store key's error (E_STORE_KEY_*), said as such.
  const text = codec.open(bytes.toString('utf8'));
  let doc: StoredKeys;
  try {
    doc = JSON.parse(text) as StoredKeys;
  } catch (err) {
    throw new CertgateError('E_STORE', `${TICKET_KEYS_KEY} is damaged (not JSON)`, `remove it: new ticket keys are written at the next start`, {
      cause: err,
    });
  }
  const out: TicketKey[] = [];
  for (const k of Array.isArray(doc?.keys) ? doc.keys : []) {
    const key = Buffer.from(String(k.key), 'base64');
    const activeFrom = Date.parse(String(k.activeFrom));
    if (key.length === KEY_BYTES && Number.isFinite(activeFrom)) out.push({ id: String(k.id), key, activeFrom });
  }
  return out.sort((a, b) => a.activeFrom - b.activeFrom);
}

export class TicketKeys {
  readonly #storage: Storage;
  readonly #locker: Locker | undefined;
  readonly #rotateMs: number;
  readonly #leadMs: number;
  readonly #clock: () => number;
  readonly #random: (n: number) => Buffer;
  readonly #codec: TicketCodec;
  #keys: TicketKey[] = [];

  constructor(options: TicketKeysOptions) {
    for (const [k, v] of Object.entries({ rotateMs: options.rotateMs, leadMs: options.leadMs }))
      if (v !== undefined && (!Number.isFinite(v) || v <= 0))
        throw new CertgateError('E_OPTION', `ticket keys: ${k} must be a positive number of ms, got ${v}`, `omit ${k} for the default`);
    this.#storage = options.storage;
    this.#locker = options.locker;
    this.#codec = options.codec ?? PLAIN;
    this.#rotateMs = options.rotateMs ?? 12 * 3600_000;
    this.#leadMs = options.leadMs ?? 3600_000;
    if (this.#leadMs >= this.#rotateMs)
      throw new CertgateError('E_OPTION', 'ticket keys: leadMs must be shorter than rotateMs', 'omit both for the defaults (12 h, 1 h)');
    this.#clock = options.clock ?? Date.now;
    this.#random = options.random ?? randomBytes;
  }

  /** Reads the keys from the store (what every serving process does at start, when told, and on a timer). */
  async load(): Promise<void> {
    this.#keys = parse(await this.#storage.load(TICKET_KEYS_KEY), this.#codec);
  }

  /** The time by this object's clock (injected in tests). */
  now(): number {
    return this.#clock();
  }

  /** The key that encrypts now: the latest one whose time has come; null before any is stored. */
  current(now = this.#clock()): TicketKey | null {
    let cur: TicketKey | null = null;
    for (const k of this.#keys) if (k.activeFrom <= now) cur = k;
    return cur;
  }

  /** When the next loaded key takes over, or null when none is scheduled. */
  nextChangeAt(now = this.#clock()): number | null {
    for (const k of this.#keys) if (k.activeFrom > now) return k.activeFrom;
    return null;
  }

  /**
   * Makes sure the store holds a current key and the next one, written `leadMs` or more before
   * it takes over, and drops keys no longer current; under the lock, so that one process writes
   * at a time (several nodes may try). When another process holds the lock, this one reads what
   * is stored and leaves the writing to it (a start never waits for a lock left by a crashed
   * process). Returns whether it wrote.
   */
  async rotate(): Promise<boolean> {
    if (!this.#locker) throw new CertgateError('E_OPTION', 'ticket keys: rotate() needs a locker', 'pass { locker } to the process that rotates');
    const release = await this.#locker.tryLock(LOCK);
    if (!release) {
      await this.load();
      return false;
    }
    try {
      const keys = parse(await this.#storage.load(TICKET_KEYS_KEY), this.#codec);
      const now = this.#clock();
      const make = (activeFrom: number): TicketKey => {
        const key = this.#random(KEY_BYTES);
        return { id: key.subarray(0, 4).toString('hex'), key, activeFrom };
      };
      let current: TicketKey | null = null;
      for (const k of keys) if (k.activeFrom <= now) current = k;
      let next = keys.find((k) => k.activeFrom > now) ?? null;
      const fresh: TicketKey[] = [];
      if (!current) {
        current = make(now);
        fresh.push(current);
      }
      if (!next) {
        // A current key older than its period (nobody rotated for a while) is replaced soon, not
        // now: readers must see the next key before it takes over.
        next = make(Math.max(current.activeFrom + this.#rotateMs, now + this.#leadMs));
        fresh.push(next);
      }
      const kept = [current, next];
      if (fresh.length === 0 && keys.length === kept.length) {
        this.#keys = keys;
        return false;
      }
      const doc: StoredKeys = {
        version: 1,
        keys: kept.map((k) => ({ id: k.id, key: k.key.toString('base64'), activeFrom: new Date(k.activeFrom).toISOString() })),
      };
      await this.#storage.store(TICKET_KEYS_KEY, this.#codec.seal(`${JSON.stringify(doc, null, 2)}\n`), { private: true });
      this.#keys = kept;
      return true;
    } finally {
      await release();
    }
  }

  /** When rotate() has something to do next: when the scheduled key takes over (the one after it is written then), or at once when none is. */
  rotateDueAt(now = this.#clock()): number {
    const next = this.nextChangeAt(now);
    return next === null ? now : next;
  }
}
