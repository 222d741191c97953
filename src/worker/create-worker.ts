import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { NativeConnection, Worker } from '@temporalio/worker';
import { createActivities, createHostActivities, type ActivityDeps } from '../activities/index.js';
import { encryptedDataConverter } from '../crypto/payload-codec.js';

/** The workflow sources next to this file: `.ts` under tsx and vitest, `.js` once compiled. */
const WORKFLOWS_PATH = fileURLToPath(
  new URL(`../workflows/index${path.extname(fileURLToPath(import.meta.url))}`, import.meta.url),
);

export interface WorkerSettings {
  namespace: string;
  taskQueue: string;
  /** Activities this worker runs at once (clones are disk and network heavy). */
  concurrency: number;
}

/** The shared queue: every workflow, and every activity that may run on any host. */
export async function createWorker(connection: NativeConnection, settings: WorkerSettings, deps: ActivityDeps): Promise<Worker> {
  return Worker.create({
    connection,
    namespace: settings.namespace,
    taskQueue: settings.taskQueue,
    dataConverter: encryptedDataConverter(deps.keys),
    workflowsPath: WORKFLOWS_PATH,
    activities: createActivities(deps),
    maxConcurrentActivityTaskExecutions: settings.concurrency,
    // Heartbeats carry cancellation back to a clone: send them often, so a cleanup signal stops git within seconds.
    maxHeartbeatThrottleInterval: '1 second',
    // Give running clones time to see the cancellation and clean up on shutdown.
    shutdownGraceTime: '5 seconds',
  });
}

/** This host's own queue: cleanup and sweeps of the sandboxes on its disk. */
export async function createHostWorker(connection: NativeConnection, settings: WorkerSettings, deps: ActivityDeps): Promise<Worker> {
  return Worker.create({
    connection,
    namespace: settings.namespace,
    taskQueue: deps.settings.hostTaskQueue,
    dataConverter: encryptedDataConverter(deps.keys),
    activities: createHostActivities(deps),
    maxConcurrentActivityTaskExecutions: settings.concurrency,
    shutdownGraceTime: '5 seconds',
  });
}
