import { describe, expect, it } from 'vitest';
import { canRetry, canSync, notRetryableMessage, notSyncableMessage } from '../../src/shared/repo-eligibility.js';
import { CLONE_STATUSES } from '../../src/shared/repo-status.js';

describe('repository eligibility', () => {
  it('only a COMPLETED repository syncs', () => {
    expect(CLONE_STATUSES.filter(canSync)).toEqual(['COMPLETED']);
  });

  it('a FAILED repository retries; a COMPLETED one only while its syncs need attention', () => {
    expect(CLONE_STATUSES.filter((status) => canRetry(status, false))).toEqual(['FAILED']);
    expect(CLONE_STATUSES.filter((status) => canRetry(status, true))).toEqual(['COMPLETED', 'FAILED']);
  });

  it('the refusals name the status the repository is in', () => {
    expect(notSyncableMessage('CLEANED')).toBe('Only a COMPLETED repository can be synced; it is CLEANED');
    expect(notRetryableMessage('COMPLETED')).toBe(
      'Only a FAILED repository, or one whose syncs need attention, can be retried; it is COMPLETED',
    );
  });
});
