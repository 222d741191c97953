// Open runs replay this code: change what it does only behind patched() (README, "Changing the workflow"); test/replay checks.
import { workflowInfo } from '@temporalio/workflow';
import type { RetentionResult } from '../activities/retention.js';
import { activitiesFor } from './activity-proxies.js';

/** Run by a Temporal Schedule: deletes audit rows and webhook deliveries past their retention, a bounded amount per run. */
export async function enforceRetention(): Promise<RetentionResult> {
  return activitiesFor(workflowInfo().taskQueue).retention.deleteExpiredRecords();
}
