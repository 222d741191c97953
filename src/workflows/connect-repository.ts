// Open runs replay this code: change what it does only behind patched() (README, "Changing the workflow"); test/replay checks.
import {
  ApplicationFailure,
  CancellationScope,
  allHandlersFinished,
  condition,
  continueAsNew,
  isCancellation,
  patched,
  setHandler,
  upsertSearchAttributes,
  uuid4,
  workflowInfo,
} from '@temporalio/workflow';
import type { AuditContext } from '../shared/audit-context.js';
import {
  admissionUpdate,
  cleanupSignal,
  cloneProgressSignal,
  fingerprintOf,
  getStateQuery,
  sameFingerprint,
  retrySignal,
  retryUpdate,
  syncSignal,
  type Admission,
  type ConnectRepositoryInput,
  type ConnectRepositoryState,
  type EncryptedToken,
  type RetryRequest,
  type SyncRequest,
  type SyncSummary,
  type SealedSecret,
} from '../shared/connect-repository.js';
import type { CloneStatus } from '../shared/repo-status.js';
import { CLONE_STATUS, PROJECT_ID, REPO_ID } from '../shared/search-attributes.js';
import { activitiesFor } from './activity-proxies.js';
import { syncQueueOf } from '../shared/task-queues.js';
import { asApplicationFailure, failureOf, notPickedUp, type Failure } from './failures.js';
import { attentionMessage, isServiceFailure, mergeSyncRequests, serviceFailureMessage, serviceRetryDelayMs } from './sync-rules.js';


/** Patch: encryptToken and persistRepository as local activities (2026-11-26). */
const ADMISSION_AS_LOCAL_ACTIVITIES = 'admission-local-activities';
/** Syncs on demand: a run whose history lacks the marker heard sync signals on a worker without them, which did nothing. */
const SYNC_ON_DEMAND = 'sync-on-demand';
/**
 * Scheduled syncs, the bound on failed ones, and continue-as-new (2026-11-27): a run whose history
 * lacks the marker (it reached its kept phase before) keeps that phase as it was.
 */
const SYNC_SCHEDULE_AND_BOUNDS = 'sync-schedule-and-bounds';
/** Syncs go to the host's sync queue (slots of their own), not its queue of cleanups and sweeps (2026-12-07). */
const SYNCS_ON_OWN_SLOTS = 'syncs-on-own-slots';
/** A user's sync merged into a pending push's stays a user's: it runs even when the sync before pauses syncs (2026-12-07). */
const USER_SYNC_KEPT = 'user-sync-kept';
/** A service's failure (disk, key service, not picked up) does not count toward the pause and is retried with backoff (2026-12-07). */
const SERVICE_FAILURES_RETRIED = 'service-failures-retried';
/**
 * A delivery id signalled again is taken once (2026-11-27, dc40537, without a marker): main ran webhooks
 * without it from c0aa0c3, so a run from then may have synced a repeated delivery, and replays as it did.
 */
const DELIVERY_DEDUPLICATION = 'delivery-deduplication';
/**
 * A retry waits out a sync under way (2026-11-27, 8d451f7, without a marker): main paused syncs without it
 * from 0ec0aec, so a run from then may have refused a retry that came during a sync, and replays as it did.
 */
const RETRY_WAITS_OUT_SYNC = 'retry-waits-out-sync';
/** Defaults for runs whose input predates the settings (SYNC_FAILURE_LIMIT, SYNCS_PER_RUN). */
const DEFAULT_SYNC_FAILURE_LIMIT = 5;
const DEFAULT_SYNCS_PER_RUN = 50;
/** Webhook delivery ids a run remembers (and hands on): a sender's redeliveries come within hours, of the latest pushes. */
const RECENT_DELIVERIES = 50;

/** What a continued run's input carries for the token it never uses (see `continuation`). */
const CONTINUED_RUN_TOKEN = { ciphertext: '', keyId: 'continued-run' } as const;

/** Who a sync's audit row names: the user who asked, or the part of the system that did. */
const requesterOf = (request: SyncRequest, connectedBy: string): string =>
  request.requestedBy ?? (request.trigger === 'webhook' || request.trigger === 'schedule' ? `system:${request.trigger}` : connectedBy);

export interface ConnectRepositoryResult {
  repoId: string;
  cloneStatus: CloneStatus;
  repositorySizeMb: number | null;
}

/**
 * Connects one repository: encrypt the token, check the size, record the row (the API's answer
 * is ready here), clone into the sandbox under an enforced budget, keep it for the TTL, then
 * clean up on the host that holds the files. Only the token's ciphertext leaves the first step.
 */
export async function connectRepository(input: ConnectRepositoryInput): Promise<ConnectRepositoryResult> {
  const { quick, keptRow, admissionStep, checkRepositorySize, recheckRepositorySize, cloneRepository, cloneOnHost, syncOnHost, onHost, onAnyHost } = activitiesFor(workflowInfo().taskQueue);
  /** Set when this run continues an earlier one whose clone is kept: it goes straight to the kept phase. */
  const kept = input.kept;
  const startedAt = new Date().toISOString();
  const state: ConnectRepositoryState = kept ? { ...kept.state, updatedAt: startedAt } : {
    stage: 'encrypting',
    cloneStatus: null,
    repoId: null,
    progressPercent: 0,
    progressMessage: 'Encrypting the access token',
    bytesReceived: null,
    bytesPerSecond: null,
    estimatedSizeMb: null,
    repositorySizeMb: null,
    sandboxPath: null,
    error: null,
    cloneAttempts: 0,
    startedAt,
    updatedAt: startedAt,
  };
  const update = (patch: Partial<ConnectRepositoryState>) => {
    Object.assign(state, patch, { updatedAt: new Date().toISOString() });
    if (patch.cloneStatus) upsertSearchAttributes([{ key: CLONE_STATUS, value: patch.cloneStatus }]);
  };
  const audit: AuditContext = { correlationId: input.correlationId, requestId: input.requestId, userId: input.userId };
  const ttlMs = input.sandboxTtlSeconds * 1000;
  const repoId = kept?.repoId ?? uuid4();

  let admission: Admission | undefined = kept?.admission;
  let rejection: ApplicationFailure | undefined;
  let cleanupRequested = false;
  let retryRequest: RetryRequest | undefined;
  let retryProbing = false;
  /** A sync asked for that has not started yet: requests while one waits or runs coalesce into it. */
  let pendingSync: SyncRequest | undefined = kept?.pendingSync;
  /** Delivery ids of the webhook syncs taken, latest last. */
  let recentDeliveries: string[] = kept?.recentDeliveries ?? [];
  /** The user's answer to syncs that need attention (`retry`), its new token already encrypted. */
  let attentionRetry: { requestedBy?: string; newToken?: EncryptedToken } | undefined;
  let cloneScope: CancellationScope | undefined;
  let token: EncryptedToken | undefined;
  /** The branch or tag the size check resolved (the default branch's name when none was asked for). */
  let ref = kept ? kept.ref : input.ref;
  // Runs started before admission's quick steps became local activities replay them as activities.
  const admissionSteps = () => (patched(ADMISSION_AS_LOCAL_ACTIVITIES) ? admissionStep : quick);
  const encryptForStorage = (sealedToken: SealedSecret, sealedWebhookSecret?: SealedSecret) =>
    admissionSteps().encryptToken({ sealedToken, ...(sealedWebhookSecret ? { sealedWebhookSecret } : {}), requestId: input.requestId, projectId: input.projectId, repoId });

  const ignore = (signal: string) =>
    quick.recordIgnoredSignal({ repoId: admission ? repoId : null, signal, stage: state.stage, audit });

  setHandler(getStateQuery, () => state);
  setHandler(
    admissionUpdate,
    async () => {
      await condition(() => admission !== undefined || rejection !== undefined);
      if (rejection) throw rejection;
      return admission!;
    },
    {
      // Rejected before it reaches history: a reused request_id with other parameters is the caller's error.
      validator: (fingerprint) => {
        if (!sameFingerprint(fingerprintOf(input), fingerprint)) {
          throw ApplicationFailure.create({
            type: 'idempotency_key_reused',
            message: 'This request_id was already used with different parameters',
            nonRetryable: true,
          });
        }
      },
    },
  );
  setHandler(cloneProgressSignal, (p) => {
    if (state.stage === 'syncing') {
      update({ progressPercent: p.percent, bytesReceived: p.bytes, bytesPerSecond: p.bytesPerSecond ?? null, progressMessage: `Syncing: ${p.stage}` });
      return;
    }
    if (state.stage !== 'cloning') return;
    // Signals sent before the rate existed carry none: null, as for a stage without one.
    update({ progressPercent: 20 + Math.round(p.percent * 0.8), bytesReceived: p.bytes, bytesPerSecond: p.bytesPerSecond ?? null, progressMessage: `Cloning: ${p.stage}` });
  });
  setHandler(cleanupSignal, async () => {
    if (!admission || cleanupRequested || state.stage === 'cleaning' || state.stage === 'done') return ignore('cleanup');
    cleanupRequested = true;
    cloneScope?.cancel();
  });
  setHandler(syncSignal, async (request) => {
    // Before any command: replaying a signal an older worker received (and ignored without one) issues none either.
    if (!patched(SYNC_ON_DEMAND)) return;
    // Asked for while the clone finishes (its row is COMPLETED a moment before this run hears of it): run once it has.
    if (cleanupRequested || !['cloning', 'waiting_for_cleanup', 'syncing'].includes(state.stage)) return ignore('sync');
    // Stopped for the user's attention: a push cannot mend a refused token; the user's own sync (or retry) runs.
    if (state.syncs?.needsAttention && request?.trigger === 'webhook') return ignore('sync');
    const deliveryId = request?.deliveryId;
    if (deliveryId) {
      // Signalled again when the API could not tell that its first signal went through: taken once.
      if (recentDeliveries.includes(deliveryId) && patched(DELIVERY_DEDUPLICATION)) return;
      recentDeliveries = [...recentDeliveries.slice(1 - RECENT_DELIVERIES), deliveryId];
    }
    if (pendingSync && patched(USER_SYNC_KEPT)) pendingSync = mergeSyncRequests(pendingSync, request ?? {});
    else pendingSync ??= request ?? {};
  });
  const retryable = () => state.stage === 'failed' && admission !== undefined && !retryRequest && !retryProbing && !cleanupRequested;
  /** Syncs stopped for the user's attention, and no answer under way yet. */
  const attentionRetryable = () =>
    state.syncs?.needsAttention === true && ['waiting_for_cleanup', 'syncing'].includes(state.stage) && !attentionRetry && !retryProbing && !cleanupRequested;
  setHandler(retrySignal, async (request) => {
    if (!retryable()) return ignore('retry');
    retryRequest = request ?? {};
  });
  setHandler(retryUpdate, async (request) => {
    // The row turns FAILED (or needs attention) a moment before this run's state says so. (Waiting out a sync too
    // needs no patch: before syncs could need attention the API sent no retry to a COMPLETED row.)
    const waitOutSync = state.stage === 'syncing' && patched(RETRY_WAITS_OUT_SYNC);
    await condition(() => state.stage !== 'cloning' && !(waitOutSync && state.stage === 'syncing'), '10 seconds');
    if (attentionRetryable()) {
      // Encrypted here, so a token that cannot be is refused to the caller, not lost in the run.
      retryProbing = true;
      try {
        const newToken = request?.sealedToken ? await encryptForStorage(request.sealedToken) : undefined;
        attentionRetry = { ...(request?.requestedBy ? { requestedBy: request.requestedBy } : {}), ...(newToken ? { newToken } : {}) };
      } catch (err) {
        throw asApplicationFailure(failureOf(err));
      } finally {
        retryProbing = false;
      }
      return { accepted: true as const };
    }
    if (!retryable()) {
      await ignore('retry');
      throw ApplicationFailure.create({ type: 'invalid_state', message: 'Only a FAILED repository, or one whose syncs need attention, can be retried', nonRetryable: true });
    }
    // Too large before: probe again first, so a repository still over the limit is refused at once, not downloaded again.
    if (state.error?.code === 'repository_too_large') {
      retryProbing = true;
      try {
        const probeToken = request?.sealedToken ? await encryptForStorage(request.sealedToken) : token!;
        const size = await recheckRepositorySize({ ...probeToken, gitUrl: input.gitUrl, projectId: input.projectId, repoId, requestId: input.requestId, ...(ref === undefined ? {} : { ref }) });
        update({ estimatedSizeMb: size.estimatedSizeMb });
      } catch (err) {
        throw asApplicationFailure(failureOf(err));
      } finally {
        retryProbing = false;
      }
    }
    retryRequest = request ?? {};
    return { accepted: true as const };
  });

  const fail = (failure: Failure) => {
    update({ stage: 'failed', error: { code: failure.code, message: failure.message }, progressMessage: null, progressPercent: 0, bytesReceived: null, bytesPerSecond: null });
    return asApplicationFailure(failure);
  };
  const finish = async <T>(outcome: T): Promise<T> => {
    await condition(allHandlersFinished);
    return outcome;
  };

  upsertSearchAttributes([
    { key: PROJECT_ID, value: input.projectId },
    { key: REPO_ID, value: repoId },
  ]);

  let hostTaskQueue: string | undefined;
  let probeHost: string | undefined;
  /** The first attempt goes to the host that kept admission's probe, to deepen it; later ones, or if that host is busy, to any. */
  const cloneOnce = async (cloneInput: Parameters<typeof cloneRepository>[0]) => {
    const host = probeHost;
    probeHost = undefined;
    if (host) {
      try {
        return await cloneOnHost(host)(cloneInput);
      } catch (err) {
        if (!notPickedUp(err)) throw err;
      }
    }
    return cloneRepository(cloneInput);
  };
  /** CLEANING at once (from the shared queue), then the files removed on the host that holds them. */
  const cleanUp = async (reason: 'signal' | 'ttl' | 'cancelled') => {
    update({ stage: 'cleaning', cloneStatus: 'CLEANING', progressMessage: 'Removing the sandbox' });
    await quick.markRepositoryCleaning({ repoId, audit, reason });
    try {
      await (hostTaskQueue ? onHost(hostTaskQueue) : onAnyHost).cleanupSandbox({ repoId, projectId: input.projectId, audit, reason });
    } catch (err) {
      // No worker of that host took the task at all: the host is gone. Settle the row here; its sweep removes the files when it returns.
      if (!notPickedUp(err)) throw err;
      await onAnyHost.cleanupSandbox({ repoId, projectId: input.projectId, audit, reason: 'host_lost' });
    }
    update({ stage: 'done', cloneStatus: 'CLEANED', sandboxPath: null, progressMessage: 'Sandbox removed' });
  };

  const updateSyncs = (patch: Partial<SyncSummary>) => {
    if (state.syncs) update({ syncs: { ...state.syncs, ...patch } });
  };

  /**
   * Fetches the ref's new commits into the clone on its host; a failure keeps the previous checkout,
   * and the repository usable. With bounds (`failureLimit`), the failure that reaches the limit (or
   * any the Git server refuses the token with) stops the syncs that run by themselves.
   */
  /** A service-failed sync to run again, and when; service failures in a row. */
  let serviceRetry: { at: number; request: SyncRequest } | undefined = kept?.serviceRetry && { at: Date.parse(kept.serviceRetry.at), request: kept.serviceRetry.request };
  let serviceFailures = kept?.serviceRetry?.failures ?? 0;
  const sync = async (request: SyncRequest, failureLimit: number | null) => {
    pendingSync = undefined;
    serviceRetry = undefined;
    const origin = { ...(request.trigger ? { trigger: request.trigger } : {}), ...(request.deliveryId ? { deliveryId: request.deliveryId } : {}) };
    const syncAudit = request.requestedBy || request.trigger ? { ...audit, userId: requesterOf(request, audit.userId) } : audit;
    update({ stage: 'syncing', progressPercent: 0, progressMessage: 'Syncing', bytesReceived: null, bytesPerSecond: null });
    updateSyncs({ lastTrigger: request.trigger ?? 'api', nextSyncAt: null });
    try {
      cloneScope = new CancellationScope();
      const queue = patched(SYNCS_ON_OWN_SLOTS) ? syncQueueOf(hostTaskQueue!) : hostTaskQueue!;
      const synced = await cloneScope.run(() => syncOnHost(queue)({ repoId, projectId: input.projectId, gitUrl: input.gitUrl, audit: syncAudit, ...origin, ...(request.after ? { after: request.after } : {}) }));
      serviceFailures = 0;
      update({
        stage: 'waiting_for_cleanup',
        progressPercent: 100,
        progressMessage: synced.changed ? 'Synced; kept until cleanup' : 'Already up to date; kept until cleanup',
        repositorySizeMb: synced.repositorySizeMb,
        bytesReceived: synced.bytesReceived,
        bytesPerSecond: null,
        error: null,
      });
      if (state.syncs) updateSyncs({ count: state.syncs.count + 1, consecutiveFailures: 0, needsAttention: false });
    } catch (err) {
      if (isCancellation(err)) {
        if (cleanupRequested) return;
        throw err;
      }
      const failure = notPickedUp(err) ? { code: 'internal_error', message: 'No worker of the clone\'s host took the sync in time' } : failureOf(err);
      if (isServiceFailure(failure) && patched(SERVICE_FAILURES_RETRIED)) return serviceFailed(request, failure, origin, syncAudit, failureLimit !== null);
      const failures = (state.syncs?.consecutiveFailures ?? 0) + 1;
      // Paused already (a sync the user asked for failed again): the row keeps saying what to do.
      const needsAttention = failureLimit !== null && (state.syncs?.needsAttention === true || failure.code === 'invalid_credentials' || failures >= failureLimit);
      const message = needsAttention ? attentionMessage(failure, failures, repoId) : failure.message;
      await keptRow.markSyncFailed({ repoId, errorCode: failure.code, errorMessage: message, audit: syncAudit, ...origin, ...(needsAttention ? { needsAttention } : {}) });
      update({ stage: 'waiting_for_cleanup', progressPercent: 100, progressMessage: failure.details?.checkout_restored === false ? 'Sync failed; the checkout could not be restored' : 'Sync failed; the previous commit is kept', bytesReceived: null, bytesPerSecond: null, error: { code: failure.code, message } });
      if (state.syncs) updateSyncs({ count: state.syncs.count + 1, consecutiveFailures: failures, needsAttention });
      // A push that came during this sync would fail as it did: paused, pushes are not acted on.
      // (Read through a cast: TypeScript cannot see the signal handler set it while this sync ran.)
      if (needsAttention && (pendingSync as SyncRequest | undefined)?.trigger === 'webhook') pendingSync = undefined;
    } finally {
      cloneScope = undefined;
    }
  };
  /** Not the repository's failure: the count toward the pause stays, and the same request runs again after a backoff. */
  const serviceFailed = async (request: SyncRequest, failure: Failure, origin: { trigger?: SyncRequest['trigger']; deliveryId?: string }, syncAudit: AuditContext, scheduling: boolean) => {
    serviceFailures += 1;
    const retryInMs = serviceRetryDelayMs(serviceFailures, scheduling);
    const message = serviceFailureMessage(failure, retryInMs);
    await keptRow.markSyncFailed({ repoId, errorCode: failure.code, errorMessage: message, audit: syncAudit, ...origin, ...(state.syncs?.needsAttention ? { needsAttention: true } : {}) });
    update({ stage: 'waiting_for_cleanup', progressPercent: 100, progressMessage: 'Sync failed on the service\'s side; the previous commit is kept', bytesReceived: null, bytesPerSecond: null, error: { code: failure.code, message } });
    if (state.syncs) updateSyncs({ count: state.syncs.count + 1 });
    if (retryInMs !== null) serviceRetry = { at: Date.now() + retryInMs, request };
  };

  try {
    return await (kept ? keepAgain() : connect());
  } catch (err) {
    // Cancelled ("Request Cancellation" in the Web UI, or by the API): whatever was made is removed, and the row ends CLEANED.
    if (isCancellation(err)) {
      rejection ??= ApplicationFailure.create({ type: 'cancelled', message: 'The connection was cancelled', nonRetryable: true });
      await CancellationScope.nonCancellable(() => cleanUp('cancelled'));
    }
    throw err;
  }

  async function connect(): Promise<ConnectRepositoryResult> {
    // Admission: nothing is persisted unless the token is encrypted and the size check passes.
    try {
      // The webhook secret rides in the same step (no new command: open runs replay as before), and only to the row.
      const { webhookSecret, ...encrypted } = await encryptForStorage(input.sealedToken, input.sealedWebhookSecret);
      token = encrypted;
      update({ stage: 'checking_size', progressPercent: 5, progressMessage: 'Checking the repository size' });
      const size = await checkRepositorySize({ ...encrypted, gitUrl: input.gitUrl, projectId: input.projectId, repoId, requestId: input.requestId, keepForClone: true, ...(ref === undefined ? {} : { ref }) });
      probeHost = size.probeHostTaskQueue;
      ref = size.ref;
      update({ stage: 'persisting', progressPercent: 15, progressMessage: 'Recording the repository', estimatedSizeMb: size.estimatedSizeMb });
      // Once the row may exist, a cancellation must not leave before knowing: cleanup then finds it.
      const persisted = await CancellationScope.nonCancellable(() => admissionSteps().persistRepository({
        ...encrypted,
        ...(webhookSecret ? { webhookSecret } : {}),
        repoId,
        requestId: input.requestId,
        projectId: input.projectId,
        gitUrl: input.gitUrl,
        workflowId: workflowInfo().workflowId,
        runId: workflowInfo().runId,
        requestFingerprint: input.requestFingerprint,
        estimatedSizeMb: size.estimatedSizeMb,
        ...(ref === undefined ? {} : { ref }),
        ...(input.syncIntervalSeconds === undefined ? {} : { syncIntervalSeconds: input.syncIntervalSeconds }),
        audit,
      }));
      // Echoed, still sealed, for the API's answer: the one place the secret is shown.
      admission = input.sealedWebhookSecret ? { ...persisted, sealedWebhookSecret: input.sealedWebhookSecret } : persisted;
      update({ repoId, cloneStatus: 'PENDING', progressPercent: 20, progressMessage: 'Queued for cloning' });
    } catch (err) {
      if (isCancellation(err)) throw err;
      rejection = fail(failureOf(err));
      throw await finish(rejection);
    }

    // Clone, and on failure wait for a retry (or cleanup) for up to the TTL.
    let sweptForDisk = false;
    while (!cleanupRequested && !hostTaskQueue) {
      update({ stage: 'cloning', cloneStatus: 'CLONING', progressMessage: 'Cloning', cloneAttempts: state.cloneAttempts + 1, error: null });
      try {
        cloneScope = new CancellationScope();
        const cloned = await cloneScope.run(() => cloneOnce({ repoId, projectId: input.projectId, gitUrl: input.gitUrl, audit }));
        hostTaskQueue = cloned.hostTaskQueue;
        update({
          stage: 'waiting_for_cleanup',
          cloneStatus: 'COMPLETED',
          progressPercent: 100,
          progressMessage: 'Cloned; kept until cleanup',
          repositorySizeMb: cloned.repositorySizeMb,
          sandboxPath: cloned.sandboxPath,
          // What the clone received; results recorded before it was reported carry none.
          bytesReceived: cloned.bytesReceived ?? null,
          bytesPerSecond: null,
        });
      } catch (err) {
        if (cleanupRequested && isCancellation(err)) break;
        if (isCancellation(err)) throw err;
        const failure = failureOf(err);
        const diskHost = failure.details?.host_task_queue;
        if (failure.code === 'insufficient_storage' && !sweptForDisk && typeof diskHost === 'string') {
          sweptForDisk = true;
          await onHost(diskHost).sweepSandboxes({ expired: true });
          continue;
        }
        await quick.markRepositoryFailed({ repoId, errorCode: failure.code, errorMessage: failure.message, audit });
        const failed = fail(failure);
        update({ cloneStatus: 'FAILED' });
        await condition(() => retryRequest !== undefined || cleanupRequested, ttlMs);
        // A retry's probe still under way when the TTL ran out is let finish: its caller is waiting for the answer.
        await condition(() => !retryProbing);
        if (cleanupRequested) break;
        if (!retryRequest) throw await finish(failed);
        const request = retryRequest!;
        retryRequest = undefined;
        if (request.sealedToken) {
          token = await encryptForStorage(request.sealedToken);
        }
        await quick.resetRepositoryForRetry({ repoId, ...(request.sealedToken ? { newToken: token } : {}), audit });
        update({ cloneStatus: 'PENDING', error: null, progressPercent: 20, progressMessage: 'Queued for cloning again' });
      } finally {
        cloneScope = undefined;
      }
    }

    return keep(Date.now() + ttlMs);
  }

  /** A continued run: the earlier run's search attributes set again (the test server does not carry them), then its kept phase. */
  async function keepAgain(): Promise<ConnectRepositoryResult> {
    upsertSearchAttributes([{ key: CLONE_STATUS, value: state.cloneStatus ?? 'COMPLETED' }]);
    hostTaskQueue = kept!.hostTaskQueue;
    updateSyncs({ continuedAsNew: state.syncs!.continuedAsNew + 1 });
    return keep(Date.parse(kept!.keptUntil));
  }

  /**
   * The next run's input: this one's, with the kept phase to pick up. No secret goes on: a continued run never
   * admits (the row holds the token, and the webhook secret, that syncs use), so the sealed copies stay in the
   * first run's history alone, gone with it at the namespace's retention.
   */
  function continuation(keptUntil: number, scheduledAt: number | undefined): ConnectRepositoryInput {
    const { sealedWebhookSecret: _secret, ...firstAnswer } = admission!;
    const { sealedWebhookSecret: _sealed, ...rest } = input;
    return {
      ...rest,
      sealedToken: CONTINUED_RUN_TOKEN,
      kept: {
        repoId,
        admission: firstAnswer,
        hostTaskQueue: hostTaskQueue!,
        ...(ref === undefined ? {} : { ref }),
        state: { ...state, syncs: { ...state.syncs!, nextSyncAt: scheduledAt === undefined ? null : new Date(scheduledAt).toISOString() } },
        keptUntil: new Date(keptUntil).toISOString(),
        ...(pendingSync ? { pendingSync } : {}),
        ...(serviceRetry ? { serviceRetry: { at: new Date(serviceRetry.at).toISOString(), request: serviceRetry.request, failures: serviceFailures } } : {}),
        ...(recentDeliveries.length > 0 ? { recentDeliveries } : {}),
      },
    };
  }

  /**
   * The clone is kept until `keptUntil` (the TTL), which every sync starts again; meanwhile syncs run
   * when asked for, on push, and on the schedule. Past SYNCS_PER_RUN syncs (or when Temporal suggests
   * it) the run continues as new, carrying the kept phase on, so its history stays bounded.
   */
  async function keep(keptUntil: number): Promise<ConnectRepositoryResult> {
    // Runs that reached this phase before schedules and bounds existed wait exactly as they did.
    const bounded = patched(SYNC_SCHEDULE_AND_BOUNDS);
    const intervalMs = bounded && input.syncIntervalSeconds ? input.syncIntervalSeconds * 1000 : null;
    const failureLimit = bounded ? input.syncFailureLimit ?? DEFAULT_SYNC_FAILURE_LIMIT : null;
    const syncsPerRun = input.syncsPerRun ?? DEFAULT_SYNCS_PER_RUN;
    if (bounded && !state.syncs) {
      state.syncs = { count: 0, consecutiveFailures: 0, needsAttention: false, intervalSeconds: input.syncIntervalSeconds ?? null, nextSyncAt: null, lastTrigger: null, continuedAsNew: 0 };
    }
    const carriedNext = kept && state.syncs?.nextSyncAt ? Date.parse(state.syncs.nextSyncAt) : undefined;
    let scheduledAt = intervalMs === null ? undefined : carriedNext ?? Date.now() + intervalMs;
    let syncsThisRun = 0;
    /** Past SYNCS_PER_RUN syncs, or when Temporal suggests it (a paused repository's ignored pushes add up too). */
    const runIsFull = () => bounded && (syncsThisRun >= syncsPerRun || workflowInfo().continueAsNewSuggested);
    while (!cleanupRequested) {
      if (runIsFull()) {
        // Handlers under way (a retry's encryption) finish first; a sync they leave pending is carried on, a retry answered here.
        await condition(allHandlersFinished);
        if (!cleanupRequested && !attentionRetry) return continueAsNew<typeof connectRepository>(continuation(keptUntil, scheduledAt));
      }
      const scheduled = state.syncs?.needsAttention ? undefined : scheduledAt;
      updateSyncs({ nextSyncAt: scheduled === undefined ? null : new Date(scheduled).toISOString() });
      const wait = Math.min(keptUntil, scheduled ?? Infinity, serviceRetry?.at ?? Infinity) - Date.now();
      const woke = wait > 0 && (await condition(() => cleanupRequested || pendingSync !== undefined || attentionRetry !== undefined || runIsFull(), wait));
      if (cleanupRequested) break;
      if (!pendingSync && !attentionRetry) {
        // Unbounded runs wake for nothing else: the TTL ran out.
        if (!bounded) break;
        if (woke) continue;
        if (serviceRetry && Date.now() >= serviceRetry.at) pendingSync = serviceRetry.request;
        // The schedule first: an interval equal to the TTL syncs (and so keeps the clone), it does not clean up.
        else if (scheduled !== undefined && Date.now() >= scheduled) pendingSync = { trigger: 'schedule' };
        else if (Date.now() >= keptUntil) break;
        else continue;
      }
      if (attentionRetry) {
        const answer = attentionRetry;
        attentionRetry = undefined;
        await keptRow.resumeSyncs({ repoId, ...(answer.newToken ? { newToken: answer.newToken } : {}), audit: answer.requestedBy ? { ...audit, userId: answer.requestedBy } : audit });
        updateSyncs({ needsAttention: false, consecutiveFailures: 0 });
        update({ error: null });
        // At once, with the new token: the user learns now whether it works.
        pendingSync ??= { trigger: 'api', ...(answer.requestedBy ? { requestedBy: answer.requestedBy } : {}) };
      }
      await sync(pendingSync!, failureLimit);
      keptUntil = Date.now() + ttlMs;
      if (intervalMs !== null) scheduledAt = Date.now() + intervalMs;
      syncsThisRun += 1;
    }
    await cleanUp(cleanupRequested ? 'signal' : 'ttl');
    return finish({ repoId, cloneStatus: 'CLEANED' as const, repositorySizeMb: state.repositorySizeMb });
  }
}
