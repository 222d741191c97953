// Open runs replay this code: change what it does only behind patched() (README, "Changing the workflow"); test/replay checks.
import { workflowInfo } from '@temporalio/workflow';
import { activitiesFor } from './activity-proxies.js';

/**
 * Run by a Temporal Schedule: settles every row whose workflow ended (terminated, lost, failed
 * in a way its own code could not catch) without bringing it to a terminal state.
 */
export async function reconcileRepositories(): Promise<{ settled: number }> {
  const { scan, bookkeeping } = activitiesFor(workflowInfo().taskQueue);
  const orphans = await scan.findOrphanedRepositories();
  for (const orphan of orphans) await bookkeeping.settleOrphanedRepository(orphan);
  return { settled: orphans.length };
}
