// Which repositories a sync or a retry may be asked for, and the refusals: one rule for API, workflow and activities.
import type { CloneStatus } from './repo-status.js';

/** Only a kept clone syncs. */
export const canSync = (status: CloneStatus): boolean => status === 'COMPLETED';

export const notSyncableMessage = (status: CloneStatus): string =>
  `Only a COMPLETED repository can be synced; it is ${status}`;

/** A failed clone, or a kept one whose syncs stopped for the user's attention. */
export const canRetry = (status: CloneStatus, attentionRequired: boolean): boolean =>
  status === 'FAILED' || (status === 'COMPLETED' && attentionRequired);

/** The refusal where the status is not known to the one refusing (the workflow knows its stage, not the row's). */
export const NOT_RETRYABLE_MESSAGE = 'Only a FAILED repository, or one whose syncs need attention, can be retried';

export const notRetryableMessage = (status: CloneStatus): string => `${NOT_RETRYABLE_MESSAGE}; it is ${status}`;
