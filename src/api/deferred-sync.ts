import { WorkflowExecutionAlreadyStartedError, type Client } from '@temporalio/client';
import type { CodeRepo } from '../db/repos.js';
import { coalescedSyncWorkflowId, type CoalescedSyncInput } from '../shared/coalesced-sync.js';
import type { coalescedSync } from '../workflows/coalesced-sync.js';

/**
 * Arranges the repository's one deferred webhook sync, `delayMs` from now (Temporal holds it durably);
 * one already waiting takes this push too. False when the repository has no workflow to sync.
 */
export async function deferredSync(
  temporal: Client,
  taskQueue: string,
  repo: CodeRepo,
  delayMs: number,
): Promise<boolean> {
  if (!repo.workflowId) return false;
  const input: CoalescedSyncInput = { repoId: repo.id, workflowId: repo.workflowId };
  try {
    await temporal.workflow.start<typeof coalescedSync>('coalescedSync', {
      workflowId: coalescedSyncWorkflowId(repo.id),
      taskQueue,
      args: [input],
      startDelay: delayMs,
    });
  } catch (err) {
    if (!(err instanceof WorkflowExecutionAlreadyStartedError)) throw err;
  }
  return true;
}
