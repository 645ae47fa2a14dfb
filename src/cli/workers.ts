/**
 * @module cli/workers
 * `certgate serve --workers N`: one process per core. The primary validates the configuration,
 * creates the local CA and the ACME account key once, runs maintenance, and supervises the
 * workers; each worker runs an edge on the shared ports (the kernel spreads connections:
 * SCHED_NONE, no hand-off through the primary). Messages: workers say `ready`; the primary
 * says `stop`, `hangup`, `renewed` or `tickets` (the shared TLS session ticket keys changed: read them again).
 */
import cluster, { type Worker } from 'node:cluster';

/** `hangup` carries the settings the primary resolved again: workers never read the file themselves. */
export type ToWorker =
  | { type: 'stop' }
  | { type: 'hangup'; settings: unknown }
  | { type: 'renewed'; names: string[] }
  /** A scrape: the worker answers with its metrics (prom-client JSON). */
  | { type: 'metrics'; id: number }
  /** The ticket keys were rotated: read them again. */
  | { type: 'tickets' };
/** `event`: a certificate event recorded in the worker (on-demand issuance), for the primary's view and alerts. */
export type ToPrimary = { type: 'ready' } | { type: 'metrics'; id: number; metrics: unknown } | { type: 'event'; event: unknown };

/** The primary hands each worker the settings it resolved (JSON), so that workers never resolve again. */
export const WORKER_SETTINGS_ENV = 'CERTGATE_WORKER_SETTINGS';

export function isWorker(): boolean {
  return cluster.isWorker;
}

export function workerId(): number {
  return cluster.worker?.id ?? 0;
}

/** In a worker: tells the primary the edge listens, and hands it the primary's messages. */
export function workerChannel(onMessage: (m: ToWorker) => void): { ready(): void; send(m: ToPrimary): void; done(): void } {
  process.on('message', (m: ToWorker) => onMessage(m));
  return {
    ready: () => process.send?.({ type: 'ready' } satisfies ToPrimary),
    send: (m) => {
      if (process.connected) process.send?.(m);
    },
    // The IPC channel keeps a worker alive: let go of it once the edge has drained.
    done: () => cluster.worker?.disconnect(),
  };
}

export interface Supervisor {
  /** Resolves when every worker listens; rejects with the exit code of a worker that could not start. */
  ready: Promise<void>;
  broadcast(m: ToWorker): void;
  /** Asks every worker to drain and waits for them (killing what is left after `graceMs`). */
  stop(graceMs: number): Promise<void>;
  /** Resolves with an exit code if the workers keep dying (more than 10 restarts a minute). */
  failed: Promise<number>;
  /** Every live worker's metrics; a worker that does not answer within timeoutMs is left out of this scrape. */
  metrics(timeoutMs?: number): Promise<unknown[]>;
  /** Called with each certificate event a worker forwards. */
  onEvent: ((event: unknown) => void) | null;
}

export function superviseWorkers(count: number, log: (level: 'info' | 'warn' | 'error', msg: string) => void, env: Record<string, string> = {}): Supervisor {
  cluster.schedulingPolicy = cluster.SCHED_NONE;
  const live = new Set<Worker>();
  let stopping = false;
  let started = 0;
  const restarts: number[] = [];
  let failWith: (code: number) => void = () => {};
  const failed = new Promise<number>((resolve) => {
    failWith = resolve;
  });
  let readyResolve: () => void = () => {};
  let readyReject: (code: number) => void = () => {};
  const ready = new Promise<void>((resolve, reject) => {
    readyResolve = resolve;
    readyReject = reject;
  });
  let allReady = false;
  let scrapeId = 0;
  const scrapes = new Map<number, { answers: unknown[]; waiting: number; done: () => void }>();
  const supervisor = { onEvent: null as ((event: unknown) => void) | null };

  const fork = (): Worker => {
    const w = cluster.fork({ ...env, CERTGATE_WORKER: '1' });
    live.add(w);
    w.on('message', (m: ToPrimary) => {
      if (m?.type === 'metrics') {
        const s = scrapes.get(m.id);
        if (s) {
          s.answers.push(m.metrics);
          if (--s.waiting === 0) s.done();
        }
        return;
      }
      if (m?.type === 'event') {
        supervisor.onEvent?.(m.event);
        return;
      }
      if (m?.type !== 'ready') return;
      started++;
      if (!allReady && started >= count) {
        allReady = true;
        readyResolve();
      }
    });
    w.on('exit', (code, signal) => {
      live.delete(w);
      if (stopping) return;
      if (!allReady) {
        stopping = true;
        for (const other of live) other.kill('SIGKILL');
        readyReject(code ?? 1);
        return;
      }
      const now = Date.now();
      restarts.push(now);
      while (restarts.length && (restarts[0] as number) < now - 60_000) restarts.shift();
      if (restarts.length > 10) {
        log('error', `workers keep exiting (${restarts.length} in a minute, last: ${signal ?? `code ${code}`}); stopping`);
        failWith(1);
        return;
      }
      log('warn', `worker ${w.id} exited (${signal ?? `code ${code}`}); starting another`);
      fork();
    });
    return w;
  };
  for (let i = 0; i < count; i++) fork();

  return Object.assign(supervisor, {
    ready,
    failed,
    metrics(timeoutMs = 2000) {
      const targets = [...live].filter((w) => w.isConnected());
      if (targets.length === 0) return Promise.resolve([]);
      const id = ++scrapeId;
      return new Promise<unknown[]>((resolve) => {
        const answers: unknown[] = [];
        const timer = setTimeout(() => finish(), timeoutMs);
        const finish = () => {
          clearTimeout(timer);
          scrapes.delete(id);
          resolve(answers);
        };
        scrapes.set(id, { answers, waiting: targets.length, done: finish });
        for (const w of targets) w.send({ type: 'metrics', id } satisfies ToWorker);
      });
    },
    broadcast(m: ToWorker) {
      for (const w of live) if (w.isConnected()) w.send(m);
    },
    async stop(graceMs: number) {
      stopping = true;
      const exits = [...live].map((w) => new Promise<void>((r) => (w.isDead() ? r() : w.once('exit', () => r()))));
      for (const w of live) if (w.isConnected()) w.send({ type: 'stop' } satisfies ToWorker);
      const timer = setTimeout(() => {
        for (const w of live) w.kill('SIGKILL');
      }, graceMs);
      timer.unref();
      await Promise.all(exits);
      clearTimeout(timer);
    },
  }) satisfies Supervisor;
}
