import { randomBytes } from 'node:crypto';
import { countedEncryption } from '../observability/metrics.js';
import type { EncryptedWebhookSecret } from '../shared/connect-repository.js';
import { decryptSecret, encryptSecret, type KeyProvider } from './envelope.js';

/** Binds a stored webhook secret to its repository: copied to another row, it does not open. */
export const webhookSecretContext = (repoId: string): string => `webhook-secret:${repoId}`;

/** 32 random bytes; the prefix tells a reader (or a secret scanner) what it is. */
export const newWebhookSecret = (): string => `whsec_${randomBytes(32).toString('base64url')}`;

export async function encryptWebhookSecret(
  keys: KeyProvider,
  secret: string,
  repoId: string,
): Promise<EncryptedWebhookSecret> {
  const { ciphertext, keyId } = await countedEncryption('encrypt', keys.keyId, () =>
    encryptSecret(keys, secret, webhookSecretContext(repoId)),
  );
  return { webhookSecretCiphertext: ciphertext.toString('base64'), webhookSecretKid: keyId };
}

/** The stored secret in plain, for one verification or the connect answer's replay; callers drop it right after. */
export function openWebhookSecret(
  keys: KeyProvider,
  stored: { ciphertext: Buffer; keyId: string },
  repoId: string,
): Promise<string> {
  return countedEncryption('decrypt', stored.keyId, () =>
    decryptSecret(keys, stored.ciphertext, stored.keyId, webhookSecretContext(repoId)),
  );
}
