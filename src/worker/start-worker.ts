import { NativeConnection } from '@temporalio/worker';
import type { ConnectedConfig } from '../config/env.js';
import type { Logger } from '../config/logger.js';
import { createKeyProvider } from '../crypto/key-provider.js';
import { createSql } from '../db/client.js';
import { createWorker } from './create-worker.js';
import { installTemporalRuntime } from './runtime.js';

export interface WorkerService {
  /** Settles when the worker stops, by `stop()` or by a fatal error. */
  done: Promise<void>;
  stop(): Promise<void>;
}

export async function startWorkerService(config: ConnectedConfig, logger: Logger): Promise<WorkerService> {
  installTemporalRuntime(logger);
  const keys = createKeyProvider(config);
  const sql = createSql(config.DATABASE_URL, { max: config.WORKER_CONCURRENCY + 2, applicationName: 'repo-connector-worker' });
  const connection = await NativeConnection.connect({ address: config.TEMPORAL_ADDRESS });
  const worker = await createWorker(connection, {
    namespace: config.TEMPORAL_NAMESPACE,
    taskQueue: config.TEMPORAL_TASK_QUEUE,
    concurrency: config.WORKER_CONCURRENCY,
  }, {
    sql,
    keys,
    logger,
    settings: {
      sandboxBasePath: config.SANDBOX_BASE_PATH,
      allowLoopback: config.GIT_ALLOW_LOOPBACK,
      gitCloneTimeoutSeconds: config.GIT_CLONE_TIMEOUT,
    },
  });
  const done = worker.run().finally(async () => {
    await connection.close();
    await sql.end({ timeout: 5 });
  });
  return {
    done,
    async stop() {
      if (worker.getState() === 'RUNNING') worker.shutdown();
      await done;
    },
  };
}
