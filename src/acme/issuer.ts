/**
 * @module acme/issuer
 * Issuance over ACME with the `acme-client` library (no hand-written JWS or nonce handling):
 * account, orders with profile and ARI `replaces`, HTTP-01 / TLS-ALPN-01 / DNS-01 with a
 * documented fallback order, and problem documents kept whole.
 */
import { AsyncLocalStorage } from 'node:async_hooks';
import { generateKeyPairSync } from 'node:crypto';
import { Agent as HttpsAgent } from 'node:https';
import { createSecureContext, rootCertificates } from 'node:tls';
import * as acme from 'acme-client';
import { request, Agent as UndiciAgent } from 'undici';
import { CertgateError } from '../errors.ts';
import type { Issuer } from '../issuer.ts';
import { decodeCertificate } from '../pki/certificate.ts';
import { parsePem } from '../pki/pem.ts';
import { certMeta } from '../store/meta.ts';
import type { AccountRecord, AriInfo, CertificateBundle, CertMeta, Store } from '../store/store.ts';
import { excerpt } from '../text/excerpt.ts';
import { ariCertId, fetchRenewalInfo } from './ari.ts';
import { type ChallengeAnswers, type ChallengeType, runDnsHook } from './challenges.ts';
import { PUBLIC_DIRECTORIES, resolveDirectory } from './directory.ts';
import { AcmeError, type AcmeProblem, explainProblem, isProblem } from './problems.ts';

export type KeyType = 'ec-p256' | 'ec-p384' | 'rsa-2048' | 'rsa-3072' | 'rsa-4096';
export const KEY_TYPES: readonly KeyType[] = ['ec-p256', 'ec-p384', 'rsa-2048', 'rsa-3072', 'rsa-4096'];
export const CHALLENGE_ORDER: readonly ChallengeType[] = ['http-01', 'tls-alpn-01', 'dns-01'];

export interface AcmeIssuerOptions {
  /** Preset (letsencrypt, letsencrypt-staging, zerossl) or the directory URL. */
  directory: string;
  email?: string;
  /** The CA's terms of service must be agreed to explicitly. */
  agreeToTerms: boolean;
  /** PEM of a CA trusted for the directory's own HTTPS (Pebble, a private CA). */
  caRootPem?: string;
  eab?: { kid: string; hmacKey: string };
  store: Store;
  answers: ChallengeAnswers;
  /** Challenge types to use, in order of preference (default http-01, tls-alpn-01, dns-01). */
  challenges?: ChallengeType[];
  /** Command for DNS-01 (see runDnsHook). */
  dnsHook?: string;
  /** Environment for the DNS hook (default process.env). */
  env?: Record<string, string | undefined>;
  keyType?: KeyType;
  /** ACME profile to request on new orders (when the CA offers profiles). */
  profile?: string;
  /** Called with warnings (a placeholder email). */
  onWarning?: (message: string) => void;
}

export interface IssueOptions {
  keyType?: KeyType;
  profile?: string;
  /** ARI certID of the certificate this one replaces (same account only). */
  replaces?: string;
  signal?: AbortSignal;
}

const PLACEHOLDER = /(@(example\.(com|org|net)|localhost|test|invalid)$)|^(test|admin|root|me|you|email|user)@|^certs@appwrite\.io$/i;

/** Whether an ACME contact address looks like a placeholder (the warning the issuer gives; `certgate doctor` reuses it). */
export function isPlaceholderEmail(email: string): boolean {
  return PLACEHOLDER.test(email.trim());
}

// One axios instance serves acme-client; requests made inside an issuance record problem
// documents here so that errors keep type, detail and subproblems.
const problems = new AsyncLocalStorage<{ last: AcmeProblem | null }>();
/**
 * ACME calls in flight. While an AsyncLocalStorage is enabled, Node runs async hooks for every
 * promise and handle in the process; left on after the first issuance, they cost every proxied
 * request 5-7% (bench/edge's bare proxy with and without), so the storage is disabled whenever
 * no call is running.
 */
let callsInFlight = 0;
let interceptorInstalled = false;

/**
 * acme-client shares one axios instance, so trust is chosen per request by the CA's origin:
 * one issuer's private CA root (Pebble, a corporate CA) never widens what another issuer's
 * connections trust. Origins without an entry get Node's roots only.
 */
const agentsByOrigin = new Map<string, HttpsAgent>();
let systemAgent: HttpsAgent | null = null;

function originOf(url: string | undefined): string | null {
  try {
    return url ? new URL(url).origin : null;
  } catch {
    return null;
  }
}

function installHttp(): void {
  const settings = (acme.axios.defaults as { acmeSettings?: { retryMaxAttempts: number; retryDefaultDelay: number } }).acmeSettings;
  // Retries across cycles belong to maintenance (with backoff); within one call, retry once.
  if (settings) {
    settings.retryMaxAttempts = 1;
    settings.retryDefaultDelay = 1;
  }
  if (interceptorInstalled) return;
  interceptorInstalled = true;
  acme.axios.interceptors.request.use((config) => {
    const origin = originOf(config.url);
    // One secure context per CA: a `ca` list would be parsed again per socket (145 roots, ~35 ms each).
    systemAgent ??= new HttpsAgent({ keepAlive: true });
    config.httpsAgent = (origin && agentsByOrigin.get(origin)) || systemAgent;
    return config;
  });
  type Res = { status?: number; data?: unknown; headers?: unknown };
  const record = (res: Res | undefined) => {
    const ctx = problems.getStore();
    const data = res?.data;
    if (ctx && isProblem(data)) {
      const retryAfter = Number((res?.headers as Record<string, unknown> | undefined)?.['retry-after']);
      ctx.last = { ...data, ...(Number.isFinite(retryAfter) ? { retryAfter } : {}) };
    }
  };
  // acme-client's own requests resolve with 4xx responses (it checks the status itself), so a
  // problem document can arrive on either path.
  acme.axios.interceptors.response.use(
    (res) => {
      // A later success (the retry after a badNonce) means the problem before it was handled.
      if (res.status >= 400) record(res);
      else {
        const ctx = problems.getStore();
        if (ctx) ctx.last = null;
      }
      return res;
    },
    (error: { response?: Res }) => {
      record(error.response);
      return Promise.reject(error);
    },
  );
}

/** acme-client's own debug lines, through its documented logger hook, to whoever asked for them. */
export function setAcmeDebugLog(log: ((line: string) => void) | null): void {
  acme.setLogger(log ?? (() => {}));
}

function keyPem(type: KeyType): string {
  if (type.startsWith('rsa-'))
    return generateKeyPairSync('rsa', { modulusLength: Number(type.slice(4)) }).privateKey.export({ type: 'pkcs8', format: 'pem' }) as string;
  return generateKeyPairSync('ec', { namedCurve: type === 'ec-p384' ? 'P-384' : 'P-256' }).privateKey.export({ type: 'pkcs8', format: 'pem' }) as string;
}

type AcmeClient = acme.Client;
type Authz = Awaited<ReturnType<AcmeClient['getAuthorizations']>>[number];
type Challenge = Authz['challenges'][number];

export class AcmeIssuer implements Issuer {
  readonly directory: string;
  /** `acme:` and the directory URL: one issuer per CA. */
  readonly id: string;
  readonly #o: AcmeIssuerOptions & { challenges: ChallengeType[]; keyType: KeyType };
  #client: AcmeClient | null = null;
  #account: AccountRecord | null = null;
  #directoryDoc: Record<string, unknown> | null = null;
  /** For requests certgate makes itself (directory, ARI), with this issuer's trust only. */
  readonly #dispatcher: UndiciAgent;

  constructor(options: AcmeIssuerOptions) {
    this.directory = resolveDirectory(options.directory);
    this.id = `acme:${this.directory}`;
    const challenges = options.challenges ?? [...CHALLENGE_ORDER];
    for (const c of challenges)
      if (!CHALLENGE_ORDER.includes(c)) throw new CertgateError('E_ACME_CONFIG', `unknown challenge type "${c}"`, `use ${CHALLENGE_ORDER.join(', ')}`);
    if (challenges.includes('dns-01') && !options.dnsHook && challenges.length === 1) {
      throw new CertgateError('E_ACME_CONFIG', 'dns-01 needs a hook command', 'set CERTGATE_DNS_HOOK to a command that publishes the TXT record');
    }
    const keyType = options.keyType ?? 'ec-p256';
    if (!KEY_TYPES.includes(keyType)) throw new CertgateError('E_ACME_CONFIG', `unknown key type "${keyType}"`, `use ${KEY_TYPES.join(', ')}`);
    const email = options.email?.trim();
    if (email && !/^[^@\s]+@[^@\s]+\.[^@\s]+$/.test(email))
      throw new CertgateError('E_ACME_EMAIL', `"${excerpt(email)}" is not an email address`, 'set CERTGATE_ACME_EMAIL to an address you read');
    if (!email && PUBLIC_DIRECTORIES.has(this.directory)) {
      throw new CertgateError(
        'E_ACME_EMAIL',
        'a contact email is required for a public CA (expiry and policy mail goes there)',
        'set CERTGATE_ACME_EMAIL=you@yourdomain (or --email)',
      );
    }
    if (email && PLACEHOLDER.test(email))
      options.onWarning?.(
        `the ACME contact email ${email} looks like a placeholder; the CA's expiry warnings will go nowhere. Set CERTGATE_ACME_EMAIL to your own address`,
      );
    if (!options.agreeToTerms) {
      throw new CertgateError(
        'E_ACME_CONFIG',
        "the CA's terms of service have not been agreed to",
        'read them (certgate shows the URL with --debug) and set CERTGATE_ACME_AGREE_TOS=true (or --agree-tos)',
      );
    }
    this.#o = { ...options, ...(email ? { email } : {}), challenges, keyType };
    const ca = options.caRootPem ? [...rootCertificates, options.caRootPem] : undefined;
    this.#dispatcher = new UndiciAgent(ca ? { connect: { ca } } : {});
    installHttp();
    const origin = originOf(this.directory);
    if (origin && ca) agentsByOrigin.set(origin, new HttpsAgent({ secureContext: createSecureContext({ ca }), keepAlive: true }));
  }

  async #getDirectory(): Promise<Record<string, unknown>> {
    if (this.#directoryDoc) return this.#directoryDoc;
    let res: Awaited<ReturnType<typeof request>>;
    try {
      res = await request(this.directory, { dispatcher: this.#dispatcher, headersTimeout: 15_000, bodyTimeout: 15_000 });
    } catch (err) {
      const e = err as { code?: string; message: string };
      const tls = /CERT|SELF_SIGNED|ISSUER|certificate/i.test(`${e.code} ${e.message}`);
      throw new CertgateError(
        'E_ACME_UNREACHABLE',
        `the ACME directory ${this.directory} cannot be reached: ${e.code ?? e.message}`,
        tls
          ? "the directory's HTTPS certificate is not trusted: set CERTGATE_ACME_CA_ROOT to its CA"
          : 'check the URL, DNS and the network; certgate retries on the next cycle',
        { cause: err },
      );
    }
    const body = await res.body.text();
    let doc: Record<string, unknown> | null = null;
    try {
      doc = JSON.parse(body) as Record<string, unknown>;
    } catch {
      doc = null;
    }
    if (res.statusCode !== 200 || !doc || typeof doc.newOrder !== 'string' || typeof doc.newNonce !== 'string') {
      throw new CertgateError(
        'E_ACME_CONFIG',
        `${this.directory} is not an ACME directory (HTTP ${res.statusCode}, no newOrder/newNonce)`,
        'check CERTGATE_ACME_DIRECTORY: it is the URL of the directory object, e.g. https://acme-v02.api.letsencrypt.org/directory',
      );
    }
    this.#directoryDoc = doc;
    return doc;
  }

  /**
   * Makes sure the account key exists in the store, without asking the CA: several serving
   * processes then register one account, not one each.
   */
  async prepareAccountKey(): Promise<void> {
    const store = this.#o.store;
    if (!(await store.getAccount(this.directory)))
      await store.putAccount({
        directory: this.directory,
        keyPem: keyPem('ec-p256'),
        url: null,
        email: this.#o.email ?? null,
        createdAt: new Date().toISOString(),
      });
  }

  async #ensureClient(): Promise<AcmeClient> {
    if (this.#client) return this.#client;
    await this.#getDirectory();
    const store = this.#o.store;
    let record = await store.getAccount(this.directory);
    if (!record) {
      record = { directory: this.directory, keyPem: keyPem('ec-p256'), url: null, email: this.#o.email ?? null, createdAt: new Date().toISOString() };
      await store.putAccount(record);
    }
    const client = new acme.Client({
      directoryUrl: this.directory,
      accountKey: record.keyPem,
      ...(record.url ? { accountUrl: record.url } : {}),
      ...(this.#o.eab ? { externalAccountBinding: this.#o.eab } : {}),
      backoffAttempts: 20,
      backoffMin: 10,
      backoffMax: 2000,
    });
    // badNonce is routine (and injected by Pebble's tests): retry it more than the default 5.
    const http = (client as unknown as { http?: { maxBadNonceRetries: number } }).http;
    if (http) http.maxBadNonceRetries = 30;
    if (!record.url || record.email !== (this.#o.email ?? null)) {
      await this.#call('account', async () => {
        await client.createAccount({ termsOfServiceAgreed: true, ...(this.#o.email ? { contact: [`mailto:${this.#o.email}`] } : {}) });
      });
      record = { ...record, url: client.getAccountUrl(), email: this.#o.email ?? null };
      await store.putAccount(record);
    }
    this.#account = record;
    this.#client = client;
    return client;
  }

  /** Runs an ACME step and turns its failure into an error that says what to do. */
  async #call<T>(name: string, fn: () => Promise<T>, context: { challenge?: string } = {}): Promise<T> {
    const ctx = { last: null as AcmeProblem | null };
    callsInFlight++;
    try {
      return await problems.run(ctx, () => this.#explained(name, fn, ctx, context));
    } finally {
      if (--callsInFlight === 0) problems.disable();
    }
  }

  async #explained<T>(name: string, fn: () => Promise<T>, ctx: { last: AcmeProblem | null }, context: { challenge?: string }): Promise<T> {
    try {
      return await fn();
    } catch (err) {
      if (err instanceof CertgateError) throw err;
      if (ctx.last) throw explainProblem(ctx.last, name, context);
      const e = err as { code?: string; message: string };
      // acme-client loses network errors once its retries run out (it then fails reading
      // the response of a request that had none): ask the directory directly what is wrong.
      const code = e.code ?? (await this.#networkError());
      if (code && /^(ECONNREFUSED|ENOTFOUND|ETIMEDOUT|ECONNRESET|EAI_AGAIN|EHOSTUNREACH|ECONNABORTED|ENETUNREACH)$/.test(code)) {
        throw new AcmeError(
          'E_ACME_UNREACHABLE',
          `${name}: the ACME CA at ${this.directory} cannot be reached (${code})`,
          'check that the CA is up and reachable; certgate retries with backoff',
          null,
          { cause: err },
        );
      }
      throw new AcmeError('E_ACME_PROBLEM', `${name}: ${e.message}`, 'certgate retries on the next cycle; run certgate logs NAME for the history', null, {
        cause: err,
      });
    }
  }

  async #networkError(): Promise<string | null> {
    try {
      const res = await request(this.directory, { dispatcher: this.#dispatcher, headersTimeout: 5000, bodyTimeout: 5000 });
      await res.body.dump();
      return null;
    } catch (err) {
      return (err as { code?: string }).code ?? null;
    }
  }

  /** The account's URL (after the first issuance or ensureAccount()). */
  get accountUrl(): string | null {
    return this.#account?.url ?? null;
  }

  async ensureAccount(): Promise<AccountRecord> {
    await this.#ensureClient();
    return this.#account as AccountRecord;
  }

  #hookOptions(): { env?: Record<string, string | undefined> } {
    return this.#o.env ? { env: this.#o.env } : {};
  }

  async #solve(client: AcmeClient, authz: Authz, type: ChallengeType): Promise<void> {
    const name = authz.identifier.value;
    const challenge = authz.challenges.find((c: Challenge) => c.type === type);
    if (!challenge)
      throw new AcmeError(
        'E_ACME_CHALLENGE',
        `${name}: the CA offers no ${type} challenge for this name`,
        `allowed here: ${authz.challenges.map((c: Challenge) => c.type).join(', ')}`,
        null,
      );
    const keyAuthorization = await client.getChallengeKeyAuthorization(challenge);
    const answers = this.#o.answers;
    const fullName = `${authz.wildcard ? '*.' : ''}${name}`;
    const present = async () => {
      if (type === 'http-01') await answers.setHttp((challenge as { token: string }).token, keyAuthorization);
      else if (type === 'tls-alpn-01') {
        const [key, cert] = await acme.crypto.createAlpnCertificate(authz, keyAuthorization);
        await answers.setAlpn(name, cert.toString(), key.toString());
      } else await runDnsHook(this.#o.dnsHook as string, 'present', fullName, keyAuthorization, this.#hookOptions());
    };
    const cleanup = async () => {
      if (type === 'http-01') await answers.deleteHttp((challenge as { token: string }).token);
      else if (type === 'tls-alpn-01') await answers.deleteAlpn(name);
      else await runDnsHook(this.#o.dnsHook as string, 'cleanup', fullName, keyAuthorization, this.#hookOptions()).catch(() => {});
    };
    try {
      await present();
      await this.#call(fullName, async () => {
        await client.completeChallenge(challenge);
        await client.waitForValidStatus(challenge);
      });
    } catch (err) {
      // The challenge's own error is the real story: fetch it whole.
      const problem = await this.#challengeProblem(client, authz, type);
      if (problem) throw explainProblem(problem, fullName, { challenge: type });
      throw err;
    } finally {
      await cleanup();
    }
  }

  async #challengeProblem(client: AcmeClient, authz: Authz, type: ChallengeType): Promise<AcmeProblem | null> {
    try {
      const order = { url: '', authorizations: [authz.url] } as unknown as Parameters<AcmeClient['getAuthorizations']>[0];
      const [fresh] = await client.getAuthorizations(order);
      const ch = fresh?.challenges.find((c: Challenge) => c.type === type) as (Challenge & { error?: unknown }) | undefined;
      return isProblem(ch?.error) ? (ch?.error as AcmeProblem) : null;
    } catch {
      return null;
    }
  }

  /**
   * Issues a certificate for `names` (the first is the certificate's name). Tries the
   * configured challenge types in order; a validation failure with one moves to the next with
   * a new order. Returns the bundle; storing it is the caller's (all or nothing).
   */
  async issue(names: string[], options: IssueOptions = {}): Promise<CertificateBundle> {
    if (!names.length) throw new CertgateError('E_USAGE', 'no names to issue for', 'pass at least one domain');
    try {
      return await this.#issueOnce(names, options);
    } catch (err) {
      // A CA that lost its database (a restarted Pebble, a reset staging CA) answers every
      // request signed with the stored account URL by accountDoesNotExist: register again
      // once, with the same key, instead of failing every order from now on.
      if (!(err instanceof AcmeError) || err.problem?.type !== 'urn:ietf:params:acme:error:accountDoesNotExist') throw err;
      await this.#forgetAccount();
      return await this.#issueOnce(names, options);
    }
  }

  async #forgetAccount(): Promise<void> {
    const record = await this.#o.store.getAccount(this.directory);
    this.#o.onWarning?.(`the ACME CA at ${this.directory} no longer knows account ${record?.url ?? '(none)'}: registering again`);
    if (record) await this.#o.store.putAccount({ ...record, url: null });
    this.#client = null;
    this.#account = null;
  }

  async #issueOnce(names: string[], options: IssueOptions): Promise<CertificateBundle> {
    const client = await this.#ensureClient();
    const wildcard = names.some((n) => n.startsWith('*.'));
    const types = this.#o.challenges.filter((t) => (t === 'dns-01' ? Boolean(this.#o.dnsHook) : !wildcard));
    if (!types.length) {
      throw new CertgateError(
        'E_ACME_CONFIG',
        `${names[0]}: no usable challenge (wildcards need dns-01, and dns-01 needs CERTGATE_DNS_HOOK)`,
        'set CERTGATE_DNS_HOOK, or issue for the plain names',
      );
    }
    let lastError: unknown = null;
    for (const type of types) {
      options.signal?.throwIfAborted();
      try {
        return await this.#issueWith(client, names, type, options);
      } catch (err) {
        lastError = err;
        // Only a failed validation makes another challenge type worth a try.
        if (!(err instanceof CertgateError) || err.code !== 'E_ACME_CHALLENGE') throw err;
      }
    }
    throw lastError;
  }

  async #issueWith(client: AcmeClient, names: string[], type: ChallengeType, options: IssueOptions): Promise<CertificateBundle> {
    const name = names[0] as string;
    const profile = options.profile ?? this.#o.profile;
    const order = await this.#call(name, () =>
      client.createOrder({
        identifiers: names.map((value) => ({ type: /^[\d.]+$|:/.test(value) ? 'ip' : 'dns', value })),
        ...(profile ? { profile } : {}),
        ...(options.replaces ? { replaces: options.replaces } : {}),
      } as Parameters<AcmeClient['createOrder']>[0]),
    );
    const authzs = await this.#call(name, () => client.getAuthorizations(order));
    await Promise.all(authzs.filter((a: Authz) => a.status !== 'valid').map((a: Authz) => this.#solve(client, a, type)));
    const kt = options.keyType ?? this.#o.keyType;
    const key = keyPem(kt);
    const [, csr] = await acme.crypto.createCsr({ commonName: name.startsWith('*.') ? undefined : name, altNames: names }, key);
    const finalized = await this.#call(name, () => client.finalizeOrder(order, csr));
    const done = finalized.status === 'valid' ? finalized : await this.#call(name, () => client.waitForValidStatus(finalized));
    const certPem = await this.#call(name, () => client.getCertificate(done));
    const meta = certMeta(certPem, {
      name,
      names,
      directory: this.directory,
      accountUrl: this.accountUrl,
      keyType: kt,
      profile: profile ?? null,
    });
    return { certPem, keyPem: key, meta };
  }

  /**
   * Proves that the CA validates `name` now, without a certificate (`certgate doctor
   * --dry-run-issue`): an order whose one authorization is completed with the first challenge
   * type that works and then deactivated; the order is never finalized. (RFC 8555's newAuthz
   * pre-authorization is optional; neither Pebble nor Let's Encrypt offers it.) An authorization
   * the CA reuses proves an earlier validation, not this one: it is deactivated and asked again once.
   */
  async authorize(name: string): Promise<{ challenge: ChallengeType; authorization: string; deactivated: boolean; reused: number }> {
    const client = await this.#ensureClient();
    const wildcard = name.startsWith('*.');
    const types = this.#o.challenges.filter((t) => (t === 'dns-01' ? Boolean(this.#o.dnsHook) : !wildcard));
    if (!types.length)
      throw new CertgateError(
        'E_ACME_CONFIG',
        `${name}: no usable challenge (wildcards need dns-01, and dns-01 needs CERTGATE_DNS_HOOK)`,
        'set CERTGATE_DNS_HOOK',
      );
    const identifier = { type: /^[\d.]+$|:/.test(name) ? 'ip' : 'dns', value: name };
    let reused = 0;
    let lastError: unknown = null;
    for (const type of types) {
      let authz: Authz | undefined;
      for (let round = 0; round < 2; round++) {
        const order = await this.#call(name, () => client.createOrder({ identifiers: [identifier] } as Parameters<AcmeClient['createOrder']>[0]));
        [authz] = await this.#call(name, () => client.getAuthorizations(order));
        if (authz?.status !== 'valid') break;
        reused++;
        const given = authz;
        await this.#call(name, () => client.deactivateAuthorization(given));
      }
      if (!authz) throw new AcmeError('E_ACME_PROBLEM', `${name}: the CA's order has no authorization`, 'the CA did not follow RFC 8555; try again', null);
      if (authz.status === 'valid') return { challenge: type, authorization: authz.url, deactivated: false, reused };
      try {
        await this.#solve(client, authz, type);
      } catch (err) {
        lastError = err;
        if (!(err instanceof CertgateError) || err.code !== 'E_ACME_CHALLENGE') throw err;
        continue;
      }
      const done = authz;
      // The CA's answer says whether it took effect (status "deactivated").
      const deactivated = await this.#call(name, () => client.deactivateAuthorization(done)).then(
        (a) => a.status === 'deactivated',
        () => false,
      );
      return { challenge: type, authorization: authz.url, deactivated, reused };
    }
    throw lastError;
  }

  /** The CA's suggested renewal window, when it offers ARI. */
  async renewalInfo(bundle: CertificateBundle, now: Date): Promise<AriInfo | null> {
    const dir = await this.#getDirectory();
    const url = dir.renewalInfo;
    if (typeof url !== 'string') return null;
    const block = parsePem(bundle.certPem).find((b) => b.label === 'CERTIFICATE');
    if (!block) return null;
    const certId = ariCertId(decodeCertificate(block.der));
    if (!certId) return null;
    try {
      return await fetchRenewalInfo(url, certId, this.#dispatcher, now);
    } catch {
      return null;
    }
  }

  /** Whether `replaces` may be sent: only for a certificate of the same account (RFC 9773 §5). */
  canReplace(meta: CertMeta): boolean {
    return Boolean(meta.ari?.certId) && meta.directory === this.directory && meta.accountUrl !== null && meta.accountUrl === this.accountUrl;
  }
}
