import {
  DecryptCommand,
  EncryptCommand,
  GenerateDataKeyCommand,
  type KMSClient,
  KMSServiceException,
} from '@aws-sdk/client-kms';
import { RepoError } from '../shared/errors.js';
import type { KeyProvider } from './envelope.js';

/** Bound to every KMS call: a ciphertext made for this service does not decrypt for another. */
const ENCRYPTION_CONTEXT = { service: 'repo-connector', purpose: 'data-key' };

/** KMS refusals that no retry will fix: a wrong or disabled key, missing permission, a foreign ciphertext. */
const REJECTED = new Set([
  'AccessDeniedException',
  'DisabledException',
  'KMSInvalidStateException',
  'NotFoundException',
  'InvalidCiphertextException',
  'IncorrectKeyException',
  'InvalidKeyUsageException',
  'KeyUnavailableException',
  'UnrecognizedClientException',
]);

/** KMS failures in the closed error set: refusals are final, throttling and the network are retried. */
export function kmsFailure(err: unknown): RepoError {
  const name = err instanceof KMSServiceException || err instanceof Error ? err.name : 'Unknown';
  if (REJECTED.has(name))
    return new RepoError('kms_rejected', `The key management service refused the operation (${name})`);
  return new RepoError('kms_unavailable', `The key management service is unavailable (${name})`);
}

async function call<T>(work: () => Promise<T>): Promise<T> {
  try {
    return await work();
  } catch (err) {
    throw kmsFailure(err);
  }
}

export interface KmsProviderOptions {
  client: KMSClient;
  /** Wraps new data keys. */
  keyId: string;
  /** Older keys whose data keys may still be opened (rotation). */
  previousKeyIds?: string[];
}

/**
 * AWS KMS: `GenerateDataKey` makes and wraps a data key, `Decrypt` opens one (exactly one call
 * each). The endpoint follows the SDK's standard settings, e.g. AWS_ENDPOINT_URL_KMS for a
 * local emulator.
 */
export function createKmsKeyProvider({ client, keyId, previousKeyIds = [] }: KmsProviderOptions): KeyProvider {
  const known = new Set([keyId, ...previousKeyIds]);
  return {
    keyId,
    async generateDataKey() {
      const out = await call(() =>
        client.send(
          new GenerateDataKeyCommand({ KeyId: keyId, KeySpec: 'AES_256', EncryptionContext: ENCRYPTION_CONTEXT }),
        ),
      );
      if (!out.Plaintext || !out.CiphertextBlob)
        throw new RepoError('kms_unavailable', 'The key management service returned no data key');
      return { plaintext: Buffer.from(out.Plaintext), wrapped: Buffer.from(out.CiphertextBlob), keyId };
    },
    async decryptDataKey(wrapped, kid) {
      if (!known.has(kid)) throw new RepoError('kms_rejected', `Key ${kid} is not configured for decryption`);
      const out = await call(() =>
        client.send(new DecryptCommand({ CiphertextBlob: wrapped, KeyId: kid, EncryptionContext: ENCRYPTION_CONTEXT })),
      );
      if (!out.Plaintext) throw new RepoError('kms_unavailable', 'The key management service returned no plaintext');
      return Buffer.from(out.Plaintext);
    },
    async wrapDataKey(plaintext) {
      const out = await call(() =>
        client.send(new EncryptCommand({ KeyId: keyId, Plaintext: plaintext, EncryptionContext: ENCRYPTION_CONTEXT })),
      );
      if (!out.CiphertextBlob)
        throw new RepoError('kms_unavailable', 'The key management service returned no ciphertext');
      return { wrapped: Buffer.from(out.CiphertextBlob), keyId };
    },
    canDecrypt: (kid) => known.has(kid),
    keyIds: [...known],
  };
}
