import { loadDatabaseConfigOrExit } from '../config/env.js';
import { createLogger } from '../config/logger.js';
import { createKeyProvider } from '../crypto/key-provider.js';
import { createSql } from '../db/client.js';
import { rotateKeys } from './rotate-keys.js';

/** `npm run rotate-keys`: re-wraps stored tokens under the current key (KMS_KEY_ID or MASTER_ENCRYPTION_KEY). */
const config = loadDatabaseConfigOrExit();
const logger = createLogger({ level: config.LOG_LEVEL, name: 'rotate-keys' });
const sql = createSql(config.DATABASE_URL, { max: 2, applicationName: 'repo-connector-rotate-keys' });
try {
  const report = await rotateKeys(sql, createKeyProvider(config), logger);
  if (report.failed > 0) process.exitCode = 1;
} catch (err) {
  logger.error({ err: { message: (err as Error).message } }, 'key rotation failed');
  process.exitCode = 1;
} finally {
  await sql.end({ timeout: 5 });
}
