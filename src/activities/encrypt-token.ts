import { decryptSecret, encryptSecret } from '../crypto/envelope.js';
import { metrics } from '../observability/metrics.js';
import { transportContext, type EncryptedToken, type SealedSecret } from '../shared/connect-repository.js';
import type { ActivityDeps } from './deps.js';
import { tokenContext } from './deps.js';

export interface EncryptTokenInput {
  /** The token as the API sealed it for its trip through Temporal. */
  sealedToken: SealedSecret;
  requestId: string;
  projectId: string;
  repoId: string;
}

export function createEncryptToken({ keys }: ActivityDeps) {
  /** Opens the sealed token and encrypts it for storage, bound to its repository and project. */
  return async function encryptToken(input: EncryptTokenInput): Promise<EncryptedToken> {
    const token = await decryptSecret(keys, Buffer.from(input.sealedToken.ciphertext, 'base64'), input.sealedToken.keyId,
      transportContext(input.requestId));
    metrics.encryptionOperations.inc({ operation: 'decrypt' });
    const { ciphertext, keyId } = await encryptSecret(keys, token, tokenContext(input.projectId, input.repoId));
    metrics.encryptionOperations.inc({ operation: 'encrypt' });
    return { tokenCiphertext: ciphertext.toString('base64'), tokenKid: keyId };
  };
}

/** The plaintext token, for the one git call that needs it; callers drop it right after. */
export function openToken({ keys }: ActivityDeps, t: EncryptedToken & { projectId: string; repoId: string }): Promise<string> {
  metrics.encryptionOperations.inc({ operation: 'decrypt' });
  return decryptSecret(keys, Buffer.from(t.tokenCiphertext, 'base64'), t.tokenKid, tokenContext(t.projectId, t.repoId));
}
