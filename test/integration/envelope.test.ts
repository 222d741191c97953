import { randomBytes } from 'node:crypto';
import type { KMSClient } from '@aws-sdk/client-kms';
import { beforeAll, describe, expect, inject, it, vi } from 'vitest';
import { decryptSecret, encryptSecret, rewrapSecret, type KeyProvider } from '../../src/crypto/envelope.js';
import { createKmsKeyProvider } from '../../src/crypto/kms-provider.js';
import { createLocalKeyProvider } from '../../src/crypto/local-provider.js';
import { RepoError } from '../../src/shared/errors.js';
import { createKmsKey, kmsClient } from '../support/kms.js';

const stack = inject('stack');
const token = 'ghp_abcdefghijklmnopqrstuvwxyz0123456789';
let client: KMSClient;
beforeAll(() => {
  client = kmsClient(stack.kmsEndpoint);
});

/** Counts the KMS calls a provider makes. */
function counting(c: KMSClient) {
  const send = vi.spyOn(c, 'send');
  return { count: () => send.mock.calls.length, reset: () => send.mockClear() };
}

interface Flavour {
  name: string;
  make(): Promise<{ provider: KeyProvider; previous: () => Promise<KeyProvider>; calls?: ReturnType<typeof counting> }>;
}

const flavours: Flavour[] = [
  {
    name: 'local master key',
    async make() {
      const old = randomBytes(32);
      const current = randomBytes(32);
      return { provider: createLocalKeyProvider(current, [old]), previous: async () => createLocalKeyProvider(old) };
    },
  },
  {
    name: 'AWS KMS (moto)',
    async make() {
      const [oldKey, currentKey] = [await createKmsKey(client), await createKmsKey(client)];
      const calls = counting(client);
      return {
        provider: createKmsKeyProvider({ client, keyId: currentKey, previousKeyIds: [oldKey] }),
        previous: async () => createKmsKeyProvider({ client, keyId: oldKey }),
        calls,
      };
    },
  },
];

describe.each(flavours)('envelope encryption with the $name provider', (flavour) => {
  it('round-trips a secret, and stores nothing readable', async () => {
    const { provider } = await flavour.make();
    const { ciphertext, keyId } = await encryptSecret(provider, token, 'code_repos:p:r');
    expect(keyId).toBe(provider.keyId);
    expect(ciphertext.readUInt8(0)).toBe(1); // layout version
    expect(ciphertext.includes(Buffer.from(token))).toBe(false);
    expect(ciphertext.toString('base64')).not.toContain(Buffer.from(token).toString('base64').slice(4, 20));
    expect(await decryptSecret(provider, ciphertext, keyId, 'code_repos:p:r')).toBe(token);
  });

  it('makes exactly one KMS call per encryption and one per decryption', async () => {
    const { provider, calls } = await flavour.make();
    calls?.reset();
    const { ciphertext, keyId } = await encryptSecret(provider, token, 'ctx');
    expect(calls?.count() ?? 1).toBe(1);
    await decryptSecret(provider, ciphertext, keyId, 'ctx');
    expect(calls?.count() ?? 2).toBe(2);
  });

  it('uses a fresh data key and nonce every time', async () => {
    const { provider } = await flavour.make();
    const a = await encryptSecret(provider, token, 'ctx');
    const b = await encryptSecret(provider, token, 'ctx');
    expect(a.ciphertext.equals(b.ciphertext)).toBe(false);
  });

  it('refuses a ciphertext moved to another repository, or tampered with', async () => {
    const { provider } = await flavour.make();
    const { ciphertext, keyId } = await encryptSecret(provider, token, 'code_repos:p:repo-1');
    await expect(decryptSecret(provider, ciphertext, keyId, 'code_repos:p:repo-2')).rejects.toThrow();
    const tampered = Buffer.from(ciphertext);
    tampered[tampered.length - 1]! ^= 1;
    await expect(decryptSecret(provider, tampered, keyId, 'code_repos:p:repo-1')).rejects.toThrow();
  });

  it('opens secrets wrapped under a previous key, and re-wraps them under the current one without decrypting them', async () => {
    const { provider, previous } = await flavour.make();
    const old = await previous();
    const before = await encryptSecret(old, token, 'ctx');
    expect(before.keyId).not.toBe(provider.keyId);
    expect(await decryptSecret(provider, before.ciphertext, before.keyId, 'ctx')).toBe(token);
    const after = await rewrapSecret(provider, before.ciphertext, before.keyId);
    expect(after.keyId).toBe(provider.keyId);
    expect(after.ciphertext.subarray(-token.length - 16).equals(before.ciphertext.subarray(-token.length - 16))).toBe(
      true,
    );
    expect(await decryptSecret(provider, after.ciphertext, after.keyId, 'ctx')).toBe(token);
  });
});

describe('KMS failures', () => {
  // moto does not enforce DisableKey on GenerateDataKey, so the refusal here is a key that does not exist.
  it('a missing key is a final refusal (not retried), named in the error', async () => {
    const provider = createKmsKeyProvider({
      client,
      keyId: 'arn:aws:kms:us-east-1:123456789012:key/00000000-0000-0000-0000-000000000000',
    });
    const err = await encryptSecret(provider, token, 'ctx').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(RepoError);
    expect(err).toMatchObject({ code: 'kms_rejected', message: expect.stringMatching(/NotFoundException/) });
  });

  it('an unreachable KMS is a retryable failure', async () => {
    const provider = createKmsKeyProvider({ client: kmsClient('http://127.0.0.1:9'), keyId: 'whatever' });
    const err = await encryptSecret(provider, token, 'ctx').catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'kms_unavailable' });
  });
});
