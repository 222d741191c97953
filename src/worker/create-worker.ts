import type { DataConverter } from '@temporalio/common';
import { type NativeConnection, Worker } from '@temporalio/worker';
import { createActivities, type ActivityDeps } from '../activities/index.js';
import { admissionQueueOf, cloneQueueOf, syncQueueOf } from '../shared/task-queues.js';
import { activityInterceptors, workflowTracingSinks } from '../observability/tracing.js';
import { workflowCode } from './workflow-code.js';

export interface WorkerSettings {
  namespace: string;
  taskQueue: string;
  /** Clones this worker runs at once (disk and network heavy). */
  concurrency: number;
  /** Admission activities this worker runs at once, in slots of their own. */
  admissionConcurrency: number;
  /** Syncs this worker runs at once, on its host's sync queue (SYNC_CONCURRENCY). */
  syncConcurrency: number;
  /** Workflows kept in memory between their workflow tasks (WORKFLOW_CACHE_SIZE). */
  workflowCacheSize: number;
  /** The process's one encrypted data converter (one payload data key per process). */
  dataConverter: DataConverter;
  /** Whether this process traces (startTracing): workflows then run with the tracing interceptors. */
  traced: boolean;
}

/** Activities scheduled on the workflows' own queue by runs started before the queues were split. */
const LEGACY_ACTIVITY_SLOTS = 2;
/** Cleanups and sweeps on a host's queue, beside the clones it may run there. */
const HOST_FILE_SLOTS = 2;

/**
 * The workers of one host, sharing a connection and one data converter (so one payload data key
 * per process), each with slots of its own: the workflows' queue; admission (encryption, size
 * probes, database steps); clones; this host's syncs; and this host's own queue (cleanup and
 * sweeps of the sandboxes on its disk). A host full of clones still admits at once, and one
 * full of syncs still cleans up.
 */
export async function createWorkers(
  connection: NativeConnection,
  settings: WorkerSettings,
  deps: ActivityDeps,
): Promise<Worker[]> {
  const common = {
    connection,
    namespace: settings.namespace,
    dataConverter: settings.dataConverter,
    // Give running clones time to see the cancellation and clean up on shutdown.
    shutdownGraceTime: '5 seconds',
    // Heartbeats carry cancellation back to git: send them often, so a cleanup signal stops it within seconds.
    maxHeartbeatThrottleInterval: '1 second',
    interceptors: { activity: [activityInterceptors] },
  };
  const activities = createActivities(deps);
  const { workflowModules, ...code } = { workflowModules: [] as string[], ...workflowCode(settings.traced) };
  deps.logger.info(
    'workflowBundle' in code
      ? { workflowBundle: code.workflowBundle.codePath }
      : { workflowsPath: code.workflowsPath, workflowModules },
    'workflow code',
  );
  const on = (taskQueue: string, slots: number) =>
    Worker.create({ ...common, taskQueue, activities, maxConcurrentActivityTaskExecutions: slots });
  return [
    await Worker.create({
      ...common,
      taskQueue: settings.taskQueue,
      ...code,
      // A prebuilt bundle holds its workflow interceptors already; sources are bundled with them here.
      interceptors: { ...common.interceptors, workflowModules },
      sinks: workflowTracingSinks(),
      activities,
      maxConcurrentActivityTaskExecutions: LEGACY_ACTIVITY_SLOTS,
      // Admission's encryption and insert run here as local activities, bounded like the rest of admission.
      maxConcurrentLocalActivityExecutions: settings.admissionConcurrency,
      maxCachedWorkflows: settings.workflowCacheSize,
    }),
    await on(admissionQueueOf(settings.taskQueue), settings.admissionConcurrency),
    await on(cloneQueueOf(settings.taskQueue), settings.concurrency),
    await on(syncQueueOf(deps.settings.hostTaskQueue), settings.syncConcurrency),
    // This host's own queue: cleanups and sweeps of its files, clones that deepen a probe it kept, and syncs older runs sent here.
    await on(deps.settings.hostTaskQueue, settings.concurrency + HOST_FILE_SLOTS),
  ];
}
