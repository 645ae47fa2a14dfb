/**
 * @module acme/ari
 * ACME Renewal Information (RFC 9773): the CA says when to renew. Pebble 2.4 has no ARI; the
 * tests run a small renewalInfo responder of their own.
 */
import type { Dispatcher } from 'undici';
import { request } from 'undici';
import type { Certificate } from '../pki/certificate.ts';
import type { AriInfo } from '../store/store.ts';

function b64url(bytes: Uint8Array): string {
  return Buffer.from(bytes).toString('base64url');
}

/** base64url(AKI keyIdentifier) "." base64url(serial, DER INTEGER content). */
export function ariCertId(cert: Certificate): string | null {
  const aki = cert.info.authorityKeyId;
  if (!aki) return null;
  let serial = Buffer.from(cert.info.serialNumber.length % 2 ? `0${cert.info.serialNumber}` : cert.info.serialNumber, 'hex');
  if ((serial[0] ?? 0) & 0x80) serial = Buffer.concat([Buffer.from([0]), serial]);
  return `${b64url(Buffer.from(aki.replace(/:/g, ''), 'hex'))}.${b64url(serial)}`;
}

export async function fetchRenewalInfo(renewalInfoUrl: string, certId: string, dispatcher: Dispatcher, now: Date): Promise<AriInfo | null> {
  const res = await request(`${renewalInfoUrl.replace(/\/$/, '')}/${certId}`, { dispatcher, method: 'GET', headersTimeout: 10_000, bodyTimeout: 10_000 });
  if (res.statusCode !== 200) {
    await res.body.dump();
    return null;
  }
  const body = (await res.body.json()) as { suggestedWindow?: { start?: string; end?: string }; explanationURL?: string };
  const start = body.suggestedWindow?.start;
  const end = body.suggestedWindow?.end;
  if (!start || !end || Number.isNaN(Date.parse(start)) || Number.isNaN(Date.parse(end)) || Date.parse(end) < Date.parse(start)) return null;
  const retryAfter = Number(res.headers['retry-after']);
  return {
    certId,
    window: { start: new Date(start).toISOString(), end: new Date(end).toISOString() },
    explanationUrl: body.explanationURL ?? null,
    checkedAt: now.toISOString(),
    recheckAt: new Date(now.getTime() + (Number.isFinite(retryAfter) && retryAfter > 0 ? retryAfter * 1000 : 6 * 3600_000)).toISOString(),
  };
}
