/**
 * @module doctor/local
 * Checks of this host and its configuration: the ports, the mode, the ACME email, the
 * behind-a-proxy trap, the ca-certs files, the stored certificates and the storage itself.
 */

import { randomBytes } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { connect as tlsConnect } from 'node:tls';
import { DIRECTORIES, PUBLIC_DIRECTORIES, resolveDirectory } from '../acme/directory.ts';
import { isPlaceholderEmail } from '../acme/issuer.ts';
import { CertgateError } from '../errors.ts';
import { listenOn } from '../listen.ts';
import { LocalCa } from '../localca/local-ca.ts';
import { dueAt } from '../maintenance/maintainer.ts';
import { indexEntryOf, pairProblem } from '../store/meta.ts';
import { loadCaDir } from '../trust/load.ts';
import { fetchOnce } from './probe.ts';
import { check, type DoctorCheck, type DoctorContext } from './types.ts';

export type PortState = 'free' | 'certgate' | 'other' | 'denied' | 'off';

/** certgate's HTTP-01 responder answers an unknown token with exactly this. */
async function isCertgateHttp(ctx: DoctorContext, port: number): Promise<boolean> {
  try {
    const a = await fetchOnce({
      host: ctx.probeHost,
      port,
      tls: false,
      name: 'localhost',
      path: '/.well-known/acme-challenge/certgate-doctor-probe',
      ca: [],
      timeoutMs: ctx.timeoutMs,
    });
    return a.status === 404 && String(a.headers['content-type']).startsWith('text/plain') && a.body === 'no such challenge';
  } catch {
    return false;
  }
}

/** certgate serves localhost with a certificate from this data directory's local CA. */
async function isCertgateHttps(ctx: DoctorContext, port: number): Promise<boolean> {
  let caPem: string;
  try {
    caPem = await readFile(new LocalCa({ dir: `${ctx.engines.paths.root}/local-ca` }).certPath, 'utf8');
  } catch {
    return false;
  }
  return new Promise((resolve) => {
    const s = tlsConnect({ host: ctx.probeHost, port, servername: 'localhost', ca: [caPem], ALPNProtocols: ['http/1.1'] });
    const timer = setTimeout(() => finish(false), ctx.timeoutMs);
    const finish = (v: boolean) => {
      clearTimeout(timer);
      s.destroy();
      resolve(v);
    };
    s.once('secureConnect', () => finish(s.authorized));
    s.once('error', () => finish(false));
  });
}

export async function portState(ctx: DoctorContext, port: number | null, what: 'HTTP' | 'HTTPS'): Promise<PortState> {
  if (port === null || port === 0) return 'off';
  const probe = createServer();
  try {
    await listenOn(probe, port, ctx.settings.host, what);
    await new Promise((r) => probe.close(r));
    return 'free';
  } catch (err) {
    if (!(err instanceof CertgateError) || err.code !== 'E_PORT_IN_USE') throw err;
    if (/no permission/.test(err.message)) return 'denied';
  }
  return (what === 'HTTP' ? await isCertgateHttp(ctx, port) : await isCertgateHttps(ctx, port)) ? 'certgate' : 'other';
}

export async function portCheck(ctx: DoctorContext, what: 'HTTP' | 'HTTPS', state: PortState): Promise<DoctorCheck> {
  const id = what === 'HTTP' ? 'port-http' : 'port-https';
  const port = what === 'HTTP' ? ctx.httpPort : ctx.httpsPort;
  const use = what === 'HTTP' ? 'ACME HTTP-01 and the redirect' : 'HTTPS and TLS-ALPN-01';
  const title = `port ${port ?? '-'} (${what}) free or held by certgate`;
  switch (state) {
    case 'off':
      return check(
        id,
        'skip',
        title,
        port === 0
          ? `the ${what} port is 0: the system picks one at start`
          : `no ${what} listener is configured${what === 'HTTPS' && ctx.settings.behindProxy ? ' (TLS ends at the load balancer)' : ''}`,
      );
    case 'free':
      return check(id, 'pass', title, `port ${port} is free: certgate serve can listen there (${use})`);
    case 'certgate':
      return check(
        id,
        'pass',
        title,
        what === 'HTTP'
          ? `port ${port} is held by certgate: it answers as certgate's HTTP-01 responder`
          : `port ${port} is held by certgate: it serves localhost with a certificate of this data directory's local CA`,
      );
    case 'denied':
      return check(id, 'fail', title, `no permission to listen on port ${port}`, 'run as root, grant CAP_NET_BIND_SERVICE (setcap), or use a port above 1024');
    case 'other':
      return check(
        id,
        'fail',
        title,
        `port ${port} is held by another program (it does not answer as certgate serving this data directory); certgate cannot take ${use}`,
        `stop what listens there (ss -ltnp 'sport = :${port}'), or point --${what === 'HTTP' ? 'http' : 'https'}-port elsewhere`,
      );
  }
}

export function modeCheck(ctx: DoctorContext): DoctorCheck {
  const s = ctx.settings;
  const title = 'production vs development mode';
  if (s.mode === 'development')
    return check(
      'mode',
      'warn',
      title,
      'development mode: every name gets a local-CA certificate; browsers that do not trust the local CA warn, and no public certificate is obtained',
      'set mode: production (CERTGATE_MODE=production, --mode production) on the host real visitors reach',
    );
  if (!s.acmeAgreeTos)
    return check(
      'mode',
      'warn',
      title,
      "production mode, but ACME is off: the CA's terms are not agreed, so public names get local-CA certificates browsers do not trust",
      'set CERTGATE_ACME_AGREE_TOS=true (--agree-tos) and CERTGATE_ACME_EMAIL',
    );
  if (resolveDirectory(s.acmeDirectory) === DIRECTORIES['letsencrypt-staging'])
    return check(
      'mode',
      'warn',
      title,
      "production mode with Let's Encrypt's staging directory: its certificates are not trusted by browsers",
      'set CERTGATE_ACME_DIRECTORY=letsencrypt when the setup works',
    );
  return check('mode', 'pass', title, `production mode: public names get certificates from ${resolveDirectory(s.acmeDirectory)}`);
}

const PLACEHOLDER_DOMAIN = /@(example\.(com|org|net)|(.+\.)?(test|localhost|invalid|example)|localhost)$/i;

export function emailCheck(ctx: DoctorContext): DoctorCheck {
  const s = ctx.settings;
  const title = 'ACME account email';
  const email = s.acmeEmail?.trim();
  let directory: string;
  try {
    directory = resolveDirectory(s.acmeDirectory);
  } catch (err) {
    const e = err as CertgateError;
    return check('acme-email', 'fail', title, e.message, e.fix ?? null);
  }
  const letsEncrypt = directory === DIRECTORIES.letsencrypt || directory === DIRECTORIES['letsencrypt-staging'];
  if (!email) {
    if (!ctx.acme) return check('acme-email', 'skip', title, 'ACME is off and no email is set');
    if (PUBLIC_DIRECTORIES.has(directory))
      return check(
        'acme-email',
        'fail',
        title,
        `no contact email: ${directory} requires one, and issuance is refused without it`,
        'set CERTGATE_ACME_EMAIL=you@yourdomain (or --email)',
      );
    return check(
      'acme-email',
      'warn',
      title,
      'no contact email: the CA cannot tell you about problems with your certificates',
      'set CERTGATE_ACME_EMAIL=you@yourdomain (or --email)',
    );
  }
  if (!/^[^@\s]+@[^@\s]+\.[^@\s]+$/.test(email) && !/@localhost$/i.test(email))
    return check('acme-email', 'fail', title, `"${email}" is not an email address`, 'set CERTGATE_ACME_EMAIL to an address you read');
  if (PLACEHOLDER_DOMAIN.test(email)) {
    const domain = email.slice(email.lastIndexOf('@') + 1);
    if (letsEncrypt)
      return check(
        'acme-email',
        'fail',
        title,
        `${email} is at ${domain}, a placeholder domain: Let's Encrypt refuses to register an account with it (invalidContact)`,
        'set CERTGATE_ACME_EMAIL to your own address (a domain you receive mail at)',
      );
    return check(
      'acme-email',
      'warn',
      title,
      `${email} is at ${domain}, a placeholder domain: the CA's mail goes nowhere`,
      'set CERTGATE_ACME_EMAIL to your own address',
    );
  }
  if (isPlaceholderEmail(email))
    return check(
      'acme-email',
      'warn',
      title,
      `${email} looks like a placeholder; the CA's mail may go nowhere`,
      'set CERTGATE_ACME_EMAIL to an address you read',
    );
  return check('acme-email', 'pass', title, `${email}`);
}

export function proxyCheck(ctx: DoctorContext): DoctorCheck {
  const s = ctx.settings;
  const title = 'custom domain behind a TLS-terminating proxy';
  if (!s.behindProxy) return check('proxy-custom-domain', 'pass', title, 'not behind a load balancer: certgate terminates TLS and serves its own certificates');
  if (s.behindProxy.length === 0)
    return check(
      'proxy-custom-domain',
      'fail',
      title,
      'behind a load balancer, but no address is trusted: X-Forwarded-Proto is never believed, so an app that redirects to https loops',
      "list the load balancer's addresses: --behind-proxy 10.0.0.0/8 (CERTGATE_BEHIND_PROXY)",
    );
  if (!ctx.domains.length)
    return check('proxy-custom-domain', 'pass', title, `behind a load balancer (trusted: ${s.behindProxy.join(', ')}); no custom domain is registered`);
  const names = ctx.domains.join(', ');
  if (s.behindProxyTls)
    return check(
      'proxy-custom-domain',
      'pass',
      title,
      `behind a load balancer that connects to certgate's HTTPS listener (behindProxy.tls): the load balancer sees certgate's certificates for ${names}`,
    );
  return check(
    'proxy-custom-domain',
    'warn',
    title,
    `TLS ends at the load balancer (trusted: ${s.behindProxy.join(', ')}), so visitors of ${names} see the load balancer's certificate, not certgate's. ` +
      'Behind it the app receives plain HTTP: unless the load balancer sends X-Forwarded-Proto: https (and the Host) from a trusted address, ' +
      'the app believes the visit is http and redirects to https again (a redirect loop), or sets its session cookie for the wrong scheme and answers 401 after every login',
    `put the certificate for ${names} on the load balancer (or keep TLS at certgate: behindProxy.tls), have it send X-Forwarded-Proto: https and the original Host, list its address in --behind-proxy, set the app's public URL to https://${ctx.domains[0]}; forward /.well-known/acme-challenge/ to certgate's HTTP port. The redirect-loop check probes it`,
  );
}

export async function caCertsCheck(ctx: DoctorContext): Promise<DoctorCheck> {
  const dir = ctx.engines.paths.caCerts;
  const title = 'every ca-certs file valid';
  const { entries, problems } = await loadCaDir(dir, ctx.clock());
  if (problems.length)
    return check(
      'ca-certs',
      'fail',
      title,
      `${problems.length} problem${problems.length === 1 ? '' : 's'} in ${dir}: ${problems.map((p) => `${p.code} ${p.message}`).join('; ')}`,
      [...new Set(problems.map((p) => p.fix))].join('; '),
    );
  const files = new Set(entries.map((e) => e.file)).size;
  return check(
    'ca-certs',
    'pass',
    title,
    entries.length
      ? `${entries.length} CA certificate${entries.length === 1 ? '' : 's'} in ${files} file${files === 1 ? '' : 's'} (${dir})`
      : `no extra CA in ${dir}: Node's roots only`,
  );
}

export async function certificateChecks(ctx: DoctorContext): Promise<DoctorCheck[]> {
  const store = ctx.engines.store;
  const now = ctx.clock().getTime();
  const entries = await store.scan();
  const names = [...new Set([...entries.map((e) => e.name), ...(await store.statedNames())])].sort();
  if (!names.length) return [check('certificate', 'skip', 'certificates past their renewal point or failing', 'no certificate is stored yet')];
  const out: DoctorCheck[] = [];
  for (const name of names) {
    const id = `certificate:${name}`;
    const title = `${name}: certificate valid and renewing`;
    const [bundle, state] = await Promise.all([store.getBundle(name), store.getState(name)]);
    if (state.flagged) {
      out.push(
        check(
          id,
          'fail',
          title,
          `renewal stopped after ${state.attempts} failed attempts${state.lastError ? `: ${state.lastError.code} ${state.lastError.message}` : ''}`,
          `fix the cause (certgate logs ${name}), then certgate issue ${name} --force`,
        ),
      );
      continue;
    }
    if (state.lastError) {
      out.push(
        check(
          id,
          'fail',
          title,
          `the last attempt failed (${state.lastError.at}, attempt ${state.attempts}): ${state.lastError.code} ${state.lastError.message}${state.nextAttemptAt ? `; next attempt ${state.nextAttemptAt}` : ''}`,
          `see certgate logs ${name}; after fixing the cause, certgate issue ${name} --force`,
        ),
      );
      continue;
    }
    if (!bundle) {
      out.push(check(id, 'warn', title, 'no certificate stored for this name yet', `certgate issue ${name}`));
      continue;
    }
    const damaged = pairProblem(bundle);
    if (damaged) {
      out.push(check(id, 'fail', title, `the stored certificate is damaged: ${damaged}`, `certgate issue ${name} --force`));
      continue;
    }
    const m = bundle.meta;
    const due = dueAt(indexEntryOf(m, name));
    const why = due.window === 'ari' ? "the CA's ARI window" : 'the last third of its lifetime';
    const dueIso = new Date(due.at).toISOString();
    if (now >= Date.parse(m.notAfter))
      out.push(check(id, 'fail', title, `expired at ${m.notAfter}`, `certgate issue ${name} --force; check that certgate serve (maintenance) is running`));
    else if (now >= due.at + ctx.settings.maintenanceInterval)
      out.push(
        check(
          id,
          'fail',
          title,
          `past its renewal point (${dueIso}, ${why}) by more than a maintenance interval and not renewed; expires ${m.notAfter}`,
          `check that certgate serve runs (its maintenance renews), or run certgate renew`,
        ),
      );
    else if (now >= due.at)
      out.push(
        check(
          id,
          'warn',
          title,
          `due for renewal since ${dueIso} (${why}); expires ${m.notAfter}`,
          'the next maintenance cycle renews it; certgate renew does it now',
        ),
      );
    else out.push(check(id, 'pass', title, `valid until ${m.notAfter}; renewal from ${dueIso} (${why})`));
  }
  return out;
}

export async function storageCheck(ctx: DoctorContext): Promise<DoctorCheck> {
  const storage = ctx.engines.store.storage;
  const title = 'storage writable';
  const key = `doctor/probe-${randomBytes(6).toString('hex')}`;
  const value = randomBytes(32).toString('hex');
  try {
    await storage.store(key, value);
    const back = await storage.load(key);
    if (back?.toString('utf8') !== value)
      return check('storage', 'fail', title, `${key} read back differently than written`, 'check the storage backend (disk, file system)');
    await storage.delete(key);
    if (await storage.exists(key)) return check('storage', 'fail', title, `${key} is still there after delete`, 'check the storage backend');
    await ctx.engines.store.checkWritable?.();
  } catch (err) {
    const e = err as CertgateError & NodeJS.ErrnoException;
    await storage.delete(key).catch(() => {});
    return check(
      'storage',
      'fail',
      title,
      `writing, reading back and deleting ${key} failed: ${e.code ? `${e.code} ` : ''}${e.message}`,
      e.fix ?? 'give certgate a writable data directory (--data / CERTGATE_DATA)',
    );
  }
  return check('storage', 'pass', title, `wrote, read back and deleted a key in ${ctx.engines.paths.root}`);
}
