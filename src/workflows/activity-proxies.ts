import { proxyActivities, proxyLocalActivities } from '@temporalio/workflow';
import type { Activities } from '../activities/index.js';
import { admissionQueueOf, cloneQueueOf } from '../shared/task-queues.js';
import { ACTIVITY_OPTIONS } from './activity-options.js';

/** Every activity a workflow of `taskQueue` calls, each on the queue whose slots it should use. */
export function activitiesFor(taskQueue: string) {
  const admission = admissionQueueOf(taskQueue);
  return {
    /** Row writes, audit entries and (in admissions recorded as activities) encryption: short, retried a few minutes. */
    bookkeeping: proxyActivities<Activities>({ ...ACTIVITY_OPTIONS.quick, taskQueue: admission }),
    /** Writes a kept clone's syncs depend on, retried until the database takes them. */
    syncBookkeeping: proxyActivities<Activities>({ ...ACTIVITY_OPTIONS.keptRow, taskQueue: admission }),
    /** Admission's encryption and insert, run by the workflow's own worker while the caller waits. */
    localAdmission: proxyLocalActivities<Activities>(ACTIVITY_OPTIONS.admissionStep),
    scan: proxyActivities<Activities>({ ...ACTIVITY_OPTIONS.scan, taskQueue: admission }),
    retention: proxyActivities<Activities>({ ...ACTIVITY_OPTIONS.retention, taskQueue: admission }),
    checkRepositorySize: proxyActivities<Activities>({ ...ACTIVITY_OPTIONS.sizeCheck, taskQueue: admission })
      .checkRepositorySize,
    recheckRepositorySize: proxyActivities<Activities>({ ...ACTIVITY_OPTIONS.sizeRecheck, taskQueue: admission })
      .checkRepositorySize,
    cloneRepository: proxyActivities<Activities>({ ...ACTIVITY_OPTIONS.clone, taskQueue: cloneQueueOf(taskQueue) })
      .cloneRepository,
    /** The clone on the host that kept admission's probe (to deepen it), if that host takes it soon. */
    cloneOnHost: (hostTaskQueue: string) =>
      proxyActivities<Activities>({
        ...ACTIVITY_OPTIONS.clone,
        ...ACTIVITY_OPTIONS.cloneOnProbeHost,
        taskQueue: hostTaskQueue,
      }).cloneRepository,
    syncOnHost: (hostTaskQueue: string) =>
      proxyActivities<Activities>({ ...ACTIVITY_OPTIONS.sync, taskQueue: hostTaskQueue }).syncRepository,
    /** Sweeps and cleanups of the files on one host. */
    hostFiles: (hostTaskQueue: string) =>
      proxyActivities<Activities>({ ...ACTIVITY_OPTIONS.hostFiles, taskQueue: hostTaskQueue }),
    /** Files of a host that is gone (or never known): any worker, from the admission queue. */
    anyHostFiles: proxyActivities<Activities>({ ...ACTIVITY_OPTIONS.hostFiles, taskQueue: admission }),
  };
}
