import { loadConnectedConfigOrExit, requireAuth, requireReadServiceSecret } from '../config/load-config.js';
import { createLogger } from '../config/logger.js';
import { runUntilSignal } from '../runtime/lifecycle.js';
import { startTracing } from '../observability/tracing.js';
import { startApiService } from './start-api.js';

const config = loadConnectedConfigOrExit(process.env, (c) => requireReadServiceSecret(requireAuth(c)));
const logger = createLogger({ level: config.LOG_LEVEL, name: 'api' });
await runUntilSignal(logger, async (register) => {
  register({ name: 'tracing', ...startTracing('repo-connector-api', logger) });
  const api = await startApiService(config, logger);
  register({ name: 'api', stop: api.stop });
  logger.info({ url: api.url }, 'API listening');
});
