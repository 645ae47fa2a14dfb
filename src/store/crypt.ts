/**
 * @module store/crypt
 * Private keys encrypted at rest. With a store key configured, the repository seals every
 * secret it writes (certificate private keys, ACME account keys) with AES-256-GCM, the kind of
 * secret and its name (the certificate name, the ACME directory URL) as associated data, so an
 * envelope copied to another name or kind does not open. Each envelope names the key that
 * sealed it (Key-Id: the first 8 bytes of the key's SHA-256, which tells keys apart and gives
 * nothing of the key away), so plain values, values under the old key and values under the new
 * key coexist while a store is migrated or rekeyed. The envelope is PEM-like armor:
 *
 *   -----BEGIN CERTGATE ENCRYPTED KEY-----
 *   Version: 1
 *   Cipher: AES-256-GCM
 *   Key-Id: 3f9a0c1d2e4b5a67
 *   Kind: certificate
 *   Name: app.example.com
 *   Nonce: <base64, 12 bytes>
 *   Tag: <base64, 16 bytes>
 *
 *   <base64 ciphertext>
 *   -----END CERTGATE ENCRYPTED KEY-----
 *
 * Kind and Name are there for people (and for a precise error); the associated data, not the
 * header, decides: a header edited to match the new name still fails the tag.
 */
import { createCipheriv, createDecipheriv, createHash, randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { CertgateError } from '../errors.ts';

/**
 * What a sealed secret is: part of the associated data. A new kind of secret in the store (TLS
 * session ticket keys) gets its kind here and is listed by Repository.secrets(), so a rekey and
 * the start-up check see it.
 */
/** `tickets`: the TLS session ticket keys file (edge/tickets.ts), sealed whole. */
export type SecretKind = 'certificate' | 'account' | 'tickets';

export interface StoreKey {
  /** 16 hex digits: the first 8 bytes of SHA-256(key). */
  readonly id: string;
  readonly bytes: Buffer;
}

export const ARMOR_BEGIN = '-----BEGIN CERTGATE ENCRYPTED KEY-----';
export const ARMOR_END = '-----END CERTGATE ENCRYPTED KEY-----';
const VERSION = '1';
const CIPHER = 'AES-256-GCM';

/** What a store key may be written as, for help and errors. */
export const STORE_KEY_FORMAT = '32 random bytes as 64 hex digits or as base64 (standard or URL-safe, padding optional), e.g. from `openssl rand -base64 32`';

export function storeKeyId(bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('hex').slice(0, 16);
}

/** The 32 bytes of a key written as hex or base64, or null when it is neither (surrounding whitespace is ignored). */
export function decodeStoreKey(text: string): Buffer | null {
  const t = text.trim();
  if (/^[0-9a-fA-F]{64}$/.test(t)) return Buffer.from(t, 'hex');
  if (/^[A-Za-z0-9+/]{43}=?$/.test(t) || /^[A-Za-z0-9_-]{43}=?$/.test(t)) {
    const bytes = Buffer.from(t.replace(/-/g, '+').replace(/_/g, '/'), 'base64');
    if (bytes.length === 32) return bytes;
  }
  return null;
}

/**
 * A store key from its text. `what` names it in the error (never its value); `option` is the
 * setting's library key, which the CLI turns into the flag or variable.
 */
export function parseStoreKey(text: string, what = 'the store key', option?: string): StoreKey {
  const bytes = decodeStoreKey(text);
  if (!bytes)
    throw new CertgateError('E_STORE_KEY', `${what} is not a key: it must be ${STORE_KEY_FORMAT}`, 'make one with: openssl rand -base64 32', {
      ...(option ? { option } : {}),
    });
  return { id: storeKeyId(bytes), bytes };
}

/** A store key read from a file (Docker and systemd secrets); the file holds the key's text. */
export function readStoreKeyFile(file: string, what = 'the store key file', option?: string): StoreKey {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new CertgateError(
      'E_STORE_KEY',
      `${what} ${file} cannot be read (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`,
      'point it at a readable file holding the key',
      {
        cause: err,
        ...(option ? { option } : {}),
      },
    );
  }
  return parseStoreKey(text, `${what} ${file}`, option);
}

export interface KeySources {
  key?: string | undefined;
  keyFile?: string | undefined;
  oldKey?: string | undefined;
  oldKeyFile?: string | undefined;
}

/**
 * The keyring of a store's settings: the current key (text or file, not both) seals what is
 * written; the old key (during a rekey) opens what it sealed. The option keys are the runtime
 * settings' (storeKey, storeKeyFile, storeKeyOld, storeKeyOldFile).
 */
export function keyringFrom(s: KeySources): Keyring {
  const one = (text: string | undefined, file: string | undefined, names: [string, string], what: string): StoreKey | null => {
    if (text !== undefined && file !== undefined)
      throw new CertgateError('E_STORE_KEY', `both ${what} and ${what} file are set`, 'set one of them', { option: names[1] });
    if (text !== undefined) return parseStoreKey(text, what, names[0]);
    if (file !== undefined) return readStoreKeyFile(file, `${what} file`, names[1]);
    return null;
  };
  const current = one(s.key, s.keyFile, ['storeKey', 'storeKeyFile'], 'the store key');
  const old = one(s.oldKey, s.oldKeyFile, ['storeKeyOld', 'storeKeyOldFile'], 'the old store key');
  return new Keyring({ current, previous: old ? [old] : [] });
}

export interface Envelope {
  version: string;
  keyId: string;
  kind: string;
  name: string;
  nonce: Buffer;
  tag: Buffer;
  ciphertext: Buffer;
}

export function isSealed(text: string): boolean {
  return text.trimStart().startsWith(ARMOR_BEGIN);
}

function damaged(where: string, why: string): CertgateError {
  return new CertgateError(
    'E_STORE_DECRYPT',
    `${where}: the encrypted key is damaged (${why})`,
    `restore ${where} from a backup, or remove it: a certificate is obtained again`,
  );
}

/** The envelope's fields; throws E_STORE_DECRYPT when the armor is damaged. */
export function readEnvelope(text: string, where: string): Envelope {
  const t = text.trim();
  if (!t.startsWith(ARMOR_BEGIN) || !t.endsWith(ARMOR_END)) throw damaged(where, 'no BEGIN/END lines');
  const body = t
    .slice(ARMOR_BEGIN.length, -ARMOR_END.length)
    .replace(/\r/g, '')
    .replace(/^\n+|\n+$/g, '');
  const split = body.indexOf('\n\n');
  if (split < 0) throw damaged(where, 'no blank line after the headers');
  const headers = new Map<string, string>();
  for (const line of body.slice(0, split).split('\n')) {
    const i = line.indexOf(': ');
    if (i <= 0) throw damaged(where, 'a header line without "Name: value"');
    headers.set(line.slice(0, i), line.slice(i + 2));
  }
  const b64 = (h: string, len: number) => {
    const v = headers.get(h);
    const bytes = v && /^[A-Za-z0-9+/]+=*$/.test(v) ? Buffer.from(v, 'base64') : null;
    if (!bytes || bytes.length !== len) throw damaged(where, `header ${h} missing or malformed`);
    return bytes;
  };
  const version = headers.get('Version') ?? '';
  if (version !== VERSION)
    throw new CertgateError(
      'E_STORE_DECRYPT',
      `${where}: the encrypted key has envelope version ${version || '(none)'}; this certgate reads version ${VERSION}`,
      'run the certgate version that wrote it, or a newer one',
    );
  if (headers.get('Cipher') !== CIPHER) throw damaged(where, `cipher ${headers.get('Cipher') ?? '(none)'}, expected ${CIPHER}`);
  const keyId = headers.get('Key-Id') ?? '';
  if (!/^[0-9a-f]{16}$/.test(keyId)) throw damaged(where, 'header Key-Id missing or malformed');
  const data = body.slice(split + 2).replace(/\s+/g, '');
  if (!/^[A-Za-z0-9+/]+=*$/.test(data)) throw damaged(where, 'the ciphertext is not base64');
  return {
    version,
    keyId,
    kind: headers.get('Kind') ?? '',
    name: headers.get('Name') ?? '',
    nonce: b64('Nonce', 12),
    tag: b64('Tag', 16),
    ciphertext: Buffer.from(data, 'base64'),
  };
}

/** The key id an envelope was sealed with, or null for a plain value. */
export function sealedKeyId(text: string, where = 'the value'): string | null {
  return isSealed(text) ? readEnvelope(text, where).keyId : null;
}

function aad(kind: SecretKind, name: string, keyId: string): Buffer {
  // The version and key id too: an envelope is only ever opened as what it was sealed as.
  return Buffer.from(`certgate-store-secret\0v${VERSION}\0${kind}\0${name}\0${keyId}`, 'utf8');
}

/** Header values are one line of printable text (a name is validated, a directory is a URL). */
function headerValue(v: string): string {
  return v.replace(/[^\x20-\x7e]/g, '?');
}

export interface KeyringOptions {
  /** Seals what is written; null: written plain. */
  current: StoreKey | null;
  /** Also open what these sealed (the old key during a rekey). */
  previous?: StoreKey[];
}

/** The keys of one store: the one that seals, and every one that opens. Never logs a key. */
export class Keyring {
  readonly current: StoreKey | null;
  readonly #keys = new Map<string, StoreKey>();

  constructor(options: KeyringOptions) {
    this.current = options.current;
    for (const k of [...(options.previous ?? []), ...(options.current ? [options.current] : [])]) this.#keys.set(k.id, k);
  }

  /** The ids of the keys that open envelopes, current first. */
  get ids(): string[] {
    const ids = [...this.#keys.keys()];
    return this.current ? [this.current.id, ...ids.filter((i) => i !== this.current?.id)] : ids;
  }

  /** The value as stored: an envelope under the current key, or the plain text without one. */
  seal(kind: SecretKind, name: string, plaintext: string): string {
    return this.current ? sealWith(this.current, kind, name, plaintext) : plaintext;
  }

  /**
   * The plain text of a stored value. A plain value is returned as it is (a store being
   * migrated holds both). `where` names the value in errors (its storage key).
   */
  open(kind: SecretKind, name: string, stored: string, where: string): string {
    if (!isSealed(stored)) return stored;
    const env = readEnvelope(stored, where);
    const key = this.#keys.get(env.keyId);
    if (!key) {
      if (this.#keys.size === 0)
        throw new CertgateError(
          'E_STORE_KEY_MISSING',
          `${where} is encrypted (key id ${env.keyId}) and no store key is configured`,
          'set CERTGATE_STORE_KEY (or CERTGATE_STORE_KEY_FILE) to the key the store was encrypted with',
        );
      throw new CertgateError(
        'E_STORE_KEY_WRONG',
        `${where} is encrypted with key id ${env.keyId}; the configured key${this.#keys.size > 1 ? 's have ids' : ' has id'} ${this.ids.join(', ')}`,
        this.current
          ? `set CERTGATE_STORE_KEY to the key with id ${env.keyId}, or, if a rekey was interrupted, also set CERTGATE_STORE_KEY_OLD to the old key and run certgate store rekey again`
          : `set CERTGATE_STORE_KEY to the key with id ${env.keyId}`,
      );
    }
    try {
      const d = createDecipheriv('aes-256-gcm', key.bytes, env.nonce);
      d.setAAD(aad(kind, name, env.keyId));
      d.setAuthTag(env.tag);
      return Buffer.concat([d.update(env.ciphertext), d.final()]).toString('utf8');
    } catch (err) {
      const moved = env.kind !== kind || env.name !== headerValue(name);
      throw new CertgateError(
        'E_STORE_DECRYPT',
        moved
          ? `${where}: the encrypted key was sealed for ${env.kind} ${env.name}, not for ${kind} ${name}: it does not open under another name`
          : `${where}: the encrypted key does not open with key id ${env.keyId} (it was altered or damaged)`,
        `restore ${where} from a backup, or remove it: a certificate is obtained again (an account key is registered again)`,
        { cause: err },
      );
    }
  }
}

export function sealWith(key: StoreKey, kind: SecretKind, name: string, plaintext: string): string {
  const nonce = randomBytes(12);
  const c = createCipheriv('aes-256-gcm', key.bytes, nonce);
  c.setAAD(aad(kind, name, key.id));
  const ciphertext = Buffer.concat([c.update(plaintext, 'utf8'), c.final()]);
  const lines = ciphertext.toString('base64').match(/.{1,64}/g) ?? [];
  return `${[
    ARMOR_BEGIN,
    `Version: ${VERSION}`,
    `Cipher: ${CIPHER}`,
    `Key-Id: ${key.id}`,
    `Kind: ${kind}`,
    `Name: ${headerValue(name)}`,
    `Nonce: ${nonce.toString('base64')}`,
    `Tag: ${c.getAuthTag().toString('base64')}`,
    '',
    ...lines,
    ARMOR_END,
  ].join('\n')}\n`;
}

/** A keyring that seals nothing and opens nothing: a store without a key. */
export const NO_KEYS = new Keyring({ current: null });
