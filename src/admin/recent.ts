/**
 * @module admin/recent
 * The last events seen on the event path since the admin listener started, in memory: the
 * dashboard's first page shows them without reading every name's stored log (one file per name
 * on the filesystem backend: 10,000 reads for 10,000 names).
 */
import diagnosticsChannel from 'node:diagnostics_channel';
import { EVENT_CHANNEL } from '../events.ts';
import type { CertEvent } from '../store/store.ts';

export class RecentEvents {
  readonly #max: number;
  readonly #list: CertEvent[] = [];
  readonly #listener = (m: unknown) => {
    this.#list.push(m as CertEvent);
    if (this.#list.length > this.#max) this.#list.shift();
  };

  constructor(max = 200) {
    this.#max = max;
    diagnosticsChannel.subscribe(EVENT_CHANNEL, this.#listener);
  }

  /** Newest first. */
  latest(n: number): CertEvent[] {
    return this.#list.slice(-n).reverse();
  }

  close(): void {
    diagnosticsChannel.unsubscribe(EVENT_CHANNEL, this.#listener);
  }
}
