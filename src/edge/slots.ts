/**
 * @module edge/slots
 * Puts a name's certificates into a TLS connection so that they, and only they, are served.
 *
 * An OpenSSL connection holds one certificate per key algorithm (a slot each: ECDSA, RSA) and
 * picks among them by the client's signature algorithms. It starts with the slots of the
 * server's default context. When the SNI callback answers with another context, Node copies that
 * context's one current certificate into its slot and leaves the others as they were
 * (nodejs/node#54235): an RSA certificate for the name sat next to the default context's ECDSA
 * certificate, which every client that prefers ECDSA (curl, browsers, openssl) was given. So a
 * switch also empties each slot the default context filled and the name does not, and a name's
 * second certificate is copied in with `tlsSocket.setKeyCert()`.
 */
import { X509Certificate } from 'node:crypto';
import { createSecureContext, type SecureContext, type TLSSocket } from 'node:tls';
import { type KeyAlgorithm, keyAlgorithm, type NameContexts, SLOT_ECDSA, SLOT_RSA, slotOf } from '../cache/cache.ts';
import { createCertificate } from '../pki/generate.ts';
import type { CertificateBundle } from '../store/store.ts';

const SLOTS: ReadonlyArray<[number, KeyAlgorithm]> = [
  [SLOT_ECDSA, 'ecdsa'],
  [SLOT_RSA, 'rsa'],
];

const foreign = new WeakMap<SecureContext, NameContexts>();

/** A context built elsewhere (a stand-in, a TLS-ALPN-01 answer) in the shape a switch takes; its slot read once from its certificate. */
export function asNameContexts(ctx: SecureContext): NameContexts {
  let c = foreign.get(ctx);
  if (!c) {
    const der = (ctx.context as { getCertificate?: () => Buffer | null }).getCertificate?.();
    const type = der ? new X509Certificate(der).publicKey.asymmetricKeyType : 'ec';
    c = { main: ctx, alt: null, slots: type === 'rsa' ? SLOT_RSA : SLOT_ECDSA };
    foreign.set(ctx, c);
  }
  return c;
}

/**
 * What the server's default context holds, and how to empty its slots in a connection that
 * switches to another name's certificates.
 */
export class ConnectionSlots {
  /** Slots the default context fills. */
  #filled = 0;
  /**
   * Per slot, a context holding only a certificate of that algorithm with a key no slot has:
   * copying it in replaces the slot's certificate, which drops the slot's key (it no longer
   * matches), then Node throws because the context has no key. The slot is left empty, which is
   * the point. (Node offers no call that clears a slot.)
   */
  readonly #emptiers = new Map<number, SecureContext>();

  /** Records the default context's certificates; makes the emptiers for their slots the first time. */
  async setDefault(bundles: readonly CertificateBundle[]): Promise<void> {
    let filled = 0;
    for (const b of bundles) filled |= slotOf(keyAlgorithm(b));
    for (const [slot, algorithm] of SLOTS) {
      if (!(filled & slot) || this.#emptiers.has(slot)) continue;
      const c = await createCertificate({ subject: 'CN=certgate empty slot', key: algorithm === 'rsa' ? 'rsa-2048' : 'ec-p256' });
      this.#emptiers.set(slot, createSecureContext({ cert: c.certPem }));
    }
    this.#filled = filled;
  }

  /**
   * Makes the connection serve `c` only: empties the default's other slots, copies a second
   * certificate in; the caller then hands `c.main` to the SNI callback's `cb`.
   */
  apply(s: TLSSocket | undefined, c: NameContexts): void {
    if (!s) return;
    const stale = this.#filled & ~c.slots;
    if (stale) {
      for (const [slot] of SLOTS) {
        const emptier = stale & slot ? this.#emptiers.get(slot) : undefined;
        if (!emptier) continue;
        try {
          s.setKeyCert(emptier);
        } catch {
          // Expected: see #emptiers.
        }
      }
    }
    if (c.alt) s.setKeyCert(c.alt);
  }
}
