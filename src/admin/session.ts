/**
 * @module admin/session
 * Dashboard sessions: a random id in an HttpOnly, SameSite=Strict cookie (Secure over TLS),
 * held in memory, tied to the token that opened it (revoking the token ends it), with a
 * one-shot message for Post/Redirect/Get.
 */
import { randomBytes } from 'node:crypto';
import type { Context } from 'hono';
import type { FailureLimiter } from './guard.ts';
import type { RecentEvents } from './recent.ts';
import type { AdminTokens } from './tokens.ts';

export const SESSION_MS = 12 * 3600_000;
export const SESSION_COOKIE = 'certgate_session';

export interface Session {
  tokenId: string;
  expires: number;
  flash: { kind: 'ok' | 'error'; text: string } | null;
}

export class Sessions {
  readonly #map = new Map<string, Session>();

  create(tokenId: string): string {
    const id = randomBytes(32).toString('base64url');
    if (this.#map.size >= 1000) this.#map.delete(this.#map.keys().next().value as string);
    this.#map.set(id, { tokenId, expires: Date.now() + SESSION_MS, flash: null });
    return id;
  }

  get(id: string | undefined): Session | null {
    if (!id) return null;
    const s = this.#map.get(id);
    if (!s) return null;
    if (s.expires < Date.now()) {
      this.#map.delete(id);
      return null;
    }
    return s;
  }

  drop(id: string | undefined): void {
    if (id) this.#map.delete(id);
  }
}

export interface AuthKit {
  tokens: AdminTokens;
  sessions: Sessions;
  limiter: FailureLimiter;
  secure: boolean;
  /** Events since the listener started, for the first page. */
  recent: RecentEvents;
  clientOf(c: Context): string;
}
