import { decryptSecret, encryptSecret } from '../crypto/envelope.js';
import { countedEncryption } from '../observability/metrics.js';
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
    const { sealedToken } = input;
    const token = await countedEncryption('decrypt', sealedToken.keyId, () =>
      decryptSecret(keys, Buffer.from(sealedToken.ciphertext, 'base64'), sealedToken.keyId, transportContext(input.requestId)));
    const { ciphertext, keyId } = await countedEncryption('encrypt', keys.keyId, () =>
      encryptSecret(keys, token, tokenContext(input.projectId, input.repoId)));
    return { tokenCiphertext: ciphertext.toString('base64'), tokenKid: keyId };
  };
}

/** The plaintext token, for the one git call that needs it; callers drop it right after. */
export function openToken({ keys }: ActivityDeps, t: EncryptedToken & { projectId: string; repoId: string }): Promise<string> {
  return countedEncryption('decrypt', t.tokenKid, () =>
    decryptSecret(keys, Buffer.from(t.tokenCiphertext, 'base64'), t.tokenKid, tokenContext(t.projectId, t.repoId)));
}
