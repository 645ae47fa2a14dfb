/**
 * @module acme/challenges
 * Challenge answers: HTTP-01 tokens and TLS-ALPN-01 certificates kept in memory (the edge
 * mounts them on its ports), a standalone responder for the CLI, and the DNS-01 hook.
 */
import { execFile } from 'node:child_process';
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { createServer as createHttpServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { join } from 'node:path';
import { createSecureContext, createServer as createTlsServer, type SecureContext, type Server as TlsServer } from 'node:tls';
import { promisify } from 'node:util';
import { CertgateError } from '../errors.ts';
import { listenOn } from '../listen.ts';
import type { Storage } from '../store/storage.ts';

const run = promisify(execFile);

export type ChallengeType = 'http-01' | 'tls-alpn-01' | 'dns-01';
export const ALPN_ACME = 'acme-tls/1';

/** What the responders serve right now. */
export interface ChallengeAnswersOptions {
  /**
   * A directory every serving process reads (`<data>/challenges`): HTTP-01 answers are written
   * there too, so that whichever process the CA's request reaches can answer it (serve --workers).
   */
  sharedDir?: string;
  /**
   * A store every node reads (PostgreSQL): answers are written to it before the CA is told to
   * look. HTTP-01 is read from it on a miss; TLS-ALPN-01 reaches the other nodes' memory through
   * the store's change notifications (a handshake callback cannot wait on a query).
   */
  storage?: Storage;
}

/** Where a challenge answer lives in the store (a token may start with "-": prefixed). */
export const HTTP_PREFIX = 'challenges/http-01';
export const ALPN_PREFIX = 'challenges/tls-alpn-01';
const ALPN_SETTLE_MS = 300;

export class ChallengeAnswers {
  readonly http = new Map<string, string>();
  readonly alpn = new Map<string, SecureContext>();
  readonly #shared: string | null;
  readonly #storage: Storage | null;

  constructor(options: ChallengeAnswersOptions = {}) {
    this.#shared = options.sharedDir ?? null;
    this.#storage = options.storage ?? null;
  }

  /** Publishes an HTTP-01 answer; resolves once every serving process can give it (before the CA is told to look). */
  async setHttp(token: string, keyAuthorization: string): Promise<void> {
    this.http.set(token, keyAuthorization);
    if (this.#shared) {
      mkdirSync(this.#shared, { recursive: true, mode: 0o700 });
      writeFileSync(join(this.#shared, `${token}.http-01`), keyAuthorization);
    }
    if (this.#storage) await this.#storage.store(`${HTTP_PREFIX}/t${token}`, keyAuthorization);
  }

  async deleteHttp(token: string): Promise<void> {
    this.http.delete(token);
    if (this.#shared) rmSync(join(this.#shared, `${token}.http-01`), { force: true });
    if (this.#storage) await this.#storage.delete(`${HTTP_PREFIX}/t${token}`).catch(() => {});
  }

  /** Answers an HTTP-01 request; false when the request is not one (let the app have it). */
  handleHttp(req: IncomingMessage, res: ServerResponse): boolean {
    const m = /^\/\.well-known\/acme-challenge\/([A-Za-z0-9_-]{1,200})$/.exec((req.url ?? '').split('?')[0] ?? '');
    if (!m) return false;
    const token = m[1] as string;
    const send = (answer: string | undefined) => {
      res.writeHead(answer ? 200 : 404, { 'content-type': 'text/plain' });
      res.end(answer ?? 'no such challenge');
    };
    const answer = this.http.get(token);
    const storage = this.#storage;
    if (answer || (!this.#shared && !storage)) send(answer);
    else if (storage)
      // Another node ordered: its answer is in the store (read from the primary, never a replica).
      storage.load(`${HTTP_PREFIX}/t${token}`).then(
        (a) => send(a?.toString('utf8')),
        () => send(undefined),
      );
    else
      readFile(join(this.#shared as string, `${token}.http-01`), 'utf8').then(
        (a) => send(a),
        () => send(undefined),
      );
    return true;
  }

  /** The TLS-ALPN-01 certificate for a name, when a validation is under way. */
  alpnContext(servername: string): SecureContext | undefined {
    return this.alpn.get(servername.toLowerCase());
  }

  /** Publishes a TLS-ALPN-01 certificate here and, with a store, to every node (through its change notification). */
  async setAlpn(name: string, certPem: string, keyPem: string): Promise<void> {
    this.alpn.set(name.toLowerCase(), createSecureContext({ cert: certPem, key: keyPem }));
    if (this.#storage) {
      await this.#storage.storeGroup(`${ALPN_PREFIX}/${name.toLowerCase()}`, { 'cert.pem': { value: certPem }, 'key.pem': { value: keyPem, private: true } });
      // The other nodes hold it once its notification arrived (p99 about 0.1 s, bench/cluster):
      // the CA is told to look only after that much time.
      await new Promise((r) => setTimeout(r, ALPN_SETTLE_MS));
    }
  }

  async deleteAlpn(name: string): Promise<void> {
    this.alpn.delete(name.toLowerCase());
    if (this.#storage) await this.#storage.delete(`${ALPN_PREFIX}/${name.toLowerCase()}`).catch(() => {});
  }

  /** Another node published or withdrew a TLS-ALPN-01 certificate: mirror it in memory. */
  async syncAlpn(name: string): Promise<void> {
    if (!this.#storage) return;
    const [cert, key] = await Promise.all([this.#storage.load(`${ALPN_PREFIX}/${name}/cert.pem`), this.#storage.load(`${ALPN_PREFIX}/${name}/key.pem`)]);
    if (cert && key) this.alpn.set(name, createSecureContext({ cert: cert.toString(), key: key.toString() }));
    else this.alpn.delete(name);
  }
}

export interface StandaloneResponder {
  httpPort: number | null;
  tlsPort: number | null;
  close(): Promise<void>;
}

/** HTTP-01 on httpPort and TLS-ALPN-01 on tlsPort, for `certgate issue` without a running serve. */
export async function startStandaloneResponder(
  answers: ChallengeAnswers,
  options: { httpPort?: number; tlsPort?: number; host?: string },
): Promise<StandaloneResponder> {
  const servers: Array<Server | TlsServer> = [];
  try {
    if (options.httpPort !== undefined) {
      const http = createHttpServer((req, res) => {
        if (!answers.handleHttp(req, res)) {
          res.writeHead(404);
          res.end();
        }
      });
      await listenOn(http, options.httpPort, options.host, 'HTTP-01');
      servers.push(http);
    }
    if (options.tlsPort !== undefined) {
      const tls = createTlsServer({
        ALPNProtocols: [ALPN_ACME],
        SNICallback: (name, cb) => {
          const ctx = answers.alpnContext(name);
          cb(ctx ? null : new Error(`no TLS-ALPN-01 challenge for ${name}`), ctx);
        },
      });
      tls.on('tlsClientError', () => {});
      tls.on('secureConnection', (s) => s.end());
      await listenOn(tls, options.tlsPort, options.host, 'TLS-ALPN-01');
      servers.push(tls);
    }
  } catch (err) {
    for (const s of servers) s.close();
    throw err;
  }
  const portOf = (s: Server | TlsServer | undefined) => (s ? ((s.address() as { port: number }).port ?? null) : null);
  return {
    httpPort: options.httpPort !== undefined ? portOf(servers[0]) : null,
    tlsPort: options.tlsPort !== undefined ? portOf(servers[servers.length - 1]) : null,
    close: () => Promise.all(servers.map((s) => new Promise<void>((r) => s.close(() => r())))).then(() => {}),
  };
}

/**
 * DNS-01 through an operator's command. It runs with CERTGATE_DNS_ACTION (present | cleanup),
 * CERTGATE_DNS_NAME (`_acme-challenge.example.com`), CERTGATE_DNS_VALUE and CERTGATE_DOMAIN set,
 * and must return only once the record is published.
 */
export async function runDnsHook(
  command: string,
  action: 'present' | 'cleanup',
  domain: string,
  value: string,
  options: { env?: Record<string, string | undefined>; timeoutMs?: number } = {},
): Promise<void> {
  const timeoutMs = options.timeoutMs ?? 120_000;
  const name = `_acme-challenge.${domain.replace(/^\*\./, '')}`;
  try {
    await run('/bin/sh', ['-c', command], {
      timeout: timeoutMs,
      env: { ...(options.env ?? process.env), CERTGATE_DNS_ACTION: action, CERTGATE_DNS_NAME: name, CERTGATE_DNS_VALUE: value, CERTGATE_DOMAIN: domain },
    });
  } catch (err) {
    const e = err as { code?: number | string; stderr?: string; killed?: boolean };
    const lines = String(e.stderr ?? '')
      .split('\n')
      .map((l) => l.trim())
      .filter((l) => l && !/^Node\.js v\d/.test(l) && !/^at /.test(l));
    const said = lines.find((l) => /error/i.test(l)) ?? lines[lines.length - 1];
    throw new CertgateError(
      'E_ACME_DNS_HOOK',
      `the DNS hook failed to ${action} ${name}: ${e.killed ? `timed out after ${timeoutMs} ms` : `exit ${e.code}`}${said ? `: ${said.slice(0, 200)}` : ''}`,
      'run the hook by hand with CERTGATE_DNS_ACTION, CERTGATE_DNS_NAME and CERTGATE_DNS_VALUE set and fix what it says',
      { cause: err },
    );
  }
}
