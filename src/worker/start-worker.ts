import { hostname } from 'node:os';
import { Client, Connection } from '@temporalio/client';
import type { DataConverter } from '@temporalio/common';
import { NativeConnection } from '@temporalio/worker';
import { createCleanupActivities } from '../activities/cleanup.js';
import type { ActivityDeps, ActivitySettings } from '../activities/index.js';
import type { ConnectedConfig } from '../config/load-config.js';
import type { Logger } from '../config/logger.js';
import { createKeyProvider } from '../crypto/key-provider.js';
import { encryptedDataConverter } from '../crypto/payload-codec.js';
import { createSql } from '../db/client.js';
import { recordKeyInService } from '../db/encryption-keys.js';
import { ensureSearchAttributes } from '../runtime/search-attributes.js';
import { databaseProbe, sandboxDiskProbe } from '../observability/probes.js';
import { addScrapeProbe } from '../observability/scrape.js';
import { tracingStarted } from '../observability/tracing.js';
import { createWorkers } from './create-worker.js';
import { ensureReconcilerSchedule } from './reconciler-schedule.js';
import { ensureRetentionSchedule } from './retention-schedule.js';
import { installTemporalRuntime } from './runtime.js';

export interface WorkerService {
  hostTaskQueue: string;
  /** Settles when the workers stop, by `stop()` or by a fatal error. */
  done: Promise<void>;
  stop(): Promise<void>;
}

/** `<task queue>-host-<host id>`: stable across restarts, so cleanup sent before a restart still arrives. */
export const hostTaskQueueOf = (config: ConnectedConfig): string =>
  `${config.TEMPORAL_TASK_QUEUE}-host-${config.WORKER_HOST_ID ?? hostname()}`;

export const activitySettingsOf = (config: ConnectedConfig): ActivitySettings => ({
  sandboxBasePath: config.SANDBOX_BASE_PATH,
  allowLoopback: config.GIT_ALLOW_LOOPBACK,
  allowedGitPorts: config.GIT_ALLOWED_PORTS,
  maxGitOutputBytes: Math.floor(config.GIT_MAX_OUTPUT_MB * 1024 * 1024),
  gitCloneTimeoutSeconds: config.GIT_CLONE_TIMEOUT,
  maxRepoSizeMb: config.MAX_REPO_SIZE_MB,
  maxRepoFiles: config.MAX_REPO_FILES,
  maxRepoInodes: config.MAX_REPO_INODES,
  sizeEstimateFactor: config.SIZE_ESTIMATE_FACTOR,
  taskQueue: config.TEMPORAL_TASK_QUEUE,
  hostTaskQueue: hostTaskQueueOf(config),
  sandboxTtlSeconds: config.SANDBOX_TTL_SECONDS,
  minFreeMb: config.SANDBOX_MIN_FREE_MB,
  reconcilePageSize: config.RECONCILE_PAGE_SIZE,
  retention: {
    auditDays: config.AUDIT_RETENTION_DAYS,
    webhookDeliveryDays: config.WEBHOOK_DELIVERY_RETENTION_DAYS,
    batchSize: config.RETENTION_BATCH_SIZE,
  },
  minFreeInodes: config.SANDBOX_MIN_FREE_INODES,
});

/** A connection to a namespace that has our search attributes (registered here if need be). */
async function connectTemporal(config: ConnectedConfig, logger: Logger): Promise<NativeConnection> {
  const connection = await NativeConnection.connect({ address: config.TEMPORAL_ADDRESS });
  try {
    const registered = await ensureSearchAttributes(connection.operatorService, config.TEMPORAL_NAMESPACE);
    if (registered.length > 0)
      logger.info({ namespace: config.TEMPORAL_NAMESPACE, registered }, 'search attributes registered');
    return connection;
  } catch (err) {
    await connection.close();
    throw err;
  }
}

export async function startWorkerService(config: ConnectedConfig, logger: Logger): Promise<WorkerService> {
  await installTemporalRuntime(logger);
  const keys = createKeyProvider(config);
  // Every activity slot may hold a connection, plus the sweeps'.
  const sql = createSql(config.DATABASE_URL, {
    max: config.WORKER_CONCURRENCY + config.ADMISSION_CONCURRENCY + 2,
    applicationName: 'repo-connector-worker',
  });
  const deps: ActivityDeps = { sql, keys, logger, settings: activitySettingsOf(config) };
  let sweeps: NodeJS.Timeout | undefined;
  const probes = [
    addScrapeProbe(databaseProbe(sql)),
    addScrapeProbe(sandboxDiskProbe(config.SANDBOX_BASE_PATH, config.WORKER_HOST_ID ?? hostname())),
  ];
  const removeProbes = () => probes.forEach((remove) => remove());
  try {
    // Whatever a previous run of this host left behind (a crash mid-clone, a lost cleanup) goes first.
    const { sweepSandboxes } = createCleanupActivities(deps);
    await sweepSandboxes({ expired: false });
    await recordKeyInService(sql, keys.keyId);
    // Then again and again: files of rows the reconciler settled, or whose clone moved to another host.
    sweeps = setInterval(() => {
      sweepSandboxes({ expired: false }).catch((err: Error) =>
        logger.warn({ err: { message: err.message } }, 'sandbox sweep failed'),
      );
    }, config.SANDBOX_SWEEP_INTERVAL_SECONDS * 1000);
    sweeps.unref();
    const connection = await connectTemporal(config, logger);
    const dataConverter = encryptedDataConverter(keys);
    await withClient(config, dataConverter, async (client) => {
      await ensureReconcilerSchedule(client, {
        taskQueue: config.TEMPORAL_TASK_QUEUE,
        intervalSeconds: config.RECONCILE_INTERVAL_SECONDS,
      });
      await ensureRetentionSchedule(client, {
        taskQueue: config.TEMPORAL_TASK_QUEUE,
        intervalSeconds: config.RETENTION_INTERVAL_SECONDS,
      });
    }).catch(async (err: unknown) => {
      await connection.close();
      throw err;
    });
    const settings = {
      namespace: config.TEMPORAL_NAMESPACE,
      taskQueue: config.TEMPORAL_TASK_QUEUE,
      concurrency: config.WORKER_CONCURRENCY,
      admissionConcurrency: config.ADMISSION_CONCURRENCY,
      syncConcurrency: config.SYNC_CONCURRENCY,
      workflowCacheSize: config.WORKFLOW_CACHE_SIZE,
      dataConverter,
      traced: tracingStarted(),
    };
    const workers = await createWorkers(connection, settings, deps);
    const stopAll = () => workers.forEach((w) => w.getState() === 'RUNNING' && w.shutdown());
    // One worker failing stops the other, so `done` settles and the process can exit.
    const runs = workers.map((w) =>
      w.run().catch((err: unknown) => {
        stopAll();
        throw err;
      }),
    );
    const done = Promise.all(runs)
      .then(() => undefined)
      .finally(async () => {
        clearInterval(sweeps);
        removeProbes();
        await connection.close();
        await sql.end({ timeout: 5 });
      });
    return {
      hostTaskQueue: deps.settings.hostTaskQueue,
      done,
      async stop() {
        stopAll();
        await done;
      },
    };
  } catch (err) {
    clearInterval(sweeps);
    removeProbes();
    await sql.end({ timeout: 5 });
    throw err;
  }
}

/** A short-lived client for start-up chores, speaking through the same encrypted payloads as the workers. */
async function withClient<T>(
  config: ConnectedConfig,
  dataConverter: DataConverter,
  work: (client: Client) => Promise<T>,
): Promise<T> {
  const connection = await Connection.connect({ address: config.TEMPORAL_ADDRESS });
  try {
    return await work(new Client({ connection, namespace: config.TEMPORAL_NAMESPACE, dataConverter }));
  } finally {
    await connection.close();
  }
}
