/**
 * @module edge/observer
 * What the edge tells an observer (metrics): one call per handshake outcome, one per finished
 * proxied request, one per on-demand decision. Absent, it costs nothing: no listener is added.
 * An observer must be cheap and must not throw (it runs on the handshake path).
 */

/** full: a new TLS session; resumed: a session ticket or id was reused; failed: the handshake failed. */
export type HandshakeOutcome = 'full' | 'resumed' | 'failed';

/** issued: obtained at the first handshake; refused: not a name certgate may issue for; over_budget: a budget said no; failed: the CA did not issue. */
export type OnDemandDecision = 'issued' | 'refused' | 'over_budget' | 'failed';

export interface EdgeObserver {
  handshake?(outcome: HandshakeOutcome): void;
  /** A request proxied to an upstream has finished: its status (0 when the client left before an answer) and its duration. */
  request?(status: number, seconds: number): void;
  onDemand?(decision: OnDemandDecision): void;
}
