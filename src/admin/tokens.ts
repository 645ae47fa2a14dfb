/**
 * @module admin/tokens
 * Admin tokens: 32 random bytes shown once, stored as their SHA-256 only, in the repository's
 * documents (so every storage backend keeps them). Checked in constant time against every
 * stored hash: the time taken says nothing about which token, or how much of one, matched.
 */
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { CertgateError } from '../errors.ts';
import type { Store } from '../store/store.ts';

const DOC = 'admin-tokens';
/** Tokens look like `cgt_` + 43 base64url characters: easy to spot in a leaked paste, and to grep. */
export const TOKEN_PREFIX = 'cgt_';

export interface TokenRecord {
  /** A short public handle (what `list` shows and `revoke` takes); not secret. */
  id: string;
  label: string;
  /** SHA-256 of the token, hex. */
  sha256: string;
  createdAt: string;
}

/** What may be shown of a token: never its hash, never the token. */
export interface TokenInfo {
  id: string;
  label: string;
  createdAt: string;
}

interface TokensDoc {
  tokens: TokenRecord[];
}

function hashOf(token: string): Buffer {
  return createHash('sha256').update(token, 'utf8').digest();
}

export class AdminTokens {
  readonly #store: Pick<Store, 'getDocument' | 'putDocument'>;

  constructor(store: Pick<Store, 'getDocument' | 'putDocument'>) {
    this.#store = store;
  }

  async #doc(): Promise<TokensDoc> {
    const d = await this.#store.getDocument<TokensDoc>(DOC);
    return { tokens: Array.isArray(d?.tokens) ? d.tokens : [] };
  }

  /** Makes a token; the only moment its text exists outside the caller. */
  async create(label: string): Promise<{ token: string; info: TokenInfo }> {
    const clean = label.trim().slice(0, 64) || 'admin';
    const token = `${TOKEN_PREFIX}${randomBytes(32).toString('base64url')}`;
    const doc = await this.#doc();
    let id = randomBytes(4).toString('hex');
    while (doc.tokens.some((t) => t.id === id)) id = randomBytes(4).toString('hex');
    const record: TokenRecord = { id, label: clean, sha256: hashOf(token).toString('hex'), createdAt: new Date().toISOString() };
    await this.#store.putDocument<TokensDoc>(DOC, { tokens: [...doc.tokens, record] });
    return { token, info: { id, label: clean, createdAt: record.createdAt } };
  }

  async list(): Promise<TokenInfo[]> {
    return (await this.#doc()).tokens.map(({ id, label, createdAt }) => ({ id, label, createdAt }));
  }

  async revoke(id: string): Promise<TokenInfo> {
    const doc = await this.#doc();
    const found = doc.tokens.find((t) => t.id === id);
    if (!found) throw new CertgateError('E_ADMIN_TOKEN_NOT_FOUND', `no admin token has the id "${id.slice(0, 32)}"`, 'certgate admin token list shows the ids');
    await this.#store.putDocument<TokensDoc>(DOC, { tokens: doc.tokens.filter((t) => t.id !== id) });
    return { id: found.id, label: found.label, createdAt: found.createdAt };
  }

  /** The token's id when it is a live token, else null. Every stored hash is compared, in constant time. */
  async verify(token: string): Promise<string | null> {
    if (!token || token.length > 256) return null;
    const given = hashOf(token);
    let match: string | null = null;
    for (const t of (await this.#doc()).tokens) {
      const stored = Buffer.from(t.sha256, 'hex');
      if (stored.length === given.length && timingSafeEqual(stored, given)) match = t.id;
    }
    return match;
  }
}
