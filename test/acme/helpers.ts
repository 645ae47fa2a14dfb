import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ChallengeAnswers, type StandaloneResponder, startStandaloneResponder } from '../../src/acme/challenges.ts';
import { AcmeIssuer, type AcmeIssuerOptions } from '../../src/acme/issuer.ts';
import { CertManager } from '../../src/manager/manager.ts';
import { FsLocker, FsStore } from '../../src/store/fs.ts';
import type { Pebble } from '../helpers/pebble.ts';

export interface Rig {
  root: string;
  store: FsStore;
  locker: FsLocker;
  answers: ChallengeAnswers;
  issuer: AcmeIssuer;
  manager: CertManager;
  responder: StandaloneResponder | null;
  clock: { now: Date; advance(ms: number): void };
  close(): Promise<void>;
}

/** A store, issuer and manager against Pebble, with a movable clock. */
export async function rig(
  pebble: Pebble,
  options: Partial<AcmeIssuerOptions> & { responder?: boolean; maxAttempts?: number; backoffMs?: number } = {},
): Promise<Rig> {
  const root = mkdtempSync(join(tmpdir(), 'certgate-acme-'));
  const store = new FsStore({ root });
  const locker = new FsLocker({ root });
  const answers = new ChallengeAnswers();
  const clock = {
    now: new Date(),
    advance(ms: number) {
      clock.now = new Date(clock.now.getTime() + ms);
    },
  };
  const issuer = new AcmeIssuer({
    directory: pebble.directoryUrl,
    caRootPem: pebble.tlsCaPem,
    agreeToTerms: true,
    email: 'ops@certgate.dev',
    store,
    answers,
    challenges: ['http-01'],
    ...options,
  });
  const manager = new CertManager({
    store,
    locker,
    issuers: [issuer],
    clock: () => clock.now,
    ...(options.maxAttempts ? { maxAttempts: options.maxAttempts } : {}),
    ...(options.backoffMs ? { backoffMs: options.backoffMs } : {}),
  });
  const responder =
    options.responder === false ? null : await startStandaloneResponder(answers, { httpPort: pebble.httpPort, tlsPort: pebble.tlsPort, host: '127.0.0.1' });
  return {
    root,
    store,
    locker,
    answers,
    issuer,
    manager,
    responder,
    clock,
    async close() {
      await responder?.close();
      rmSync(root, { recursive: true, force: true });
    },
  };
}

let n = 0;
/** A fresh name under example.com (a public name; challtestsrv resolves everything to 127.0.0.1). */
export function name(prefix = 'app'): string {
  n++;
  return `${prefix}-${process.pid}-${n}-${Math.floor(Math.random() * 1e6)}.example.com`;
}
