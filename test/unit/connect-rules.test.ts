import { describe, expect, it } from 'vitest';
import {
  acceptsSync,
  attentionMessage,
  currentStage,
  dueAt,
  firstSyncSummary,
  isServiceFailure,
  mergeSyncRequests,
  nextWakeAt,
  pausesSyncs,
  RECENT_DELIVERIES,
  rememberDelivery,
  requesterOf,
  serviceFailureMessage,
  serviceRetryDelayMs,
  syncAuditOf,
  syncOriginOf,
} from '../../src/workflows/connect-rules.js';

describe('sync rules', () => {
  it('reads the stage a run continued before the rename carries under its new name', () => {
    expect(currentStage('waiting_for_cleanup')).toBe('ready');
    for (const stage of ['ready', 'syncing', 'cloning'] as const) expect(currentStage(stage)).toBe(stage);
  });

  it("only the service's failures are service failures; the repository's count toward the pause", () => {
    for (const code of ['insufficient_storage', 'kms_unavailable', 'internal_error'])
      expect(isServiceFailure({ code, message: 'm' })).toBe(true);
    for (const code of [
      'invalid_credentials',
      'upstream_unavailable',
      'repository_too_large',
      'git_failed',
      'repository_not_found',
    ])
      expect(isServiceFailure({ code, message: 'm' })).toBe(false);
  });

  it('backs off from a minute, doubling to at most 30 minutes, then stops', () => {
    expect([1, 2, 3, 4, 5, 6].map((attempt) => serviceRetryDelayMs(attempt, true))).toEqual([
      60_000,
      120_000,
      240_000,
      480_000,
      960_000,
      null,
    ]);
  });

  it('a run kept without schedules never waits for a retry: it wakes only for requests and the TTL, and an early wake would clean up', () => {
    expect(serviceRetryDelayMs(1, false)).toBeNull();
  });

  it("a service failure's message says whose it is and when it runs again, and never asks for a token", () => {
    const failure = { code: 'kms_unavailable', message: 'The key service is unavailable' };
    expect(serviceFailureMessage(failure, 120_000)).toBe(
      "The sync failed on the service's side, not the repository's (kms_unavailable: The key service is unavailable); it does not count toward pausing syncs and is retried in 120 s.",
    );
    expect(serviceFailureMessage(failure, null)).toContain('not retried again until the next sync is asked for');
    expect(serviceFailureMessage(failure, null)).not.toMatch(/token/);
    expect(attentionMessage({ code: 'invalid_credentials', message: 'x' }, 1, 'r-1')).toMatch(
      /^The Git server refused the access token\. Syncs are paused/,
    );
  });

  it("a user's request takes a pending push's place; a pushed commit is kept only when both name it", () => {
    const push = { trigger: 'webhook' as const, deliveryId: 'd-1', after: 'a'.repeat(40) };
    expect(mergeSyncRequests(push, { trigger: 'api', requestedBy: 'u' })).toEqual({ trigger: 'api', requestedBy: 'u' });
    expect(mergeSyncRequests(push, {})).toEqual({});
    expect(mergeSyncRequests({ trigger: 'api', requestedBy: 'u' }, push)).toEqual({ trigger: 'api', requestedBy: 'u' });
    expect(mergeSyncRequests(push, { ...push, deliveryId: 'd-2' })).toEqual(push);
    expect(mergeSyncRequests(push, { ...push, deliveryId: 'd-2', after: 'b'.repeat(40) })).toEqual({
      trigger: 'webhook',
      deliveryId: 'd-1',
    });
    expect(mergeSyncRequests({ trigger: 'schedule' }, push)).toEqual({ trigger: 'schedule' });
  });
});

describe('connect rules', () => {
  const audit = { correlationId: 'c-1', requestId: 'r-1', userId: 'owner' };

  it("a sync's audit row names the user who asked, else the part of the system that did, else the owner", () => {
    expect(requesterOf({ requestedBy: 'u-2', trigger: 'api' }, 'owner')).toBe('u-2');
    expect(requesterOf({ trigger: 'webhook' }, 'owner')).toBe('system:webhook');
    expect(requesterOf({ trigger: 'schedule' }, 'owner')).toBe('system:schedule');
    expect(requesterOf({ trigger: 'api' }, 'owner')).toBe('owner');
    expect(syncAuditOf({}, audit)).toBe(audit);
    expect(syncAuditOf({ trigger: 'webhook' }, audit)).toEqual({ ...audit, userId: 'system:webhook' });
  });

  it("a sync's row records its trigger and delivery only when the request has them", () => {
    expect(syncOriginOf({})).toEqual({});
    expect(syncOriginOf({ trigger: 'webhook', deliveryId: 'd-1', after: 'a' })).toEqual({
      trigger: 'webhook',
      deliveryId: 'd-1',
    });
  });

  it('syncs are taken once cloning, while kept or syncing; not after cleanup is asked, nor a push while paused', () => {
    const kept = ['cloning', 'ready', 'syncing'] as const;
    for (const stage of kept) expect(acceptsSync(stage, false, false, undefined)).toBe(true);
    for (const stage of ['encrypting', 'checking_size', 'persisting', 'failed', 'cleaning', 'done'] as const) {
      expect(acceptsSync(stage, false, false, { trigger: 'api' })).toBe(false);
    }
    expect(acceptsSync('ready', true, false, { trigger: 'api' })).toBe(false);
    expect(acceptsSync('ready', false, true, { trigger: 'webhook' })).toBe(false);
    expect(acceptsSync('ready', false, true, { trigger: 'api' })).toBe(true);
    expect(acceptsSync('ready', false, true, { trigger: 'schedule' })).toBe(true);
  });

  it('remembers the latest RECENT_DELIVERIES delivery ids, latest last', () => {
    const full = Array.from({ length: RECENT_DELIVERIES }, (_, i) => `d-${i}`);
    const next = rememberDelivery(full, 'new');
    expect(next).toHaveLength(RECENT_DELIVERIES);
    expect(next[0]).toBe('d-1');
    expect(next.at(-1)).toBe('new');
    expect(rememberDelivery([], 'd-1')).toEqual(['d-1']);
  });

  it('a failure pauses syncs at the limit, on a refused token, or when already paused; never without bounds', () => {
    const gitFailed = { code: 'git_failed', message: 'm' };
    expect(pausesSyncs(gitFailed, 4, false, 5)).toBe(false);
    expect(pausesSyncs(gitFailed, 5, false, 5)).toBe(true);
    expect(pausesSyncs({ code: 'invalid_credentials', message: 'm' }, 1, false, 5)).toBe(true);
    expect(pausesSyncs(gitFailed, 1, true, 5)).toBe(true);
    expect(pausesSyncs({ code: 'invalid_credentials', message: 'm' }, 9, true, null)).toBe(false);
  });

  it('a new kept clone starts with no syncs, unpaused, with its interval', () => {
    expect(firstSyncSummary(600)).toEqual({
      count: 0,
      consecutiveFailures: 0,
      needsAttention: false,
      intervalSeconds: 600,
      nextSyncAt: null,
      lastTrigger: null,
      continuedAsNew: 0,
    });
  });

  it('wakes at the earliest of the TTL, the schedule and a service retry', () => {
    expect(nextWakeAt(300, undefined, undefined)).toBe(300);
    expect(nextWakeAt(300, 200, undefined)).toBe(200);
    expect(nextWakeAt(300, 200, 100)).toBe(100);
  });

  it('on waking: a service retry first, then the schedule (an interval equal to the TTL syncs), then the TTL', () => {
    expect(dueAt(100, 100, 100, 100)).toBe('service-retry');
    expect(dueAt(100, 100, 100, undefined)).toBe('schedule');
    expect(dueAt(100, 100, 200, 150)).toBe('ttl');
    expect(dueAt(50, 100, 200, undefined)).toBe('nothing');
  });

  it('the attention message counts the failures when the token was not refused', () => {
    expect(attentionMessage({ code: 'git_failed', message: 'boom' }, 5, 'r-1')).toBe(
      '5 syncs in a row failed (last: boom). Syncs are paused: send a new access token with ' +
        'POST /api/v1/code/repos/r-1/retry, or connect the repository again.',
    );
  });
});
