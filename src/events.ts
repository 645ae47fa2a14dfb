/**
 * @module events
 * One path for every certificate event: persisted (`certgate logs`, the dashboard's history),
 * published on `diagnostics_channel('certgate:event')` for whoever listens (metrics, the admin
 * API's live stream), and handed to an embedder's `onEvent`.
 */
import diagnosticsChannel from 'node:diagnostics_channel';
import type { CertEvent, Store } from './store/store.ts';

export type EventListener = (event: CertEvent) => void;

export const EVENT_CHANNEL = 'certgate:event';
const channel = diagnosticsChannel.channel(EVENT_CHANNEL);

/** Publishes an event that has been persisted. A listener that throws does not fail the caller. */
export function publish(event: CertEvent, onEvent?: EventListener): void {
  if (channel.hasSubscribers) channel.publish(event);
  try {
    onEvent?.(event);
  } catch {
    // an embedder's hook must not break issuance
  }
}

/**
 * The store, with its appendEvent feeding the event path: every engine that records an event
 * (manager, registry, maintainer) publishes it without knowing of listeners.
 */
export function withEventPath<S extends Store>(store: S, onEvent?: EventListener): S {
  const append = store.appendEvent.bind(store);
  return new Proxy(store, {
    get(target, prop) {
      if (prop === 'appendEvent')
        return async (event: CertEvent) => {
          await append(event);
          publish(event, onEvent);
        };
      const v = Reflect.get(target, prop, target);
      return typeof v === 'function' ? v.bind(target) : v;
    },
  });
}
