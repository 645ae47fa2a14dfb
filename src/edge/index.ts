/**
 * @module edge
 * The HTTPS edge for embedding: `Edge` (servers, proxy, redirects, HSTS, on-demand), the
 * handshake certificate cache and the local CA.
 */
export { type CacheOptions, CertCache, type NameContexts } from '../cache/cache.ts';
export { isLocalName, LocalCa, type LocalCaOptions } from '../localca/local-ca.ts';
export { type AccessEntry, watchResponse } from './access-log.ts';
export { clientKey, HandshakeCertificates, type HandshakeOptions, type StandIn } from './certs.ts';
export { Edge, type EdgeOptions, type EdgeSettings, type HstsOptions, requestHost } from './edge.ts';
export { type Forwarded, TrustedProxies } from './forwarded.ts';
export type { EdgeObserver, HandshakeOutcome, OnDemandDecision } from './observer.ts';
export { errorPage, type ForwardInfo, forwardHeaders } from './proxy.ts';
export { TICKET_KEYS_KEY, type TicketKey, TicketKeys, type TicketKeysOptions } from './tickets.ts';
