import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';

/**
 * Makes and opens data keys. The current key wraps new data keys; older keys (rotation) and
 * other providers may still open what they wrapped, found by the key id stored beside it.
 */
export interface KeyProvider {
  /** Id recorded in `token_kid`: the key that wraps new data keys. */
  readonly keyId: string;
  /** A fresh 256-bit data key, in plain and wrapped by the current key (one KMS call with KMS). */
  generateDataKey(): Promise<{ plaintext: Buffer; wrapped: Buffer; keyId: string }>;
  /** Opens a wrapped data key (one KMS call with KMS). */
  decryptDataKey(wrapped: Buffer, keyId: string): Promise<Buffer>;
  /** Wraps an existing data key under the current key (key rotation). */
  wrapDataKey(plaintext: Buffer): Promise<{ wrapped: Buffer; keyId: string }>;
  /** Whether this provider can open data keys wrapped under `keyId`. */
  canDecrypt(keyId: string): boolean;
  /** Every key it can open data keys of, the current one first (what `rotate-keys --check` reports on). */
  readonly keyIds: readonly string[];
}

export const VERSION = 1;
const NONCE_BYTES = 12;
const TAG_BYTES = 16;
export const KEY_BYTES = 32;

export function seal(key: Buffer, plaintext: Buffer, aad: Buffer): { nonce: Buffer; ciphertext: Buffer; tag: Buffer } {
  const nonce = randomBytes(NONCE_BYTES);
  const cipher = createCipheriv('aes-256-gcm', key, nonce);
  cipher.setAAD(aad);
  const ciphertext = Buffer.concat([cipher.update(plaintext), cipher.final()]);
  return { nonce, ciphertext, tag: cipher.getAuthTag() };
}

export function open(key: Buffer, nonce: Buffer, ciphertext: Buffer, tag: Buffer, aad: Buffer): Buffer {
  const decipher = createDecipheriv('aes-256-gcm', key, nonce);
  decipher.setAAD(aad);
  decipher.setAuthTag(tag);
  return Buffer.concat([decipher.update(ciphertext), decipher.final()]);
}

/** nonce ‖ tag ‖ ciphertext, the compact form used for wrapped keys and payloads. */
export const sealCompact = (key: Buffer, plaintext: Buffer, aad: Buffer): Buffer => {
  const { nonce, ciphertext, tag } = seal(key, plaintext, aad);
  return Buffer.concat([nonce, tag, ciphertext]);
};
export const openCompact = (key: Buffer, blob: Buffer, aad: Buffer): Buffer =>
  open(
    key,
    blob.subarray(0, NONCE_BYTES),
    blob.subarray(NONCE_BYTES + TAG_BYTES),
    blob.subarray(NONCE_BYTES, NONCE_BYTES + TAG_BYTES),
    aad,
  );

interface Parsed {
  wrapped: Buffer;
  nonce: Buffer;
  tag: Buffer;
  ciphertext: Buffer;
}

/** Layout: version (1) | wrapped key length (2, BE) | wrapped key | nonce (12) | tag (16) | ciphertext. */
function format(p: Parsed): Buffer {
  const header = Buffer.alloc(3);
  header.writeUInt8(VERSION, 0);
  header.writeUInt16BE(p.wrapped.length, 1);
  return Buffer.concat([header, p.wrapped, p.nonce, p.tag, p.ciphertext]);
}

function parse(blob: Buffer): Parsed {
  if (blob.length < 3 || blob.readUInt8(0) !== VERSION) throw new Error('Unsupported ciphertext version');
  const wrappedLength = blob.readUInt16BE(1);
  let offset = 3;
  const wrapped = blob.subarray(offset, (offset += wrappedLength));
  const nonce = blob.subarray(offset, (offset += NONCE_BYTES));
  const tag = blob.subarray(offset, (offset += TAG_BYTES));
  if (tag.length !== TAG_BYTES) throw new Error('Truncated ciphertext');
  return { wrapped, nonce, tag, ciphertext: blob.subarray(offset) };
}

/**
 * Envelope encryption: a fresh data key per secret, AES-256-GCM with a random 96-bit nonce,
 * the data key wrapped by the provider. `context` is authenticated but not stored: the same
 * context is needed to decrypt, so a ciphertext copied elsewhere does not open.
 */
export async function encryptSecret(
  provider: KeyProvider,
  secret: string,
  context: string,
): Promise<{ ciphertext: Buffer; keyId: string }> {
  const { plaintext: dataKey, wrapped, keyId } = await provider.generateDataKey();
  const plaintext = Buffer.from(secret, 'utf8');
  try {
    const { nonce, ciphertext, tag } = seal(dataKey, plaintext, Buffer.from(context));
    return { ciphertext: format({ wrapped, nonce, tag, ciphertext }), keyId };
  } finally {
    dataKey.fill(0);
    plaintext.fill(0);
  }
}

export async function decryptSecret(
  provider: KeyProvider,
  blob: Buffer,
  keyId: string,
  context: string,
): Promise<string> {
  const parts = parse(blob);
  const dataKey = await provider.decryptDataKey(parts.wrapped, keyId);
  try {
    const plaintext = open(dataKey, parts.nonce, parts.ciphertext, parts.tag, Buffer.from(context));
    const secret = plaintext.toString('utf8');
    plaintext.fill(0);
    return secret;
  } finally {
    dataKey.fill(0);
  }
}

/** Re-wraps a secret's data key under the current key; the secret itself is never decrypted. */
export async function rewrapSecret(
  provider: KeyProvider,
  blob: Buffer,
  keyId: string,
): Promise<{ ciphertext: Buffer; keyId: string }> {
  const parts = parse(blob);
  const dataKey = await provider.decryptDataKey(parts.wrapped, keyId);
  try {
    const rewrapped = await provider.wrapDataKey(dataKey);
    return { ciphertext: format({ ...parts, wrapped: rewrapped.wrapped }), keyId: rewrapped.keyId };
  } finally {
    dataKey.fill(0);
  }
}
