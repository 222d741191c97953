// Open runs replay this code: change what it does only behind patched() (README, "Changing the workflow"); test/replay checks.
import {
  ApplicationFailure,
  CancellationScope,
  allHandlersFinished,
  condition,
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
  type SealedSecret,
} from '../shared/connect-repository.js';
import type { CloneStatus } from '../shared/repo-status.js';
import { CLONE_STATUS, PROJECT_ID, REPO_ID } from '../shared/search-attributes.js';
import { activitiesFor } from './activity-proxies.js';
import { asApplicationFailure, failureOf, notPickedUp, type Failure } from './failures.js';


/** Patch: encryptToken and persistRepository as local activities (2026-11-26). */
const ADMISSION_AS_LOCAL_ACTIVITIES = 'admission-local-activities';
/** Syncs on demand: a run whose history lacks the marker heard sync signals on a worker without them, which did nothing. */
const SYNC_ON_DEMAND = 'sync-on-demand';

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
  const { quick, admissionStep, checkRepositorySize, recheckRepositorySize, cloneRepository, cloneOnHost, syncOnHost, onHost, onAnyHost } = activitiesFor(workflowInfo().taskQueue);
  const startedAt = new Date().toISOString();
  const state: ConnectRepositoryState = {
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
  const repoId = uuid4();

  let admission: Admission | undefined;
  let rejection: ApplicationFailure | undefined;
  let cleanupRequested = false;
  let retryRequest: RetryRequest | undefined;
  let retryProbing = false;
  /** A sync was asked for and has not started yet: requests while one waits or runs coalesce here. */
  let syncRequested = false;
  let cloneScope: CancellationScope | undefined;
  let token: EncryptedToken | undefined;
  /** The branch or tag the size check resolved (the default branch's name when none was asked for). */
  let ref = input.ref;
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
  setHandler(syncSignal, async () => {
    // Before any command: replaying a signal an older worker received (and ignored without one) issues none either.
    if (!patched(SYNC_ON_DEMAND)) return;
    // Asked for while the clone finishes (its row is COMPLETED a moment before this run hears of it): run once it has.
    if (cleanupRequested || !['cloning', 'waiting_for_cleanup', 'syncing'].includes(state.stage)) return ignore('sync');
    syncRequested = true;
  });
  const retryable = () => state.stage === 'failed' && admission !== undefined && !retryRequest && !retryProbing && !cleanupRequested;
  setHandler(retrySignal, async (request) => {
    if (!retryable()) return ignore('retry');
    retryRequest = request ?? {};
  });
  setHandler(retryUpdate, async (request) => {
    // The row turns FAILED a moment before this run's stage does.
    await condition(() => state.stage !== 'cloning', '10 seconds');
    if (!retryable()) {
      await ignore('retry');
      throw ApplicationFailure.create({ type: 'invalid_state', message: 'Only a FAILED repository can be retried', nonRetryable: true });
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

  /** Fetches the ref's new commits into the clone on its host; a failure keeps the previous checkout, and the repository usable. */
  const sync = async () => {
    syncRequested = false;
    update({ stage: 'syncing', progressPercent: 0, progressMessage: 'Syncing', bytesReceived: null, bytesPerSecond: null });
    try {
      cloneScope = new CancellationScope();
      const synced = await cloneScope.run(() => syncOnHost(hostTaskQueue!)({ repoId, projectId: input.projectId, gitUrl: input.gitUrl, audit }));
      update({
        stage: 'waiting_for_cleanup',
        progressPercent: 100,
        progressMessage: synced.changed ? 'Synced; kept until cleanup' : 'Already up to date; kept until cleanup',
        repositorySizeMb: synced.repositorySizeMb,
        bytesReceived: synced.bytesReceived,
        bytesPerSecond: null,
        error: null,
      });
    } catch (err) {
      if (isCancellation(err)) {
        if (cleanupRequested) return;
        throw err;
      }
      const failure = failureOf(err);
      await quick.markSyncFailed({ repoId, errorCode: failure.code, errorMessage: failure.message, audit });
      update({ stage: 'waiting_for_cleanup', progressPercent: 100, progressMessage: failure.details?.checkout_restored === false ? 'Sync failed; the checkout could not be restored' : 'Sync failed; the previous commit is kept', bytesReceived: null, bytesPerSecond: null, error: { code: failure.code, message: failure.message } });
    } finally {
      cloneScope = undefined;
    }
  };

  try {
    return await connect();
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

    // Kept for the TTL, which every sync starts again. Runs without a sync wait exactly as before syncs existed.
    while (!cleanupRequested) {
      if (!(await condition(() => cleanupRequested || syncRequested, ttlMs)) || cleanupRequested) break;
      await sync();
    }
    await cleanUp(cleanupRequested ? 'signal' : 'ttl');
    return finish({ repoId, cloneStatus: 'CLEANED' as const, repositorySizeMb: state.repositorySizeMb });
  }
}
