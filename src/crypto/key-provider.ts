import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { Config } from '../config/env.js';
import type { Logger } from '../config/logger.js';
import { createLocalKeyProvider, type KeyProvider } from './envelope.js';

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

export function createKeyProvider(config: Config): KeyProvider {
  if (config.KMS_KEY_ID) {
    throw new Error('KMS_KEY_ID is set, but the AWS KMS key provider is not built yet; set MASTER_ENCRYPTION_KEY instead.');
  }
  if (!config.MASTER_ENCRYPTION_KEY) {
    throw new Error('No key to encrypt access tokens with: set MASTER_ENCRYPTION_KEY (32 bytes, base64).');
  }
  return createLocalKeyProvider(Buffer.from(config.MASTER_ENCRYPTION_KEY, 'base64'));
}
