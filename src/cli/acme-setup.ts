/**
 * @module cli/acme-setup
 * Builds the ACME engines from flags and CERTGATE_* variables (a flag wins over a variable),
 * validated once. Shared by issue, renew, certs, domains and logs.
 */
import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { ChallengeAnswers, type ChallengeType } from '../acme/challenges.ts';
import { AcmeIssuer, KEY_TYPES, type KeyType } from '../acme/issuer.ts';
import { CertgateError } from '../errors.ts';
import { Maintainer } from '../maintenance/maintainer.ts';
import { CertManager } from '../manager/manager.ts';
import { DomainRegistry } from '../manager/registry.ts';
import { dataPaths } from '../paths.ts';
import { FsLocker, FsStore } from '../store/fs.ts';
import type { Options } from './args.ts';
import type { Io } from './io.ts';

export const ACME_OPTIONS: Options = {
  data: { type: 'string' },
  directory: { type: 'string' },
  'ca-root': { type: 'string' },
  email: { type: 'string' },
  'agree-tos': { type: 'boolean' },
  domain: { type: 'string' },
  'http-port': { type: 'string' },
  'https-port': { type: 'string' },
  challenges: { type: 'string' },
  'dns-hook': { type: 'string' },
  'key-type': { type: 'string' },
  'maintenance-interval': { type: 'string' },
  'allow-ip': { type: 'boolean' },
  ask: { type: 'string' },
};

/** `24h`, `30m`, `90s`, `2d` or a number of seconds. */
export function parseDuration(text: string, name: string): number {
  const m = /^(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)?$/.exec(text.trim());
  if (!m) throw new CertgateError('E_USAGE', `${name}: "${text}" is not a duration`, 'use e.g. 24h, 30m, 90s or 2d');
  const n = Number(m[1]);
  const unit = { ms: 1, s: 1000, m: 60_000, h: 3600_000, d: 86_400_000 }[(m[2] ?? 's') as 'ms' | 's' | 'm' | 'h' | 'd'];
  const ms = n * unit;
  if (ms < 1000) throw new CertgateError('E_USAGE', `${name}: ${text} is too short`, 'use at least one second');
  return ms;
}

function port(text: string | undefined, name: string, fallback: number): number {
  if (text === undefined || text === '') return fallback;
  const n = Number(text);
  if (!Number.isInteger(n) || n < 0 || n > 65535)
    throw new CertgateError('E_USAGE', `${name}: "${text}" is not a port`, 'use 1 to 65535 (0 picks a free port)');
  return n;
}

export interface AcmeSetup {
  store: FsStore;
  answers: ChallengeAnswers;
  registry: DomainRegistry;
  issuer: () => AcmeIssuer;
  manager: () => CertManager;
  maintainer: () => Maintainer;
  httpPort: number;
  httpsPort: number;
  intervalMs: number;
  paths: ReturnType<typeof dataPaths>;
}

/** `workers`: several serving processes share the challenge answers (HTTP-01 through files; TLS-ALPN-01 is left out). */
export function acmeSetup(values: Record<string, unknown>, io: Io, options: { workers?: boolean } = {}): AcmeSetup {
  const env = io.env;
  const pick = (flag: string, variable: string): string | undefined => (values[flag] as string | undefined) ?? env[variable] ?? undefined;
  const paths = dataPaths({ ...env, ...(typeof values.data === 'string' ? { CERTGATE_DATA: values.data } : {}) }, io.cwd);
  const store = new FsStore({ root: paths.root });
  const locker = new FsLocker({ root: paths.root });
  const answers = new ChallengeAnswers(options.workers ? { sharedDir: join(paths.root, 'challenges') } : {});
  const allowIp = Boolean(values['allow-ip']) || env.CERTGATE_ALLOW_IP === 'true';
  const mainDomain = pick('domain', 'CERTGATE_DOMAIN');
  const warn = (m: string) => io.err(`warning: ${m}\n`);
  const registry = new DomainRegistry({
    store,
    ...(mainDomain ? { mainDomain } : {}),
    ...(pick('ask', 'CERTGATE_ASK') ? { ask: pick('ask', 'CERTGATE_ASK') as string } : {}),
    allowIp,
    onWarning: warn,
  });
  const httpPort = port(pick('http-port', 'CERTGATE_HTTP_PORT'), '--http-port', 80);
  const httpsPort = port(pick('https-port', 'CERTGATE_HTTPS_PORT'), '--https-port', 443);
  const intervalText = pick('maintenance-interval', 'CERTGATE_MAINTENANCE_INTERVAL');
  const intervalMs = intervalText ? parseDuration(intervalText, 'CERTGATE_MAINTENANCE_INTERVAL') : 24 * 3600_000;
  const keyType = (pick('key-type', 'CERTGATE_KEY_TYPE') ?? 'ec-p256') as KeyType;
  if (!KEY_TYPES.includes(keyType)) throw new CertgateError('E_USAGE', `key type "${keyType}" is not supported`, `use ${KEY_TYPES.join(', ')}`);
  let issuer: AcmeIssuer | null = null;
  const getIssuer = () => {
    if (issuer) return issuer;
    const caRootFile = pick('ca-root', 'CERTGATE_ACME_CA_ROOT');
    let caRootPem: string | undefined;
    if (caRootFile) {
      try {
        caRootPem = readFileSync(resolve(io.cwd, caRootFile), 'utf8');
      } catch (err) {
        throw new CertgateError(
          'E_FILE_NOT_FOUND',
          `CERTGATE_ACME_CA_ROOT ${caRootFile} cannot be read (${(err as NodeJS.ErrnoException).code})`,
          'point it at the PEM of the CA that signed the ACME directory certificate',
        );
      }
    }
    let challenges = pick('challenges', 'CERTGATE_CHALLENGES')
      ?.split(',')
      .map((c) => c.trim())
      .filter(Boolean) as ChallengeType[] | undefined;
    if (options.workers) {
      // A TLS-ALPN-01 answer lives in the process that started the order; the CA's connection
      // may reach another worker. HTTP-01 answers are shared through files, DNS-01 needs no server.
      if (challenges?.includes('tls-alpn-01')) warn('tls-alpn-01 is not used with --workers: http-01 and dns-01 are');
      challenges = (challenges ?? ['http-01', 'tls-alpn-01', 'dns-01']).filter((c) => c !== 'tls-alpn-01');
    }
    const dnsHook = pick('dns-hook', 'CERTGATE_DNS_HOOK');
    const email = pick('email', 'CERTGATE_ACME_EMAIL');
    issuer = new AcmeIssuer({
      directory: pick('directory', 'CERTGATE_ACME_DIRECTORY') ?? 'letsencrypt',
      agreeToTerms: Boolean(values['agree-tos']) || env.CERTGATE_ACME_AGREE_TOS === 'true',
      store,
      answers,
      keyType,
      onWarning: warn,
      env,
      ...(email ? { email } : {}),
      ...(caRootPem ? { caRootPem } : {}),
      ...(challenges ? { challenges: challenges.filter((c) => c !== 'dns-01' || dnsHook) } : dnsHook ? {} : { challenges: ['http-01', 'tls-alpn-01'] }),
      ...(dnsHook ? { dnsHook } : {}),
    });
    return issuer;
  };
  let manager: CertManager | null = null;
  const getManager = () => {
    manager ??= new CertManager({ store, locker, issuer: getIssuer(), keyType });
    return manager;
  };
  return {
    store,
    answers,
    registry,
    issuer: getIssuer,
    manager: getManager,
    maintainer: () => new Maintainer({ store, manager: getManager(), issuer: getIssuer(), registry, intervalMs }),
    httpPort,
    httpsPort,
    intervalMs,
    paths,
  };
}
