import { CancellationScope, isCancellation, patched } from '@temporalio/workflow';
import type { AuditContext } from '../shared/audit-context.js';
import type { SyncRequest } from '../shared/connect-repository.js';
import { syncQueueOf } from '../shared/task-queues.js';
import {
  attentionMessage,
  isServiceFailure,
  pausesSyncs,
  serviceFailureMessage,
  serviceRetryDelayMs,
  syncAuditOf,
  syncOriginOf,
} from './connect-rules.js';
import type { ConnectRun } from './connect-run.js';
import { failureOf, notPickedUp, type Failure } from './failures.js';
import { SERVICE_FAILURES_RETRIED, SYNCS_ON_OWN_SLOTS } from './patches.js';

const notPickedUpFailure = (): Failure => ({
  code: 'internal_error',
  message: "No worker of the clone's host took the sync in time",
});

interface SyncContext {
  request: SyncRequest;
  origin: ReturnType<typeof syncOriginOf>;
  audit: AuditContext;
}

/**
 * Fetches the ref's new commits into the clone on its host; a failure keeps the previous checkout,
 * and the repository usable. With bounds (`failureLimit`), the failure that reaches the limit (or
 * any the Git server refuses the token with) stops the syncs that run by themselves.
 */
export async function syncOnce(run: ConnectRun, request: SyncRequest, failureLimit: number | null): Promise<void> {
  run.syncStarts();
  const sync: SyncContext = { request, origin: syncOriginOf(request), audit: syncAuditOf(request, run.audit) };
  const noBytes = { bytesReceived: null, bytesPerSecond: null };
  run.update({ stage: 'syncing', progressPercent: 0, progressMessage: 'Syncing', ...noBytes });
  run.updateSyncs({ lastTrigger: request.trigger ?? 'api', nextSyncAt: null });
  try {
    await fetchOnHost(run, sync);
  } catch (err) {
    if (isCancellation(err)) {
      if (run.cleanupRequested) return;
      throw err;
    }
    const failure = notPickedUp(err) ? notPickedUpFailure() : failureOf(err);
    if (isServiceFailure(failure) && patched(SERVICE_FAILURES_RETRIED)) {
      return serviceFailed(run, sync, failure, failureLimit !== null);
    }
    await repositoryFailed(run, sync, failure, failureLimit);
  } finally {
    run.cloneScope = undefined;
  }
}

async function fetchOnHost(run: ConnectRun, sync: SyncContext): Promise<void> {
  run.cloneScope = new CancellationScope();
  const host = run.hostTaskQueue!;
  const queue = patched(SYNCS_ON_OWN_SLOTS) ? syncQueueOf(host) : host;
  const { projectId, gitUrl } = run.input;
  const after = sync.request.after ? { after: sync.request.after } : {};
  const input = { repoId: run.repoId, projectId, gitUrl, audit: sync.audit, ...sync.origin, ...after };
  const synced = await run.cloneScope.run(() => run.steps.syncOnHost(queue)(input));
  run.serviceFailuresInARow = 0;
  run.update({
    stage: 'ready',
    progressPercent: 100,
    progressMessage: synced.changed ? 'Synced; kept until cleanup' : 'Already up to date; kept until cleanup',
    repositorySizeMb: synced.repositorySizeMb,
    bytesReceived: synced.bytesReceived,
    bytesPerSecond: null,
    error: null,
  });
  if (run.state.syncs) {
    run.updateSyncs({ count: run.state.syncs.count + 1, consecutiveFailures: 0, needsAttention: false });
  }
}

/** The repository's failure: counted toward the pause, which the limit (or a refused token) sets. */
async function repositoryFailed(run: ConnectRun, sync: SyncContext, failure: Failure, failureLimit: number | null) {
  const failures = (run.state.syncs?.consecutiveFailures ?? 0) + 1;
  // Paused already (a sync the user asked for failed again): the row keeps saying what to do.
  const needsAttention = pausesSyncs(failure, failures, run.state.syncs?.needsAttention === true, failureLimit);
  const message = needsAttention ? attentionMessage(failure, failures, run.repoId) : failure.message;
  const row = { repoId: run.repoId, errorCode: failure.code, errorMessage: message, audit: sync.audit, ...sync.origin };
  await run.steps.syncBookkeeping.markSyncFailed({ ...row, ...(needsAttention ? { needsAttention } : {}) });
  const restored = failure.details?.checkout_restored !== false;
  run.update({
    stage: 'ready',
    progressPercent: 100,
    progressMessage: restored
      ? 'Sync failed; the previous commit is kept'
      : 'Sync failed; the checkout could not be restored',
    bytesReceived: null,
    bytesPerSecond: null,
    error: { code: failure.code, message },
  });
  if (run.state.syncs) {
    run.updateSyncs({ count: run.state.syncs.count + 1, consecutiveFailures: failures, needsAttention });
  }
  // A push that came during this sync would fail as it did: paused, pushes are not acted on.
  if (needsAttention && run.pendingSync?.trigger === 'webhook') run.pendingSync = undefined;
}

/** Not the repository's failure: the count toward the pause stays, and the same request runs again after a backoff. */
async function serviceFailed(run: ConnectRun, sync: SyncContext, failure: Failure, scheduling: boolean) {
  run.serviceFailuresInARow += 1;
  const retryInMs = serviceRetryDelayMs(run.serviceFailuresInARow, scheduling);
  const message = serviceFailureMessage(failure, retryInMs);
  const paused = run.state.syncs?.needsAttention ? { needsAttention: true } : {};
  const row = { repoId: run.repoId, errorCode: failure.code, errorMessage: message, audit: sync.audit, ...sync.origin };
  await run.steps.syncBookkeeping.markSyncFailed({ ...row, ...paused });
  run.update({
    stage: 'ready',
    progressPercent: 100,
    progressMessage: "Sync failed on the service's side; the previous commit is kept",
    bytesReceived: null,
    bytesPerSecond: null,
    error: { code: failure.code, message },
  });
  if (run.state.syncs) run.updateSyncs({ count: run.state.syncs.count + 1 });
  if (retryInMs !== null) run.serviceRetry = { at: Date.now() + retryInMs, request: sync.request };
}
