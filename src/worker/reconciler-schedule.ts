import type { Client } from '@temporalio/client';
import { ensureSchedule } from './schedules.js';

/** One reconciler per task queue (per deployment), under a name an operator can find in the UI. */
export const reconcilerScheduleId = (taskQueue: string): string => `reconcile-repositories-${taskQueue}`;

/** The Temporal Schedule that runs `reconcileRepositories`, created or brought up to date. */
export async function ensureReconcilerSchedule(
  client: Client,
  o: { taskQueue: string; intervalSeconds: number },
): Promise<void> {
  await ensureSchedule(client, {
    ...o,
    scheduleId: reconcilerScheduleId(o.taskQueue),
    workflowType: 'reconcileRepositories',
  });
}
