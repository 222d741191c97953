import { ScheduleAlreadyRunning, ScheduleOverlapPolicy, type Client, type ScheduleOptions } from '@temporalio/client';

/** One reconciler per task queue (per deployment), under a name an operator can find in the UI. */
export const reconcilerScheduleId = (taskQueue: string): string => `reconcile-repositories-${taskQueue}`;

/**
 * Creates the Temporal Schedule that runs `reconcileRepositories`, or brings an existing one to
 * the current interval: every worker calls this at start-up, so it must be idempotent.
 */
export async function ensureReconcilerSchedule(client: Client, o: { taskQueue: string; intervalSeconds: number }): Promise<void> {
  const scheduleId = reconcilerScheduleId(o.taskQueue);
  const options: ScheduleOptions = {
    scheduleId,
    spec: { intervals: [{ every: `${o.intervalSeconds}s` }] },
    action: {
      type: 'startWorkflow',
      workflowType: 'reconcileRepositories',
      workflowId: scheduleId,
      taskQueue: o.taskQueue,
      args: [],
    },
    // A pass still running makes the next one pointless.
    policies: { overlap: ScheduleOverlapPolicy.SKIP },
  };
  try {
    await client.schedule.create(options);
  } catch (err) {
    if (!(err instanceof ScheduleAlreadyRunning)) throw err;
    await client.schedule.getHandle(scheduleId).update((previous) => ({ ...previous, spec: options.spec, action: options.action }));
  }
}
