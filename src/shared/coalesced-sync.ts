/** The one deferred sync a repository's pushes over the webhook rate join: one waiting run per repository. */
export const coalescedSyncWorkflowId = (repoId: string): string => `coalesced-sync-${repoId}`;

/** Input of `coalescedSync`. Evolve by adding optional fields only: waiting runs start with old inputs. */
export interface CoalescedSyncInput {
  repoId: string;
  /** The repository's connect workflow, signalled when the delay is over. */
  workflowId: string;
}

/** The delivery id the deferred sync signals with: one per run, so a repeated signal is taken once. */
export const coalescedDeliveryId = (runId: string): string => `coalesced:${runId}`;
