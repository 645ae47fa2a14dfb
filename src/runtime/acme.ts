/**
 * @module runtime/acme
 * The ACME engines of one data directory, built from settings once: store, locker, challenge
 * answers, domain registry, and (on first use) issuer, manager and maintainer. Shared by
 * `serve` and by `issue`, `renew`, `certs`, `domains`, `logs`.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ChallengeAnswers, type ChallengeType } from '../acme/challenges.ts';
import { AcmeIssuer } from '../acme/issuer.ts';
import { CertgateError } from '../errors.ts';
import { type EventListener, withEventPath } from '../events.ts';
import { Maintainer, type MaintainerOptions } from '../maintenance/maintainer.ts';
import { CertManager } from '../manager/manager.ts';
import { DomainRegistry } from '../manager/registry.ts';
import { type DataPaths, pathsUnder } from '../paths.ts';
import { keyringFrom } from '../store/crypt.ts';
import { FsLocker, FsStore } from '../store/fs.ts';
import { PgCounters } from '../store/pg/counters.ts';
import { createPgBackend, type PgBackend } from '../store/pg/index.ts';
import { Repository } from '../store/repository.ts';
import type { Locker } from '../store/storage.ts';
import type { AcmeSettings } from './settings.ts';

export interface AcmeEngines {
  /** The repository over the filesystem (FsStore: files) or over PostgreSQL (no files). */
  store: Repository;
  locker: Locker;
  /** The PostgreSQL backend when the store setting names one; null on the filesystem. */
  pg: PgBackend | null;
  /** Resolves once the store is usable (PostgreSQL: connected, schema migrated and checked). */
  ready(): Promise<void>;
  /** Closes the store's connections. */
  close(): Promise<void>;
  answers: ChallengeAnswers;
  registry: DomainRegistry;
  paths: DataPaths;
  issuer(): AcmeIssuer;
  manager(): CertManager;
  maintainer(hooks?: Pick<MaintainerOptions, 'onReport' | 'onError'>): Maintainer;
}

export interface AcmeDeps {
  /** Warnings for the operator (a placeholder email, a challenge left out). */
  warn: (message: string) => void;
  onEvent?: EventListener;
  /** Several serving processes: HTTP-01 answers through files, TLS-ALPN-01 left out. */
  workers?: boolean;
  /** The environment the DNS hook runs with. */
  hookEnv?: Record<string, string | undefined>;
}

function readCaRoot(file: string): string {
  try {
    return readFileSync(file, 'utf8');
  } catch (err) {
    throw new CertgateError(
      'E_FILE_NOT_FOUND',
      `the ACME CA root ${file} cannot be read (${(err as NodeJS.ErrnoException).code})`,
      'point it at the PEM of the CA that signed the ACME directory certificate',
      { option: 'acmeCaRoot' },
    );
  }
}

function challengeList(s: AcmeSettings, deps: AcmeDeps): ChallengeType[] {
  let list = s.challenges ?? (s.dnsHook ? ['http-01', 'tls-alpn-01', 'dns-01'] : ['http-01', 'tls-alpn-01']);
  if (!s.dnsHook && list.includes('dns-01')) {
    if (s.challenges) deps.warn('dns-01 needs a DNS hook (--dns-hook); it is left out');
    list = list.filter((c) => c !== 'dns-01');
  }
  if (deps.workers && list.includes('tls-alpn-01')) {
    // A TLS-ALPN-01 answer lives in the process that started the order; the CA's connection
    // may reach another worker. HTTP-01 answers are shared through files, DNS-01 needs no server.
    if (s.challenges) deps.warn('tls-alpn-01 is not used with --workers: http-01 and dns-01 are');
    list = list.filter((c) => c !== 'tls-alpn-01');
  }
  if (list.length === 0)
    throw new CertgateError('E_OPTION', 'no challenge type is left to use', 'list at least one of http-01, tls-alpn-01, dns-01 (dns-01 with a hook)', {
      option: 'challenges',
    });
  return list;
}

export function createAcmeEngines(s: AcmeSettings, deps: AcmeDeps): AcmeEngines {
  const paths = pathsUnder(s.data);
  // The store key comes down as settings (only the CLI reads the environment); a bad one fails here.
  const keyring = keyringFrom({ key: s.storeKey, keyFile: s.storeKeyFile, oldKey: s.storeKeyOld, oldKeyFile: s.storeKeyOldFile });
  // A postgres:// store: one pool to the primary (never a replica), migrated at first use under
  // the schema lock; start-up awaits ready() so a bad URL, password, TLS or schema fails it.
  const pg = s.store ? createPgBackend(s.store, { leaseMs: s.storeLease, ...(s.storeCa ? { caFile: s.storeCa } : {}) }) : null;
  const store = withEventPath(pg ? new Repository(pg.storage, { keyring }) : new FsStore({ root: paths.root, keyring }), deps.onEvent);
  const locker: Locker = pg ? pg.locker : new FsLocker({ root: paths.root });
  // On PostgreSQL the answers live in the store (any node answers the CA). On files, always read
  // <data>/challenges too: answers written there by another process (serve --workers,
  // `certgate doctor --dry-run-issue` while serve holds the port) are served.
  const answers = new ChallengeAnswers(pg ? { storage: pg.storage } : { sharedDir: join(paths.root, 'challenges') });
  const registry = new DomainRegistry({
    store,
    ...(s.domain ? { mainDomain: s.domain } : {}),
    ...(s.ask ? { ask: s.ask } : {}),
    allowIp: s.allowIp,
    onWarning: deps.warn,
  });
  let issuer: AcmeIssuer | null = null;
  const getIssuer = () => {
    issuer ??= new AcmeIssuer({
      directory: s.acmeDirectory,
      agreeToTerms: s.acmeAgreeTos,
      store,
      answers,
      keyType: s.keyType,
      onWarning: deps.warn,
      env: deps.hookEnv ?? {},
      challenges: challengeList(s, deps),
      ...(s.acmeEmail ? { email: s.acmeEmail } : {}),
      ...(s.acmeCaRoot ? { caRootPem: readCaRoot(s.acmeCaRoot) } : {}),
      ...(s.dnsHook ? { dnsHook: s.dnsHook } : {}),
    });
    return issuer;
  };
  let manager: CertManager | null = null;
  const getManager = () => {
    manager ??= new CertManager({
      store,
      locker,
      issuers: [getIssuer()],
      keyType: s.keyType,
      ordersPerAccount: { capacity: s.acmeOrderBudget, periodMs: 3 * 3600_000 },
      // The account's order budget is the cluster's when nodes share a PostgreSQL store.
      ...(pg ? { sharedBudget: new PgCounters(pg.pool) } : {}),
      onLockWait: (name, h) =>
        deps.warn(
          `${name}: waiting for the issuance lock, held by ${h?.pid ? `pid ${h.pid}` : 'another process'}${h?.host ? ` on ${h.host}` : ''}${h?.since ? ` since ${h.since}` : ''}`,
        ),
    });
    return manager;
  };
  return {
    store,
    locker,
    pg,
    ready: async () => {
      await pg?.ready();
    },
    close: async () => {
      await pg?.close();
    },
    answers,
    registry,
    paths,
    issuer: getIssuer,
    manager: getManager,
    maintainer: (hooks = {}) =>
      new Maintainer({
        store,
        manager: getManager(),
        issuer: getIssuer(),
        registry,
        intervalMs: s.maintenanceInterval,
        // One cycle per interval across the nodes of a PostgreSQL store.
        ...(pg ? { shared: { locker } } : {}),
        ...hooks,
      }),
  };
}
