import { randomBytes } from 'node:crypto';
import { storedAs, type EncryptedWebhookSecret, type SealedSecret } from '../shared/connect-repository.js';
import type { KeyProvider } from './envelope.js';
import { openSecret, sealSecret } from './sealed-secret.js';

/** Binds a stored webhook secret to its repository: copied to another row, it does not open. */
export const webhookSecretContext = (repoId: string): string => `webhook-secret:${repoId}`;

/** 32 random bytes; the prefix tells a reader (or a secret scanner) what it is. */
export const newWebhookSecret = (): string => `whsec_${randomBytes(32).toString('base64url')}`;

export const encryptWebhookSecret = async (
  keys: KeyProvider,
  secret: string,
  repoId: string,
): Promise<EncryptedWebhookSecret> =>
  storedAs('webhookSecret', await sealSecret(keys, secret, webhookSecretContext(repoId)));

/** The stored secret in plain, for one verification or the connect answer's replay; callers drop it right after. */
export const openWebhookSecret = (keys: KeyProvider, stored: SealedSecret, repoId: string): Promise<string> =>
  openSecret(keys, stored, webhookSecretContext(repoId));
