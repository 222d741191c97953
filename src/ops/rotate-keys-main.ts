import { parseArgs } from 'node:util';
import { Client, Connection } from '@temporalio/client';
import { loadConnectedConfigOrExit, loadDatabaseConfigOrExit } from '../config/load-config.js';
import { createLogger } from '../config/logger.js';
import { createKeyProvider } from '../crypto/key-provider.js';
import { createSql } from '../db/client.js';
import { checkKeys, formatKeyCheck, mustKeep } from './key-check.js';
import { rotateKeys } from './rotate-keys.js';

/**
 * `npm run rotate-keys`: re-wraps stored tokens under the current key (KMS_KEY_ID or MASTER_ENCRYPTION_KEY).
 * `npm run rotate-keys -- --check`: says which keys are still needed, and by what (exit 2 while a configured old one is).
 */
function flagsOrExit() {
  try {
    return parseArgs({ options: { check: { type: 'boolean', default: false } } }).values;
  } catch (err) {
    process.stderr.write(`${(err as Error).message}\nusage: npm run rotate-keys [-- --check]\n`);
    process.exit(64); // EX_USAGE
  }
}
const flags = flagsOrExit();
const config = flags.check ? loadConnectedConfigOrExit() : loadDatabaseConfigOrExit();
const logger = createLogger({ level: config.LOG_LEVEL, name: 'rotate-keys' });
const sql = createSql(config.DATABASE_URL, { max: 2, applicationName: 'repo-connector-rotate-keys' });
const keys = createKeyProvider(config);
try {
  if (flags.check) {
    // Histories are read raw: a payload's key id is plain metadata, so nothing needs opening.
    const connection = await Connection.connect({ address: config.TEMPORAL_ADDRESS! });
    try {
      // On stderr, every 100 histories or so: the report alone goes to stdout.
      const onProgress = (read: number, of: number) => {
        if (read % 100 < 8 || read === of) process.stderr.write(`read ${read} of ${of} open workflow histories\n`);
      };
      const report = await checkKeys({
        sql,
        temporal: new Client({ connection, namespace: config.TEMPORAL_NAMESPACE }),
        keys,
        onProgress,
      });
      process.stdout.write(`${formatKeyCheck(report)}\n`);
      if (report.keys.some(mustKeep)) process.exitCode = 2;
    } finally {
      await connection.close();
    }
  } else {
    const report = await rotateKeys(sql, keys, logger);
    if (report.failed > 0) process.exitCode = 1;
  }
} catch (err) {
  logger.error({ err: { message: (err as Error).message } }, flags.check ? 'key check failed' : 'key rotation failed');
  process.exitCode = 1;
} finally {
  await sql.end({ timeout: 5 });
}
