import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { DataConverter } from '@temporalio/common';
import { NativeConnection, Worker } from '@temporalio/worker';
import { createActivities, createHostActivities, type ActivityDeps } from '../activities/index.js';

/** The workflow sources next to this file: `.ts` under tsx and vitest, `.js` once compiled. */
const WORKFLOWS_PATH = fileURLToPath(
  new URL(`../workflows/index${path.extname(fileURLToPath(import.meta.url))}`, import.meta.url),
);

export interface WorkerSettings {
  namespace: string;
  taskQueue: string;
  /** Activities this worker runs at once (clones are disk and network heavy). */
  concurrency: number;
  /** The process's one encrypted data converter (one payload data key per process). */
  dataConverter: DataConverter;
}

/**
 * The two workers of one host, sharing a connection and one data converter (so one payload
 * data key per process): the shared queue (every workflow, and every activity that may run
 * anywhere), and this host's own queue (cleanup and sweeps of the sandboxes on its disk).
 */
export async function createWorkers(connection: NativeConnection, settings: WorkerSettings, deps: ActivityDeps): Promise<Worker[]> {
  const common = {
    connection,
    namespace: settings.namespace,
    dataConverter: settings.dataConverter,
    maxConcurrentActivityTaskExecutions: settings.concurrency,
    // Give running clones time to see the cancellation and clean up on shutdown.
    shutdownGraceTime: '5 seconds',
  };
  return [
    await Worker.create({
      ...common,
      taskQueue: settings.taskQueue,
      workflowsPath: WORKFLOWS_PATH,
      activities: createActivities(deps),
      // Heartbeats carry cancellation back to a clone: send them often, so a cleanup signal stops git within seconds.
      maxHeartbeatThrottleInterval: '1 second',
    }),
    await Worker.create({ ...common, taskQueue: deps.settings.hostTaskQueue, activities: createHostActivities(deps) }),
  ];
}
