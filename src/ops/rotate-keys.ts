import type { Logger } from '../config/logger.js';
import { rewrapSecret, type KeyProvider } from '../crypto/envelope.js';
import { countedEncryption } from '../observability/metrics.js';
import type { Sql } from '../db/client.js';
import { findSecretsNotUnder, replaceWrappedSecret, STORED_SECRETS, type StoredSecret } from '../db/repo-secrets.js';
import { findServiceKeysNotUnder, replaceWrappedServiceKey } from '../db/service-keys.js';

export interface RotationReport {
  rewrapped: number;
  skipped: number;
  failed: number;
}

/**
 * Re-wraps every stored secret's data key (access tokens, webhook secrets), and every service key,
 * under the current key. The secrets themselves are never decrypted (only their data keys, in memory, zeroed after), and nothing
 * secret is logged.
 */
export async function rotateKeys(
  sql: Sql,
  keys: KeyProvider,
  logger: Logger,
  batchSize = 100,
): Promise<RotationReport> {
  const report: RotationReport = { rewrapped: 0, skipped: 0, failed: 0 };
  for (const kind of Object.keys(STORED_SECRETS) as StoredSecret[]) {
    let after: string | undefined;
    for (;;) {
      const batch = await findSecretsNotUnder(sql, kind, keys.keyId, batchSize, after);
      if (batch.length === 0) break;
      for (const row of batch) {
        try {
          const rewrapped = await countedEncryption('rewrap', row.keyId, () =>
            rewrapSecret(keys, row.ciphertext, row.keyId),
          );
          if (await replaceWrappedSecret(sql, kind, row, { ciphertext: rewrapped.ciphertext, keyId: rewrapped.keyId }))
            report.rewrapped += 1;
          else report.skipped += 1;
        } catch (err) {
          report.failed += 1;
          logger.error(
            { repoId: row.id, secret: kind, fromKeyId: row.keyId, err: { message: (err as Error).message } },
            'could not re-wrap a stored secret',
          );
        }
      }
      after = batch.at(-1)!.id;
    }
  }
  for (const key of await findServiceKeysNotUnder(sql, keys.keyId)) {
    if (!keys.canDecrypt(key.keyId)) continue; // another deployment's keys, in a shared database
    try {
      const plaintext = await keys.decryptDataKey(key.wrappedKey, key.keyId);
      const rewrapped = await keys.wrapDataKey(plaintext).finally(() => plaintext.fill(0));
      if (await replaceWrappedServiceKey(sql, key, { wrappedKey: rewrapped.wrapped, keyId: rewrapped.keyId }))
        report.rewrapped += 1;
      else report.skipped += 1;
    } catch (err) {
      report.failed += 1;
      logger.error(
        { serviceKey: key.name, fromKeyId: key.keyId, err: { message: (err as Error).message } },
        'could not re-wrap a service key',
      );
    }
  }
  logger.info({ ...report, keyId: keys.keyId }, 'key rotation finished');
  return report;
}
