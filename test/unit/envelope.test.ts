import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { createLocalKeyProvider, decryptSecret, encryptSecret } from '../../src/crypto/envelope.js';

const provider = createLocalKeyProvider(randomBytes(32));
const token = 'ghp_abcdefghijklmnopqrstuvwxyz0123456789';

describe('envelope encryption', () => {
  it('round-trips a secret and never stores it readable', async () => {
    const { ciphertext, keyId } = await encryptSecret(provider, token, 'ctx-a');
    expect(keyId).toBe('local:v1');
    expect(ciphertext.includes(Buffer.from(token))).toBe(false);
    expect(await decryptSecret(provider, ciphertext, keyId, 'ctx-a')).toBe(token);
  });

  it('uses a fresh data key and nonce each time', async () => {
    const a = await encryptSecret(provider, token, 'ctx');
    const b = await encryptSecret(provider, token, 'ctx');
    expect(a.ciphertext.equals(b.ciphertext)).toBe(false);
  });

  it('refuses a ciphertext moved to another context', async () => {
    const { ciphertext, keyId } = await encryptSecret(provider, token, 'repo-1');
    await expect(decryptSecret(provider, ciphertext, keyId, 'repo-2')).rejects.toThrow();
  });

  it('refuses a tampered ciphertext and a foreign master key', async () => {
    const { ciphertext, keyId } = await encryptSecret(provider, token, 'ctx');
    const tampered = Buffer.from(ciphertext);
    tampered[tampered.length - 1]! ^= 1;
    await expect(decryptSecret(provider, tampered, keyId, 'ctx')).rejects.toThrow();
    await expect(decryptSecret(createLocalKeyProvider(randomBytes(32)), ciphertext, keyId, 'ctx')).rejects.toThrow();
  });
});
