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

/** Whether a repository's code can be read: its clone kept, not yet, or never again (cleaned or disconnected). */
export type Readability = 'readable' | 'not_ready' | 'gone';

export function readabilityOf(status: CloneStatus, disconnected: boolean): Readability {
  if (disconnected || status === 'CLEANING' || status === 'CLEANED') return 'gone';
  return status === 'COMPLETED' ? 'readable' : 'not_ready';
}

export const GONE_MESSAGE = 'The repository was cleaned up or disconnected: its code is no longer held';
export const notReadyMessage = (status: CloneStatus): string =>
  status === 'FAILED'
    ? 'The clone failed: retry it before reading the code'
    : `The clone is not complete yet (${status}); ask again later`;
