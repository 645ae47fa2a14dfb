/**
 * Debian's pebble and pebble-challtestsrv started for a test: challtestsrv as the DNS answering
 * 127.0.0.1 (and nothing else: its own challenge responders are off, so certgate's are the ones
 * tested), pebble on high ports with -dnsserver, its TLS certificate generated now.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Agent, request } from 'undici';
import { createCertificate } from '../../src/pki/generate.ts';
import { freePort } from './daemons.ts';
import { binaryOf } from './require.ts';

export interface Pebble {
  directoryUrl: string;
  /** PEM of the CA that signed pebble's own HTTPS certificate (trust it for the directory). */
  tlsCaPem: string;
  /** Where pebble validates: point the responders here. */
  httpPort: number;
  tlsPort: number;
  managementUrl: string;
  challtestsrvUrl: string;
  /** challtestsrv's DNS server (`127.0.0.1:PORT`): point a resolver here to see the test's records. */
  dnsServer: string;
  /** The issuing root of this pebble run (regenerated at every start). */
  issuingRoot(): Promise<string>;
  setTxt(host: string, value: string): Promise<void>;
  clearTxt(host: string): Promise<void>;
  stop(): Promise<void>;
  /** pebble's log so far (the last 4,000 characters). */
  log(): string;
  /** New orders pebble received since it started (counted from its log). */
  orders(): number;
  /** Starts pebble again on the same ports (after stop()). */
  restart(): Promise<void>;
  close(): Promise<void>;
}

export interface PebbleOptions {
  /** PEBBLE_WFE_NONCEREJECT: percent of good nonces rejected (default 0). */
  nonceReject?: number;
  env?: Record<string, string>;
  /** certificateValidityPeriod in seconds (pebble's default: 5 years); short ones give renew work. */
  validitySeconds?: number;
}

function track(child: ChildProcess, name: string, onOrders: (n: number) => void = () => {}): () => string {
  const count = (d: Buffer) => onOrders((String(d).match(/POST \/order-plz/g) ?? []).length);
  let log = '';
  child.stdout?.on('data', (d) => {
    count(d);
    log = (log + d).slice(-4000);
  });
  child.stderr?.on('data', (d) => {
    count(d);
    log = (log + d).slice(-4000);
  });
  return () => `${name}: ${log}`;
}

async function kill(child: ChildProcess | null): Promise<void> {
  if (!child || child.exitCode !== null || child.signalCode) return;
  const exited = new Promise((r) => child.once('exit', r));
  child.kill('SIGTERM');
  const t = setTimeout(() => child.kill('SIGKILL'), 5000);
  await exited;
  clearTimeout(t);
}

export async function startPebble(options: PebbleOptions = {}): Promise<Pebble> {
  const pebbleBin = binaryOf('pebble', '/usr/bin/pebble');
  const challtestsrvBin = binaryOf('pebble', '/usr/bin/pebble-challtestsrv');
  const dir = mkdtempSync(join(tmpdir(), 'certgate-pebble-'));
  const ca = await createCertificate({ subject: 'CN=Pebble Test TLS CA', ca: true });
  const tls = await createCertificate({ subject: 'CN=localhost', issuer: ca, dns: ['localhost'], ip: ['127.0.0.1'] });
  writeFileSync(join(dir, 'cert.pem'), tls.certPem);
  writeFileSync(join(dir, 'key.pem'), tls.keyPem);
  const [acmePort, mgmtPort, httpPort, tlsPort, dnsPort, ctsMgmt] = await Promise.all([freePort(), freePort(), freePort(), freePort(), freePort(), freePort()]);
  writeFileSync(
    join(dir, 'pebble.json'),
    JSON.stringify({
      pebble: {
        listenAddress: `127.0.0.1:${acmePort}`,
        managementListenAddress: `127.0.0.1:${mgmtPort}`,
        certificate: join(dir, 'cert.pem'),
        privateKey: join(dir, 'key.pem'),
        httpPort,
        tlsPort,
        ocspResponderURL: '',
        externalAccountBindingRequired: false,
        ...(options.validitySeconds ? { certificateValidityPeriod: options.validitySeconds } : {}),
      },
    }),
  );
  const cts = spawn(
    challtestsrvBin,
    [
      '-defaultIPv4',
      '127.0.0.1',
      '-defaultIPv6',
      '',
      '-http01',
      '',
      '-https01',
      '',
      '-tlsalpn01',
      '',
      '-dns01',
      `127.0.0.1:${dnsPort}`,
      '-management',
      `127.0.0.1:${ctsMgmt}`,
    ],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  const ctsLog = track(cts, 'challtestsrv');
  let pebble: ChildProcess | null = null;
  let pebbleLog = () => '';
  let orderCount = 0;
  const agent = new Agent({ connect: { ca: [ca.certPem] } });
  const directoryUrl = `https://127.0.0.1:${acmePort}/dir`;
  const managementUrl = `https://127.0.0.1:${mgmtPort}`;
  const challtestsrvUrl = `http://127.0.0.1:${ctsMgmt}`;

  async function waitFor(url: string, what: () => string): Promise<void> {
    const deadline = Date.now() + 20_000;
    while (Date.now() < deadline) {
      try {
        const res = await request(url, { dispatcher: agent, method: 'GET' });
        await res.body.dump();
        if (res.statusCode < 500) return;
      } catch {
        // not up yet
      }
      await new Promise((r) => setTimeout(r, 100));
    }
    throw new Error(`${url} did not come up: ${what()}`);
  }

  async function start(): Promise<void> {
    pebble = spawn(pebbleBin, ['-config', join(dir, 'pebble.json'), '-dnsserver', `127.0.0.1:${dnsPort}`], {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: {
        PATH: process.env.PATH ?? '',
        PEBBLE_VA_NOSLEEP: '1',
        PEBBLE_AUTHZREUSE: '0',
        PEBBLE_WFE_NONCEREJECT: String(options.nonceReject ?? 0),
        ...options.env,
      },
    });
    pebbleLog = track(pebble, 'pebble', (n) => {
      orderCount += n;
    });
    await waitFor(directoryUrl, pebbleLog);
  }
  await waitFor(`${challtestsrvUrl}/`, ctsLog).catch(() => {});
  await start();

  const post = async (path: string, body: unknown) => {
    const res = await request(`${challtestsrvUrl}${path}`, { method: 'POST', body: JSON.stringify(body) });
    await res.body.dump();
    if (res.statusCode >= 300) throw new Error(`challtestsrv ${path} → ${res.statusCode}`);
  };
  return {
    directoryUrl,
    tlsCaPem: ca.certPem,
    httpPort,
    tlsPort,
    managementUrl,
    challtestsrvUrl,
    dnsServer: `127.0.0.1:${dnsPort}`,
    log: () => pebbleLog(),
    orders: () => orderCount,
    async issuingRoot() {
      const res = await request(`${managementUrl}/roots/0`, { dispatcher: agent });
      return res.body.text();
    },
    setTxt: (host, value) => post('/set-txt', { host: host.endsWith('.') ? host : `${host}.`, value }),
    clearTxt: (host) => post('/clear-txt', { host: host.endsWith('.') ? host : `${host}.` }),
    stop: () => kill(pebble),
    restart: start,
    async close() {
      await kill(pebble);
      await kill(cts);
      await agent.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/**
 * The flags that point `certgate serve` or `issue` at this Pebble: its directory, the CA of its
 * HTTPS certificate (written to `caFile`), an email and the terms; HTTP-01 on Pebble's port.
 */
export function pebbleFlags(pebble: Pebble, caFile: string, email = 'ops@certgate.dev'): string[] {
  writeFileSync(caFile, pebble.tlsCaPem);
  return ['--http-port', String(pebble.httpPort), '--directory', pebble.directoryUrl, '--ca-root', caFile, '--email', email, '--agree-tos'];
}
