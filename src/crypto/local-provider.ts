import { createHash, randomBytes } from 'node:crypto';
import { KEY_BYTES, openCompact, sealCompact, type KeyProvider } from './envelope.js';

/** `local:` + the first 16 hex digits of the key's SHA-256: names a key without revealing it. */
export const localKeyId = (key: Buffer): string =>
  `local:${createHash('sha256').update(key).digest('hex').slice(0, 16)}`;

/**
 * Master keys held by this process (MASTER_ENCRYPTION_KEY, or the embedded default's key file).
 * The first key wraps; every key unwraps what it wrapped, so old keys can be kept for rotation.
 */
export function createLocalKeyProvider(current: Buffer, previous: Buffer[] = []): KeyProvider {
  const keys = new Map<string, Buffer>();
  for (const key of [current, ...previous]) {
    if (key.length !== KEY_BYTES) throw new Error('A master key must be 32 bytes');
    keys.set(localKeyId(key), key);
  }
  const keyId = localKeyId(current);
  const wrap = (plaintext: Buffer) => ({ wrapped: sealCompact(current, plaintext, Buffer.from(keyId)), keyId });
  return {
    keyId,
    async generateDataKey() {
      const plaintext = randomBytes(KEY_BYTES);
      return { plaintext, ...wrap(plaintext) };
    },
    async decryptDataKey(wrapped, kid) {
      const key = keys.get(kid);
      if (!key) throw new Error(`No local master key with id ${kid}`);
      return openCompact(key, wrapped, Buffer.from(kid));
    },
    async wrapDataKey(plaintext) {
      return wrap(plaintext);
    },
    canDecrypt: (kid) => keys.has(kid),
    keyIds: [...keys.keys()],
  };
}
