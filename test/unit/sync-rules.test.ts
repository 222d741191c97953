import { describe, expect, it } from 'vitest';
import { attentionMessage, isServiceFailure, mergeSyncRequests, serviceFailureMessage, serviceRetryDelayMs } from '../../src/workflows/sync-rules.js';

describe('sync rules', () => {
  it('only the service\'s failures are service failures; the repository\'s count toward the pause', () => {
    for (const code of ['insufficient_storage', 'kms_unavailable', 'internal_error']) expect(isServiceFailure({ code, message: 'm' })).toBe(true);
    for (const code of ['invalid_credentials', 'upstream_unavailable', 'repository_too_large', 'git_failed', 'repository_not_found']) expect(isServiceFailure({ code, message: 'm' })).toBe(false);
  });

  it('backs off from a minute, doubling to at most 30 minutes, then stops', () => {
    expect([1, 2, 3, 4, 5, 6].map((attempt) => serviceRetryDelayMs(attempt, true))).toEqual([60_000, 120_000, 240_000, 480_000, 960_000, null]);
  });

  it('a run kept without schedules never waits for a retry: it wakes only for requests and the TTL, and an early wake would clean up', () => {
    expect(serviceRetryDelayMs(1, false)).toBeNull();
  });

  it('a service failure\'s message says whose it is and when it runs again, and never asks for a token', () => {
    const failure = { code: 'kms_unavailable', message: 'The key service is unavailable' };
    expect(serviceFailureMessage(failure, 120_000)).toBe('The sync failed on the service\'s side, not the repository\'s (kms_unavailable: The key service is unavailable); it does not count toward pausing syncs and is retried in 120 s.');
    expect(serviceFailureMessage(failure, null)).toContain('not retried again until the next sync is asked for');
    expect(serviceFailureMessage(failure, null)).not.toMatch(/token/);
    expect(attentionMessage({ code: 'invalid_credentials', message: 'x' }, 1, 'r-1')).toMatch(/^The Git server refused the access token\. Syncs are paused/);
  });

  it('a user\'s request takes a pending push\'s place; a pushed commit is kept only when both name it', () => {
    const push = { trigger: 'webhook' as const, deliveryId: 'd-1', after: 'a'.repeat(40) };
    expect(mergeSyncRequests(push, { trigger: 'api', requestedBy: 'u' })).toEqual({ trigger: 'api', requestedBy: 'u' });
    expect(mergeSyncRequests(push, {})).toEqual({});
    expect(mergeSyncRequests({ trigger: 'api', requestedBy: 'u' }, push)).toEqual({ trigger: 'api', requestedBy: 'u' });
    expect(mergeSyncRequests(push, { ...push, deliveryId: 'd-2' })).toEqual(push);
    expect(mergeSyncRequests(push, { ...push, deliveryId: 'd-2', after: 'b'.repeat(40) })).toEqual({ trigger: 'webhook', deliveryId: 'd-1' });
    expect(mergeSyncRequests({ trigger: 'schedule' }, push)).toEqual({ trigger: 'schedule' });
  });
});
