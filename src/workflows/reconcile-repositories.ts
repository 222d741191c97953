import { proxyActivities } from '@temporalio/workflow';
import type { Activities } from '../activities/index.js';
import { ACTIVITY_OPTIONS } from './activity-options.js';

const { findOrphanedRepositories } = proxyActivities<Activities>(ACTIVITY_OPTIONS.scan);
const { settleOrphanedRepository } = proxyActivities<Activities>(ACTIVITY_OPTIONS.quick);

/**
 * Run by a Temporal Schedule: settles every row whose workflow ended (terminated, lost, failed
 * in a way its own code could not catch) without bringing it to a terminal state.
 */
export async function reconcileRepositories(): Promise<{ settled: number }> {
  const orphans = await findOrphanedRepositories();
  for (const orphan of orphans) await settleOrphanedRepository(orphan);
  return { settled: orphans.length };
}
