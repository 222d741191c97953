import { openSecret, sealSecret } from '../crypto/sealed-secret.js';
import { openSealed } from '../crypto/transport.js';
import { encryptWebhookSecret } from '../crypto/webhook-secret.js';
import {
  sealedFrom,
  storedAs,
  type EncryptedToken,
  type EncryptedWebhookSecret,
  type SealedSecret,
} from '../shared/connect-repository.js';
import type { ActivityDeps } from './deps.js';
import { tokenContext } from './deps.js';

export interface EncryptTokenInput {
  /** The token as the API sealed it for its trip through Temporal. */
  sealedToken: SealedSecret;
  /** The repository's webhook secret, sealed the same way; absent for retries. */
  sealedWebhookSecret?: SealedSecret;
  requestId: string;
  projectId: string;
  repoId: string;
}

export interface EncryptTokenResult extends EncryptedToken {
  /** The webhook secret encrypted for storage, when the input carried one. */
  webhookSecret?: EncryptedWebhookSecret;
}

export function createEncryptToken({ keys }: ActivityDeps) {
  /** Opens the sealed token (and webhook secret) and encrypts each for storage, bound to its repository. */
  return async function encryptToken(input: EncryptTokenInput): Promise<EncryptTokenResult> {
    const token = await openSealed(keys, input.sealedToken, input.requestId, 'access-token');
    const result: EncryptTokenResult = storedAs(
      'token',
      await sealSecret(keys, token, tokenContext(input.projectId, input.repoId)),
    );
    if (input.sealedWebhookSecret) {
      const secret = await openSealed(keys, input.sealedWebhookSecret, input.requestId, 'webhook-secret');
      result.webhookSecret = await encryptWebhookSecret(keys, secret, input.repoId);
    }
    return result;
  };
}

/** The plaintext token, for the one git call that needs it; callers drop it right after. */
export function openToken(
  { keys }: ActivityDeps,
  t: EncryptedToken & { projectId: string; repoId: string },
): Promise<string> {
  return openSecret(keys, sealedFrom('token', t), tokenContext(t.projectId, t.repoId));
}
