/**
 * @module store/rekey
 * Moves every secret of a store to a new store key (from none, from another key, or to none):
 * each certificate's pair is rewritten as one group under that name's issuance lock (a renewal
 * and a rekey of one name never interleave), each account record in one write. Nothing is
 * written before every secret has been checked to open (a wrong old key fails with nothing
 * changed). A crash mid-way leaves each secret under the old key or the new one, and both open
 * with the old and new keys configured: running the rekey again finishes it (secrets already
 * under the new key are skipped).
 */
import { CertgateError } from '../errors.ts';
import { Keyring, type StoreKey } from './crypt.ts';
import { Repository, type SecretRef } from './repository.ts';
import type { Locker } from './storage.ts';

export interface RekeyOptions {
  repository: Repository;
  locker: Locker;
  /** Keys that open what is stored now (the old key, and the new one for a resumed rekey). */
  from: StoreKey[];
  /** The key everything ends under; null: stored plain. */
  to: StoreKey | null;
  signal?: AbortSignal;
  /** Told after each secret, for progress. */
  onSecret?: (s: SecretRef, rewritten: boolean) => void;
}

export interface RekeyReport {
  /** The key id everything is under now; null: plain. */
  keyId: string | null;
  certificates: { total: number; rewritten: number; unchanged: number };
  accounts: { total: number; rewritten: number; unchanged: number };
  /** The TLS session ticket keys file (one, or none yet). */
  tickets: { total: number; rewritten: number; unchanged: number };
  /** Secrets not under the target afterwards (written meanwhile by a node with another key): run again. */
  remaining: number;
}

/** The issuance lock of a name: the manager takes the same one (manager/manager.ts). */
const issueLock = (name: string) => `issue-${name}`;
const CONCURRENCY = 8;

export async function rekeyStore(options: RekeyOptions): Promise<RekeyReport> {
  const { repository, locker, to } = options;
  const from = new Keyring({ current: null, previous: [...options.from, ...(to ? [to] : [])] });
  const target = new Keyring({ current: to });
  const want = to?.id ?? null;
  const release = await locker.lock('store-rekey', options.signal ? { signal: options.signal } : {});
  try {
    const secrets = await repository.secrets();
    // Every secret must open before anything is written: a wrong or missing old key changes nothing.
    const opener = new Repository(repository.storage, { keyring: from });
    await opener.checkSecrets();
    const report: RekeyReport = {
      keyId: want,
      certificates: { total: 0, rewritten: 0, unchanged: 0 },
      accounts: { total: 0, rewritten: 0, unchanged: 0 },
      tickets: { total: 0, rewritten: 0, unchanged: 0 },
      remaining: 0,
    };
    const one = async (s: SecretRef) => {
      options.signal?.throwIfAborted();
      const tally = s.kind === 'certificate' ? report.certificates : s.kind === 'account' ? report.accounts : report.tickets;
      tally.total++;
      if (s.keyId === want) {
        tally.unchanged++;
        options.onSecret?.(s, false);
        return;
      }
      // The ticket keys' writer takes the same lock to rotate them (edge/tickets.ts).
      const name = s.kind === 'certificate' ? issueLock(s.name) : s.kind === 'tickets' ? 'ticket-keys' : null;
      const lock = name ? await locker.lock(name, options.signal ? { signal: options.signal } : {}) : null;
      try {
        const done = await repository.reseal(s, from, target);
        if (done) tally.rewritten++;
        else tally.unchanged++;
        options.onSecret?.(s, done);
      } finally {
        await lock?.();
      }
    };
    // A few pairs at once: each rewrite waits on fsync, not on the CPU.
    for (let i = 0; i < secrets.length; i += CONCURRENCY) await Promise.all(secrets.slice(i, i + CONCURRENCY).map(one));
    report.remaining = (await repository.secrets()).filter((s) => s.keyId !== want).length;
    return report;
  } finally {
    await release();
  }
}

/** Refuses a rekey that would do nothing useful or lose keys, before anything is read. */
export function checkRekeyPlan(to: StoreKey | null, from: StoreKey[], decrypt: boolean): void {
  if (!to && !decrypt)
    throw new CertgateError(
      'E_USAGE',
      'no store key is configured: a rekey would store every private key plain',
      'set CERTGATE_STORE_KEY (or --store-key-file) to the new key, or pass --decrypt to store the keys plain on purpose',
    );
  if (to && decrypt) throw new CertgateError('E_USAGE', '--decrypt and a store key both given', 'unset CERTGATE_STORE_KEY to decrypt, or drop --decrypt');
  if (!to && from.length === 0)
    throw new CertgateError('E_USAGE', '--decrypt needs the key the store is encrypted with', 'set CERTGATE_STORE_KEY_OLD (or --store-key-old-file) to it');
}
