import { ScheduleAlreadyRunning, ScheduleOverlapPolicy, type Client, type ScheduleOptions } from '@temporalio/client';

export interface PeriodicWorkflow {
  /** Also the workflow id of each run, so an operator finds both by one name in the UI. */
  scheduleId: string;
  workflowType: string;
  taskQueue: string;
  intervalSeconds: number;
}

/**
 * Creates the Temporal Schedule that runs `workflowType` every `intervalSeconds`, or brings an
 * existing one to the current interval and action: every worker calls this at start-up, so it
 * must be idempotent.
 */
export async function ensureSchedule(client: Client, o: PeriodicWorkflow): Promise<void> {
  const options: ScheduleOptions = {
    scheduleId: o.scheduleId,
    spec: { intervals: [{ every: `${o.intervalSeconds}s` }] },
    action: {
      type: 'startWorkflow',
      workflowType: o.workflowType,
      workflowId: o.scheduleId,
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
    await client.schedule
      .getHandle(o.scheduleId)
      .update((previous) => ({ ...previous, spec: options.spec, action: options.action }));
  }
}
