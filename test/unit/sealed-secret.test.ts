import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { createLocalKeyProvider } from '../../src/crypto/local-provider.js';
import { ciphertextBytes, openSecret, sealSecret, sealedFromBytes } from '../../src/crypto/sealed-secret.js';
import { sealedFrom, storedAs } from '../../src/shared/connect-repository.js';

describe('one sealed-secret shape', () => {
  it('renders as the stored fields recorded payloads carry, in their order, and back', () => {
    const sealed = { ciphertext: 'Y2lwaGVy', keyId: 'local:abc' };
    expect(JSON.stringify(storedAs('token', sealed))).toBe('{"tokenCiphertext":"Y2lwaGVy","tokenKid":"local:abc"}');
    expect(JSON.stringify(storedAs('webhookSecret', sealed))).toBe(
      '{"webhookSecretCiphertext":"Y2lwaGVy","webhookSecretKid":"local:abc"}',
    );
    expect(sealedFrom('token', { tokenCiphertext: 'Y2lwaGVy', tokenKid: 'local:abc' })).toEqual(sealed);
  });

  it('opens under its own context only, also after a trip through a bytea column', async () => {
    const keys = createLocalKeyProvider(randomBytes(32));
    const sealed = await sealSecret(keys, 'ghp_secret', 'token:p:r');
    expect(sealed.ciphertext).not.toContain('ghp_secret');
    const fromRow = sealedFromBytes(ciphertextBytes(sealed), sealed.keyId);
    expect(fromRow).toEqual(sealed);
    expect(await openSecret(keys, fromRow, 'token:p:r')).toBe('ghp_secret');
    await expect(openSecret(keys, fromRow, 'token:p:other')).rejects.toThrow();
  });
});
