import { countedEncryption } from '../observability/metrics.js';
import { transportContext, type SealedSecret } from '../shared/connect-repository.js';
import { decryptSecret, encryptSecret, type KeyProvider } from './envelope.js';

/** Seals a secret for its trip through Temporal, bound to the request that carries it. */
export async function sealForTransport(keys: KeyProvider, secret: string, requestId: string): Promise<SealedSecret> {
  const { ciphertext, keyId } = await countedEncryption('encrypt', keys.keyId, () => encryptSecret(keys, secret, transportContext(requestId)));
  return { ciphertext: ciphertext.toString('base64'), keyId };
}

/** Opens what sealForTransport sealed for the same request. */
export function openSealed(keys: KeyProvider, sealed: SealedSecret, requestId: string): Promise<string> {
  return countedEncryption('decrypt', sealed.keyId, () =>
    decryptSecret(keys, Buffer.from(sealed.ciphertext, 'base64'), sealed.keyId, transportContext(requestId)));
}
