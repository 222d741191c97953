import { loadDatabaseConfigOrExit } from '../config/load-config.js';
import { createLogger } from '../config/logger.js';
import { createSql } from './client.js';
import { migrate } from './migrate.js';

const config = loadDatabaseConfigOrExit();
const logger = createLogger({ level: config.LOG_LEVEL, name: 'migrate' });
const sql = createSql(config.DATABASE_URL, { max: 1, applicationName: 'repo-connector-migrate' });
try {
  const applied = await migrate(sql);
  logger.info({ applied }, applied.length ? 'migrations applied' : 'schema up to date');
} catch (err) {
  logger.error({ err: { message: (err as Error).message } }, 'migration failed');
  process.exitCode = 1;
} finally {
  await sql.end({ timeout: 5 });
}
