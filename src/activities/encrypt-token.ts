import { decryptSecret, encryptSecret } from '../crypto/envelope.js';
import { openSealed } from '../crypto/transport.js';
import { encryptWebhookSecret } from '../crypto/webhook-secret.js';
import { countedEncryption } from '../observability/metrics.js';
import type { EncryptedToken, EncryptedWebhookSecret, SealedSecret } from '../shared/connect-repository.js';
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
    const { ciphertext, keyId } = await countedEncryption('encrypt', keys.keyId, () =>
      encryptSecret(keys, token, tokenContext(input.projectId, input.repoId)),
    );
    const result: EncryptTokenResult = { tokenCiphertext: ciphertext.toString('base64'), tokenKid: keyId };
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
  return countedEncryption('decrypt', t.tokenKid, () =>
    decryptSecret(keys, Buffer.from(t.tokenCiphertext, 'base64'), t.tokenKid, tokenContext(t.projectId, t.repoId)),
  );
}
