/**
 * @module admin/resources
 * Outbound resources through the admin API: the same registry files, the same layered test as
 * `resources test`, and pinning what the server presents now (one click from a test that found
 * a self-signed certificate), guarded by the fingerprint the operator saw.
 */
import { isIP } from 'node:net';
import { probe } from '../diagnostics/probe.ts';
import { CertgateError } from '../errors.ts';
import { decodeCertificate, toPem } from '../pki/certificate.ts';
import { getResource, saveResource } from '../profiles/registry.ts';
import { readSecret, resolveTls } from '../profiles/resolve.ts';
import type { Resource } from '../profiles/schema.ts';
import { type ResourceTestResult, testResource } from '../profiles/test.ts';
import { createTrustStore } from '../trust/store.ts';

export interface ResourceDirs {
  resources: string;
  caCerts: string;
  /** The environment secret references (`password: { env: ... }`) are read from. */
  env: Record<string, string | undefined>;
}

function starttlsOf(r: Resource): 'postgres' | 'mysql' | undefined {
  return r.kind === 'postgres' ? 'postgres' : r.kind === 'mysql' ? 'mysql' : undefined;
}

/** What the server presents now (no verification): the leaf, and whether it is self-signed. */
export async function presented(
  r: Resource,
  timeoutMs: number,
): Promise<{ subject: string; sha256: string; selfSigned: boolean; kind: string; pem: string } | null> {
  const servername = r.tls.servername ?? (isIP(r.host) ? undefined : r.host);
  const starttls = starttlsOf(r);
  const result = await probe({ host: r.host, port: r.port, timeoutMs, ca: [], ...(servername ? { servername } : {}), ...(starttls ? { starttls } : {}) });
  const der = result.chain[0];
  if (!der) return null;
  const leaf = decodeCertificate(der);
  return { subject: leaf.info.subject, sha256: leaf.info.fingerprints.sha256, selfSigned: leaf.info.selfSigned, kind: leaf.info.kind, pem: toPem(leaf) };
}

export async function testNamed(
  dirs: ResourceDirs,
  name: string,
  timeoutMs: number,
): Promise<ResourceTestResult & { presented: { subject: string; sha256: string; selfSigned: boolean } | null }> {
  const r = await getResource(dirs.resources, name);
  const trust = createTrustStore({ dir: dirs.caCerts, watch: false });
  await trust.start();
  const ctx = { trustCa: trust.current().ca, env: dirs.env, baseDir: dirs.resources };
  const t = resolveTls(r, ctx);
  const password = r.password ? readSecret(r.password, 'password', r.name, ctx).replace(/\r?\n$/, '') : undefined;
  const result = await testResource(r, t, { timeoutMs, ...(password !== undefined ? { password } : {}) });
  // A TLS layer that failed on trust: say what the server presents, so it can be pinned in one step.
  const tls = result.layers.find((l) => l.layer === 'tls');
  let shown: { subject: string; sha256: string; selfSigned: boolean } | null = null;
  if (tls && tls.status === 'fail' && r.tls.mode !== 'pinned') {
    const p = await presented(r, timeoutMs).catch(() => null);
    if (p) shown = { subject: p.subject, sha256: p.sha256, selfSigned: p.selfSigned };
  }
  return { ...result, presented: shown };
}

/** Pins the certificate the resource's server presents now; refuses when it is not the one the operator saw. */
export async function pinNamed(
  dirs: ResourceDirs,
  name: string,
  expectSha256: string | undefined,
  timeoutMs: number,
): Promise<{ sha256: string; subject: string }> {
  const r = await getResource(dirs.resources, name);
  const p = await presented(r, timeoutMs);
  if (!p) throw new CertgateError('E_TRUST_NOTHING', `${r.host}:${r.port} sent no certificate`, `run certgate inspect ${r.host}:${r.port}`);
  const norm = (s: string) => s.replace(/[:\s]/g, '').toUpperCase();
  if (expectSha256 && norm(expectSha256) !== norm(p.sha256))
    throw new CertgateError(
      'E_ADMIN_CONFLICT',
      `${r.host}:${r.port} now presents a different certificate (SHA-256 ${p.sha256}) than the one shown; nothing was pinned`,
      'test the connection again and compare the fingerprint with the server',
    );
  await saveResource(dirs.resources, { ...r, tls: { ...r.tls, mode: 'pinned', pinnedCert: p.pem } }, { replace: true });
  return { sha256: p.sha256, subject: p.subject };
}
