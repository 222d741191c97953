import { loadConnectedConfigOrExit } from '../config/env.js';
import { createLogger } from '../config/logger.js';
import { runUntilSignal } from '../infra/lifecycle.js';
import { startWorkerService } from './start-worker.js';

const config = loadConnectedConfigOrExit();
const logger = createLogger({ level: config.LOG_LEVEL, name: 'worker' });
await runUntilSignal(logger, async () => {
  const worker = await startWorkerService(config, logger);
  logger.info({ taskQueue: config.TEMPORAL_TASK_QUEUE }, 'worker running');
  return [{ name: 'worker', stop: worker.stop, done: worker.done }];
});
