import type { Client } from '@temporalio/client';
import { ensureSchedule } from './schedules.js';

/** One retention schedule per task queue (per deployment), beside its reconciler's. */
export const retentionScheduleId = (taskQueue: string): string => `enforce-retention-${taskQueue}`;

/** The Temporal Schedule that runs `enforceRetention`, created or brought up to date. */
export async function ensureRetentionSchedule(
  client: Client,
  o: { taskQueue: string; intervalSeconds: number },
): Promise<void> {
  await ensureSchedule(client, {
    ...o,
    scheduleId: retentionScheduleId(o.taskQueue),
    workflowType: 'enforceRetention',
  });
}
