import { countedEncryption } from '../observability/metrics.js';
import type { SealedSecret } from '../shared/connect-repository.js';
import { decryptSecret, encryptSecret, type KeyProvider } from './envelope.js';

/** Encrypts `secret` bound to `context` (counted in the metrics), in the one shape every sealed secret has. */
export async function sealSecret(keys: KeyProvider, secret: string, context: string): Promise<SealedSecret> {
  const { ciphertext, keyId } = await countedEncryption('encrypt', keys.keyId, () =>
    encryptSecret(keys, secret, context),
  );
  return sealedFromBytes(ciphertext, keyId);
}

/** Opens what sealSecret sealed under the same context; callers drop the plaintext right after use. */
export function openSecret(keys: KeyProvider, sealed: SealedSecret, context: string): Promise<string> {
  return countedEncryption('decrypt', sealed.keyId, () =>
    decryptSecret(keys, ciphertextBytes(sealed), sealed.keyId, context),
  );
}

/** The ciphertext as a row's bytea column holds it. */
export const ciphertextBytes = (sealed: SealedSecret): Buffer => Buffer.from(sealed.ciphertext, 'base64');

/** A row's ciphertext and key id as a sealed secret. */
export const sealedFromBytes = (ciphertext: Buffer, keyId: string): SealedSecret => ({
  ciphertext: ciphertext.toString('base64'),
  keyId,
});
