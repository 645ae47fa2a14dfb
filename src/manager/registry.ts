/**
 * @module manager/registry
 * Which names certgate may obtain certificates for: the main domain (configured, or, as the
 * seeds describe, the first one visited), custom domains added by the operator, and an
 * optional `ask` URL for platforms that keep their own list.
 */
import { request } from 'undici';
import { CertgateError } from '../errors.ts';
import type { Store } from '../store/store.ts';
import { checkIssuable, type PolicyOptions } from './policy.ts';

interface DomainsDoc {
  main: string | null;
  mainSource: 'config' | 'first-visit' | null;
  custom: Array<{ name: string; addedAt: string }>;
}

export interface RegistryOptions extends PolicyOptions {
  store: Store;
  /** CERTGATE_DOMAIN / config. */
  mainDomain?: string;
  /** GET ASK?domain=NAME → 200 means allowed. */
  ask?: string;
  askTimeoutMs?: number;
  clock?: () => Date;
  /** Told loudly when the first visit sets the main domain. */
  onWarning?: (message: string) => void;
}

export interface Decision {
  allowed: boolean;
  name: string;
  /**
   * Why, in the operator's words. A refusal after asking names what the ask endpoint did: its
   * status, or that it could not be reached (URL and error code), never only "not registered".
   */
  reason: string;
  source: 'main' | 'custom' | 'ask' | 'first-visit' | null;
  /** The ask endpoint's HTTP status, when it was asked and answered. */
  askStatus?: number;
  /** Why the ask endpoint could not be asked (e.g. ECONNREFUSED, UND_ERR_HEADERS_TIMEOUT), when it could not. */
  askError?: string;
  /** The URL that was asked (with ?domain=NAME), when the ask endpoint was consulted. */
  askUrl?: string;
}

/** What the ask endpoint said: a status, or the error that kept it from answering. */
type AskAnswer = { url: string; status: number; error?: undefined } | { url: string; status?: undefined; error: string };

export class DomainRegistry {
  readonly #o: RegistryOptions;
  readonly #clock: () => Date;
  constructor(options: RegistryOptions) {
    this.#o = options;
    this.#clock = options.clock ?? (() => new Date());
    if (options.mainDomain) checkIssuable(options.mainDomain, options);
    if (options.ask) {
      try {
        new URL(options.ask);
      } catch {
        throw new CertgateError('E_OPTION', `the ask URL "${options.ask}" is not a URL`, 'e.g. http://127.0.0.1:3000/certgate/ask');
      }
    }
  }

  async #doc(): Promise<DomainsDoc> {
    const doc = (await this.#o.store.getDocument<DomainsDoc>('domains')) ?? { main: null, mainSource: null, custom: [] };
    if (this.#o.mainDomain) return { ...doc, main: checkIssuable(this.#o.mainDomain, this.#o), mainSource: 'config' };
    return doc;
  }

  async list(): Promise<{ main: string | null; mainSource: DomainsDoc['mainSource']; custom: DomainsDoc['custom'] }> {
    return this.#doc();
  }

  async add(input: string): Promise<string> {
    const name = checkIssuable(input, this.#o);
    const doc = await this.#doc();
    if (doc.main === name || doc.custom.some((c) => c.name === name)) return name;
    doc.custom.push({ name, addedAt: this.#clock().toISOString() });
    await this.#save(doc);
    await this.#o.store.appendEvent({ at: this.#clock().toISOString(), name, type: 'domain_added', message: `${name} added as a custom domain` });
    return name;
  }

  async remove(input: string): Promise<string> {
    const doc = await this.#doc();
    const name = input.trim().toLowerCase();
    if (!doc.custom.some((c) => c.name === name)) {
      throw new CertgateError(
        'E_DOMAIN_UNREGISTERED',
        `${name} is not a custom domain`,
        doc.main === name ? 'the main domain comes from CERTGATE_DOMAIN; change it there' : 'run certgate domains list',
      );
    }
    doc.custom = doc.custom.filter((c) => c.name !== name);
    await this.#save(doc);
    await this.#o.store.appendEvent({
      at: this.#clock().toISOString(),
      name,
      type: 'domain_removed',
      message: `${name} removed; its certificate is no longer renewed`,
    });
    return name;
  }

  /**
   * A main domain taken from a first visit whose certificate could not be obtained is given up:
   * any SNI a scanner sends could have claimed it, and a name that cannot be validated here is
   * not yours. The next visit decides again.
   */
  async releaseFirstVisit(name: string, why: string): Promise<boolean> {
    const doc = await this.#doc();
    if (doc.main !== name || doc.mainSource !== 'first-visit') return false;
    doc.main = null;
    doc.mainSource = null;
    await this.#save(doc);
    const msg = `${name} is no longer the main domain: it was taken from a first visit and its certificate could not be obtained (${why}). Set CERTGATE_DOMAIN to choose it yourself`;
    this.#o.onWarning?.(msg);
    await this.#o.store.appendEvent({ at: this.#clock().toISOString(), name, type: 'main_domain_released', message: msg });
    return true;
  }

  async #save(doc: DomainsDoc): Promise<void> {
    // The configured main domain is not written down: configuration stays its source.
    const toStore = doc.mainSource === 'config' ? { ...doc, main: null, mainSource: null } : doc;
    await this.#o.store.putDocument('domains', toStore);
  }

  /**
   * May certgate obtain a certificate for this name? `visit` marks a real handshake or request:
   * with no main domain anywhere, the first visited name becomes it.
   */
  #visitQueue: Promise<void> = Promise.resolve();

  /** Serialises first visits in this process (workers each decide; the store's last write wins there). */
  async #firstVisit(): Promise<() => void> {
    let release: () => void = () => {};
    const mine = new Promise<void>((r) => {
      release = r;
    });
    const before = this.#visitQueue;
    this.#visitQueue = before.then(() => mine);
    await before;
    return release;
  }

  async decide(input: string, options: { visit?: boolean } = {}): Promise<Decision> {
    let name: string;
    try {
      name = checkIssuable(input, this.#o);
    } catch (err) {
      return { allowed: false, name: input, reason: (err as CertgateError).message, source: null };
    }
    const doc = await this.#doc();
    if (doc.main === name) return { allowed: true, name, reason: 'the main domain', source: 'main' };
    if (doc.custom.some((c) => c.name === name)) return { allowed: true, name, reason: 'a custom domain', source: 'custom' };
    const wildcardParent = `*.${name.split('.').slice(1).join('.')}`;
    if (doc.custom.some((c) => c.name === wildcardParent) || doc.main === wildcardParent)
      return { allowed: true, name, reason: `covered by ${wildcardParent}`, source: 'custom' };
    let asked: AskAnswer | null = null;
    if (this.#o.ask) {
      asked = await this.#ask(name);
      if (asked.error !== undefined) {
        return {
          allowed: false,
          name,
          reason: `${name} is not registered here, and the ask endpoint ${asked.url} is unreachable (${asked.error})`,
          source: null,
          askError: asked.error,
          askUrl: asked.url,
        };
      }
      if (asked.status >= 200 && asked.status < 300)
        return { allowed: true, name, reason: `allowed by the ask endpoint (${asked.status})`, source: 'ask', askStatus: asked.status, askUrl: asked.url };
    }
    // With an ask endpoint, it decides: a name it refused never becomes the main domain by a visit
    // (a scanner's random SNI would otherwise get a certificate).
    if (!doc.main && options.visit && !this.#o.ask) {
      // One first visit at a time: four handshakes in the same millisecond made four main domains.
      const release = await this.#firstVisit();
      try {
        const now = await this.#doc();
        if (now.main) return now.main === name ? { allowed: true, name, reason: 'the main domain', source: 'main' } : this.decide(name, {});
        now.main = name;
        now.mainSource = 'first-visit';
        await this.#save(now);
      } finally {
        release();
      }
      const msg = `no main domain was configured: ${name}, the first name visited, is now the main domain. Set CERTGATE_DOMAIN to choose it yourself`;
      this.#o.onWarning?.(msg);
      await this.#o.store.appendEvent({ at: this.#clock().toISOString(), name, type: 'main_domain_set', message: msg });
      return { allowed: true, name, reason: 'the first domain visited (now the main domain)', source: 'first-visit' };
    }
    const registered = `${name} is not registered (main: ${doc.main ?? 'none'})`;
    if (asked?.status !== undefined) {
      return {
        allowed: false,
        name,
        reason: `${registered}, and the ask endpoint ${asked.url} answered ${asked.status}, not 2xx`,
        source: null,
        askStatus: asked.status,
        askUrl: asked.url,
      };
    }
    return { allowed: false, name, reason: registered, source: null };
  }

  async #ask(name: string): Promise<AskAnswer> {
    const url = new URL(this.#o.ask as string);
    url.searchParams.set('domain', name);
    try {
      const res = await request(url, { method: 'GET', headersTimeout: this.#o.askTimeoutMs ?? 5000, bodyTimeout: this.#o.askTimeoutMs ?? 5000 });
      await res.body.dump();
      return { url: url.href, status: res.statusCode };
    } catch (err) {
      const e = err as NodeJS.ErrnoException & { cause?: NodeJS.ErrnoException };
      return { url: url.href, error: e.code ?? e.cause?.code ?? e.message };
    }
  }

  /** Every name to keep renewed: main and custom (the ask list is the platform's). */
  async managedNames(): Promise<string[]> {
    const doc = await this.#doc();
    return [...(doc.main ? [doc.main] : []), ...doc.custom.map((c) => c.name)];
  }
}
