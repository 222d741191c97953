// Open runs replay this code: change what it does only behind patched() (README, "Changing the workflow"); test/replay checks.
import { ApplicationFailure, getExternalWorkflowHandle, workflowInfo } from '@temporalio/workflow';
import { coalescedDeliveryId, type CoalescedSyncInput } from '../shared/coalesced-sync.js';
import { syncSignal } from '../shared/connect-repository.js';

/**
 * Started by the API with a start delay (the webhook bucket's time to refill a token) for pushes
 * over the rate: signals one webhook sync without `after`, so it fetches the ref's tip and with it
 * every push coalesced while this run waited.
 */
export async function coalescedSync(input: CoalescedSyncInput): Promise<void> {
  try {
    await getExternalWorkflowHandle(input.workflowId).signal(syncSignal, {
      trigger: 'webhook',
      deliveryId: coalescedDeliveryId(workflowInfo().runId),
    });
  } catch (err) {
    // The repository's workflow has ended (disconnected, failed): nothing to sync.
    if (err instanceof ApplicationFailure) return;
    throw err;
  }
}
