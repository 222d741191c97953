import { loadConnectedConfigOrExit, requireAuth } from '../config/env.js';
import { createLogger } from '../config/logger.js';
import { runUntilSignal } from '../infra/lifecycle.js';
import { startApiService } from './start-api.js';

const config = loadConnectedConfigOrExit(process.env, requireAuth);
const logger = createLogger({ level: config.LOG_LEVEL, name: 'api' });
await runUntilSignal(logger, async () => {
  const api = await startApiService(config, logger);
  logger.info({ url: api.url }, 'API listening');
  return [{ name: 'api', stop: api.stop }];
});
