import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';

/** Wraps and unwraps data keys; the local master key now, AWS KMS with the secrets work. */
export interface KeyProvider {
  /** Id recorded in `token_kid`, naming the key that wrapped the data key. */
  readonly keyId: string;
  wrap(dataKey: Buffer): Promise<Buffer>;
  unwrap(wrapped: Buffer, keyId: string): Promise<Buffer>;
}

const VERSION = 1;
const NONCE_BYTES = 12;
const TAG_BYTES = 16;
const KEY_BYTES = 32;

function seal(key: Buffer, plaintext: Buffer, aad: Buffer): { nonce: Buffer; ciphertext: Buffer; tag: Buffer } {
  const nonce = randomBytes(NONCE_BYTES);
  const cipher = createCipheriv('aes-256-gcm', key, nonce);
  cipher.setAAD(aad);
  const ciphertext = Buffer.concat([cipher.update(plaintext), cipher.final()]);
  return { nonce, ciphertext, tag: cipher.getAuthTag() };
}

function open(key: Buffer, nonce: Buffer, ciphertext: Buffer, tag: Buffer, aad: Buffer): Buffer {
  const decipher = createDecipheriv('aes-256-gcm', key, nonce);
  decipher.setAAD(aad);
  decipher.setAuthTag(tag);
  return Buffer.concat([decipher.update(ciphertext), decipher.final()]);
}

/** A provider whose master key lives in this process (MASTER_ENCRYPTION_KEY or the embedded default's key file). */
export function createLocalKeyProvider(masterKey: Buffer, keyId = 'local:v1'): KeyProvider {
  if (masterKey.length !== KEY_BYTES) throw new Error('The master key must be 32 bytes');
  const aad = Buffer.from(keyId);
  return {
    keyId,
    async wrap(dataKey) {
      const { nonce, ciphertext, tag } = seal(masterKey, dataKey, aad);
      return Buffer.concat([nonce, tag, ciphertext]);
    },
    async unwrap(wrapped, kid) {
      if (kid !== keyId) throw new Error(`Unknown key id ${kid}`);
      return open(masterKey, wrapped.subarray(0, NONCE_BYTES), wrapped.subarray(NONCE_BYTES + TAG_BYTES),
        wrapped.subarray(NONCE_BYTES, NONCE_BYTES + TAG_BYTES), aad);
    },
  };
}

/**
 * Envelope encryption: a fresh data key per secret, AES-256-GCM, the data key wrapped by the
 * provider. Layout: version (1) | wrapped key length (2) | wrapped key | nonce (12) | tag (16) | ciphertext.
 * `context` is authenticated but not stored: the same context is needed to decrypt.
 */
export async function encryptSecret(provider: KeyProvider, secret: string, context: string): Promise<{ ciphertext: Buffer; keyId: string }> {
  const dataKey = randomBytes(KEY_BYTES);
  const plaintext = Buffer.from(secret, 'utf8');
  try {
    const wrapped = await provider.wrap(dataKey);
    const { nonce, ciphertext, tag } = seal(dataKey, plaintext, Buffer.from(context));
    const header = Buffer.alloc(3);
    header.writeUInt8(VERSION, 0);
    header.writeUInt16BE(wrapped.length, 1);
    return { ciphertext: Buffer.concat([header, wrapped, nonce, tag, ciphertext]), keyId: provider.keyId };
  } finally {
    dataKey.fill(0);
    plaintext.fill(0);
  }
}

export async function decryptSecret(provider: KeyProvider, blob: Buffer, keyId: string, context: string): Promise<string> {
  if (blob.readUInt8(0) !== VERSION) throw new Error(`Unsupported ciphertext version ${blob.readUInt8(0)}`);
  const wrappedLength = blob.readUInt16BE(1);
  let offset = 3;
  const wrapped = blob.subarray(offset, (offset += wrappedLength));
  const nonce = blob.subarray(offset, (offset += NONCE_BYTES));
  const tag = blob.subarray(offset, (offset += TAG_BYTES));
  const dataKey = await provider.unwrap(wrapped, keyId);
  try {
    const plaintext = open(dataKey, nonce, blob.subarray(offset), tag, Buffer.from(context));
    const secret = plaintext.toString('utf8');
    plaintext.fill(0);
    return secret;
  } finally {
    dataKey.fill(0);
  }
}
