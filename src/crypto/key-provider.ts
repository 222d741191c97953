import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { KMSClient } from '@aws-sdk/client-kms';
import type { Config } from '../config/env.js';
import type { Logger } from '../config/logger.js';
import type { KeyProvider } from './envelope.js';
import { createKmsKeyProvider } from './kms-provider.js';
import { createLocalKeyProvider } from './local-provider.js';

/** Where the embedded default keeps its generated master key. */
export const devMasterKeyFile = (dataDir: string): string => path.join(dataDir, 'master.key');

/**
 * Generates the embedded default's master key once (mode 0600) and returns it base64-encoded.
 * Only the dev launcher calls this; production sets MASTER_ENCRYPTION_KEY or KMS_KEY_ID.
 */
export async function ensureDevMasterKey(dataDir: string, logger: Logger): Promise<string> {
  const file = devMasterKeyFile(dataDir);
  if (!existsSync(file)) {
    await mkdir(dataDir, { recursive: true });
    await writeFile(file, `${randomBytes(32).toString('base64')}\n`, { mode: 0o600, flag: 'wx' });
  }
  logger.warn({ file }, 'using a master key generated into the data folder: fine for development, not for production');
  return (await readFile(file, 'utf8')).trim();
}

/** The current provider wraps; the others only open what they wrapped before (rotation, migration). */
function composite(current: KeyProvider, others: KeyProvider[]): KeyProvider {
  const all = [current, ...others];
  const owner = (kid: string) => {
    const provider = all.find((p) => p.canDecrypt(kid));
    if (!provider) throw new Error(`No configured key can open data keys wrapped under ${kid}`);
    return provider;
  };
  return {
    keyId: current.keyId,
    generateDataKey: () => current.generateDataKey(),
    wrapDataKey: (plaintext) => current.wrapDataKey(plaintext),
    decryptDataKey: (wrapped, kid) => owner(kid).decryptDataKey(wrapped, kid),
    canDecrypt: (kid) => all.some((p) => p.canDecrypt(kid)),
    keyIds: [...new Set(all.flatMap((p) => p.keyIds))],
  };
}

const keysFrom = (list: string[]) => list.map((k) => Buffer.from(k, 'base64'));

/**
 * KMS when KMS_KEY_ID is set, else the local master key. Local keys stay usable for decryption
 * alongside KMS, so data can move from one to the other with `npm run rotate-keys`.
 */
export function createKeyProvider(config: Config, kmsClient?: KMSClient): KeyProvider {
  const local = config.MASTER_ENCRYPTION_KEY
    ? createLocalKeyProvider(
        Buffer.from(config.MASTER_ENCRYPTION_KEY, 'base64'),
        keysFrom(config.PREVIOUS_MASTER_ENCRYPTION_KEYS),
      )
    : undefined;
  if (config.KMS_KEY_ID) {
    const kms = createKmsKeyProvider({
      client: kmsClient ?? new KMSClient({}),
      keyId: config.KMS_KEY_ID,
      previousKeyIds: config.KMS_PREVIOUS_KEY_IDS,
    });
    return composite(kms, local ? [local] : []);
  }
  if (!local)
    throw new Error(
      'No key to encrypt access tokens with: set KMS_KEY_ID, or MASTER_ENCRYPTION_KEY (32 bytes, base64).',
    );
  return local;
}
