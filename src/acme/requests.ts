/**
 * @module acme/requests
 * Every HTTP request acme-client makes to a CA, observed: its action (newNonce, newOrder,
 * finalize, ...), its status and how long it took. acme-client sends everything through one
 * axios instance, so its interceptors are the one place that sees all of them (retries and
 * badNonce replays included). Observers are told after the response; nothing here changes a
 * request.
 */
import * as acme from 'acme-client';

export type AcmeAction =
  | 'directory'
  | 'newNonce'
  | 'newAccount'
  | 'newOrder'
  | 'revokeCert'
  | 'keyChange'
  | 'renewalInfo'
  | 'account'
  | 'order'
  | 'authz'
  | 'challenge'
  | 'finalize'
  | 'certificate'
  | 'other';

export interface AcmeRequestObservation {
  action: AcmeAction;
  /** The HTTP status as text ("200", "400"), or "error" when no response came (refused, timed out). */
  status: string;
  /** Seconds from sending to the response (or the failure). */
  seconds: number;
  /** The CA's origin (scheme, host, port). */
  origin: string;
}

export type AcmeRequestObserver = (o: AcmeRequestObservation) => void;

const observers = new Set<AcmeRequestObserver>();
/** Resource URLs learnt from directory documents: exact URL → action. Bounded (a few per CA). */
const resources = new Map<string, AcmeAction>();
const DIRECTORY_KEYS = ['newNonce', 'newAccount', 'newOrder', 'revokeCert', 'keyChange', 'renewalInfo'] as const;
const STARTED = Symbol('certgate.acmeRequestStarted');
let installed = false;

/** The action of a request by its URL: the directory's own resources exactly, the rest by their path. */
export function acmeAction(url: string): AcmeAction {
  const exact = resources.get(url);
  if (exact) return exact;
  for (const [u, a] of resources) if (a === 'renewalInfo' && url.startsWith(`${u}/`)) return a;
  let path: string;
  try {
    path = new URL(url).pathname.toLowerCase();
  } catch {
    return 'other';
  }
  // Order matters: Pebble's "finalize-order" and Let's Encrypt's "/finalize/" both mention order.
  if (/finali[sz]e/.test(path)) return 'finalize';
  if (/authz|authorization/.test(path)) return 'authz';
  if (/chal/.test(path)) return 'challenge';
  if (/cert/.test(path)) return 'certificate';
  if (/order/.test(path)) return 'order';
  if (/acct|account|reg/.test(path)) return 'account';
  if (/dir/.test(path)) return 'directory';
  return 'other';
}

function learn(data: unknown): void {
  if (!data || typeof data !== 'object') return;
  const doc = data as Record<string, unknown>;
  if (typeof doc.newNonce !== 'string' || typeof doc.newOrder !== 'string') return;
  for (const key of DIRECTORY_KEYS) {
    const u = doc[key];
    if (typeof u === 'string' && resources.size < 256) resources.set(u, key);
  }
}

function originOf(url: string): string {
  try {
    return new URL(url).origin;
  } catch {
    return 'unknown';
  }
}

type Config = { url?: string; [STARTED]?: number };

function tell(config: Config | undefined, status: string, data?: unknown): void {
  if (!config?.url) return;
  const started = config[STARTED];
  if (started === undefined) return;
  const seconds = (performance.now() - started) / 1000;
  if (data !== undefined) learn(data);
  const isDirectory = !!data && typeof data === 'object' && typeof (data as { newNonce?: unknown }).newNonce === 'string';
  const o: AcmeRequestObservation = { action: isDirectory ? 'directory' : acmeAction(config.url), status, seconds, origin: originOf(config.url) };
  for (const fn of observers) {
    try {
      fn(o);
    } catch {
      // an observer must not break issuance
    }
  }
}

function install(): void {
  if (installed) return;
  installed = true;
  acme.axios.interceptors.request.use((config) => {
    if (observers.size) (config as Config)[STARTED] = performance.now();
    return config;
  });
  acme.axios.interceptors.response.use(
    (res) => {
      tell(res.config as Config, String(res.status), res.data);
      return res;
    },
    (error: { config?: Config; response?: { status?: number } }) => {
      tell(error.config, error.response?.status ? String(error.response.status) : 'error');
      return Promise.reject(error);
    },
  );
}

/**
 * Tells `observer` about every ACME request of this process (acme-client's axios instance is
 * shared by all issuers). Returns the function that stops it.
 */
export function observeAcmeRequests(observer: AcmeRequestObserver): () => void {
  install();
  observers.add(observer);
  return () => observers.delete(observer);
}
