import { loadConnectedConfigOrExit, requireReadServiceSecret } from '../config/load-config.js';
import { createLogger } from '../config/logger.js';
import { requireGitOrExit } from '../git/requirements.js';
import { runUntilSignal } from '../runtime/lifecycle.js';
import { serveMetrics } from '../observability/metrics-server.js';
import { startTracing } from '../observability/tracing.js';
import { startReadService } from '../read-service/start-read-service.js';
import { startWorkerService } from './start-worker.js';

const config = loadConnectedConfigOrExit(process.env, requireReadServiceSecret);
await requireGitOrExit();
const logger = createLogger({ level: config.LOG_LEVEL, name: 'worker' });
await runUntilSignal(logger, async (register) => {
  register({ name: 'tracing', ...startTracing('repo-connector-worker', logger) });
  if (config.WORKER_METRICS_PORT) {
    const metrics = await serveMetrics(config.HOST, config.WORKER_METRICS_PORT, config.METRICS_TOKEN);
    register({ name: 'metrics', stop: metrics.stop });
  }
  const worker = await startWorkerService(config, logger);
  register({ name: 'worker', stop: worker.stop, done: worker.done });
  const reads = await startReadService(config, logger);
  register({ name: 'read-service', stop: reads.stop });
  logger.info(
    { taskQueue: config.TEMPORAL_TASK_QUEUE, hostTaskQueue: worker.hostTaskQueue, readService: reads.url },
    'worker running',
  );
});
