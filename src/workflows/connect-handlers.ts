import { ApplicationFailure, condition, patched, setHandler } from '@temporalio/workflow';
import {
  admissionUpdate,
  cleanupSignal,
  cloneProgressSignal,
  fingerprintOf,
  type RequestFingerprint,
  getStateQuery,
  retrySignal,
  retryUpdate,
  sameFingerprint,
  syncSignal,
  type CloneProgress,
  type RetryRequest,
  type SyncRequest,
} from '../shared/connect-repository.js';
import { NOT_RETRYABLE_MESSAGE } from '../shared/repo-eligibility.js';
import { acceptsSync, mergeSyncRequests, rememberDelivery } from './connect-rules.js';
import type { ConnectRun } from './connect-run.js';
import { asApplicationFailure, failureOf } from './failures.js';
import { DELIVERY_DEDUPLICATION, RETRY_WAITS_OUT_SYNC, SYNC_ON_DEMAND, USER_SYNC_KEPT } from './patches.js';

/** Registers the run's queries, signals and updates, in this order (buffered signals are delivered as each is set). */
export function registerHandlers(run: ConnectRun): void {
  setHandler(getStateQuery, () => run.state);
  setHandler(admissionUpdate, () => answerAdmission(run), {
    // Rejected before it reaches history: a reused request_id with other parameters is the caller's error.
    validator: (fingerprint: RequestFingerprint) => {
      if (!sameFingerprint(fingerprintOf(run.input), fingerprint)) {
        throw ApplicationFailure.create({
          type: 'idempotency_key_reused',
          message: 'This request_id was already used with different parameters',
          nonRetryable: true,
        });
      }
    },
  });
  setHandler(cloneProgressSignal, (progress) => showProgress(run, progress));
  setHandler(cleanupSignal, async () => {
    const { stage } = run.state;
    const ended = stage === 'cleaning' || stage === 'done';
    if (!run.admission || run.cleanupRequested || ended) return run.ignore('cleanup');
    run.cleanupRequested = true;
    run.cloneScope?.cancel();
  });
  setHandler(syncSignal, (request) => takeSync(run, request));
  setHandler(retrySignal, async (request) => {
    if (!canRetryClone(run)) return run.ignore('retry');
    run.retryRequest = request ?? {};
  });
  setHandler(retryUpdate, (request) => takeRetry(run, request));
}

async function answerAdmission(run: ConnectRun) {
  await condition(() => run.admission !== undefined || run.rejection !== undefined);
  if (run.rejection) throw run.rejection;
  return run.admission!;
}

function showProgress(run: ConnectRun, p: CloneProgress): void {
  const progress = { bytesReceived: p.bytes, bytesPerSecond: p.bytesPerSecond ?? null };
  if (run.state.stage === 'syncing') {
    run.update({ progressPercent: p.percent, ...progress, progressMessage: `Syncing: ${p.stage}` });
  } else if (run.state.stage === 'cloning') {
    const progressPercent = 20 + Math.round(p.percent * 0.8);
    run.update({ progressPercent, ...progress, progressMessage: `Cloning: ${p.stage}` });
  }
}

async function takeSync(run: ConnectRun, request: SyncRequest | undefined): Promise<void> {
  // Before any command: replaying a signal a worker without syncs received (and ignored) issues none either.
  if (!patched(SYNC_ON_DEMAND)) return;
  // Taken while the clone finishes (its row is COMPLETED a moment before this run hears of it); no push while paused.
  const paused = run.state.syncs?.needsAttention === true;
  if (!acceptsSync(run.state.stage, run.cleanupRequested, paused, request)) return run.ignore('sync');
  const deliveryId = request?.deliveryId;
  if (deliveryId) {
    // Signalled again when the API could not tell that its first signal went through: taken once.
    if (run.recentDeliveries.includes(deliveryId) && patched(DELIVERY_DEDUPLICATION)) return;
    run.recentDeliveries = rememberDelivery(run.recentDeliveries, deliveryId);
  }
  if (run.pendingSync && patched(USER_SYNC_KEPT)) run.pendingSync = mergeSyncRequests(run.pendingSync, request ?? {});
  else run.pendingSync ??= request ?? {};
}

const canRetryClone = (run: ConnectRun): boolean =>
  run.state.stage === 'failed' &&
  run.admission !== undefined &&
  !run.retryRequest &&
  !run.retryProbing &&
  !run.cleanupRequested;

/** Syncs stopped for the user's attention, and no answer under way yet. */
const canAnswerAttention = (run: ConnectRun): boolean =>
  run.state.syncs?.needsAttention === true &&
  ['ready', 'syncing'].includes(run.state.stage) &&
  !run.attentionAnswer &&
  !run.retryProbing &&
  !run.cleanupRequested;

async function takeRetry(run: ConnectRun, request: RetryRequest) {
  // The row turns FAILED (or needs attention) a moment before this run's state says so.
  const waitOutSync = run.state.stage === 'syncing' && patched(RETRY_WAITS_OUT_SYNC);
  await condition(() => run.state.stage !== 'cloning' && !(waitOutSync && run.state.stage === 'syncing'), '10 seconds');
  if (canAnswerAttention(run)) {
    // Encrypted here, so a token that cannot be is refused to the caller, not lost in the run.
    await probing(run, async () => {
      const newToken = request?.sealedToken ? await run.encryptForStorage(request.sealedToken) : undefined;
      const requestedBy = request?.requestedBy ? { requestedBy: request.requestedBy } : {};
      run.attentionAnswer = { ...requestedBy, ...(newToken ? { newToken } : {}) };
    });
    return { accepted: true as const };
  }
  if (!canRetryClone(run)) {
    await run.ignore('retry');
    throw ApplicationFailure.create({ type: 'invalid_state', message: NOT_RETRYABLE_MESSAGE, nonRetryable: true });
  }
  // Too large before: probe again first, so a repository still over the limit is refused at once, not downloaded again.
  if (run.state.error?.code === 'repository_too_large') await probing(run, () => probeSizeAgain(run, request));
  run.retryRequest = request ?? {};
  return { accepted: true as const };
}

/** Runs a retry's step with `retryProbing` set; its failure is the caller's answer. */
async function probing<T>(run: ConnectRun, step: () => Promise<T>): Promise<T> {
  run.retryProbing = true;
  try {
    return await step();
  } catch (err) {
    throw asApplicationFailure(failureOf(err));
  } finally {
    run.retryProbing = false;
  }
}

async function probeSizeAgain(run: ConnectRun, request: RetryRequest): Promise<void> {
  const { gitUrl, projectId, requestId } = run.input;
  const probeToken = request?.sealedToken ? await run.encryptForStorage(request.sealedToken) : run.token!;
  const ref = run.ref === undefined ? {} : { ref: run.ref };
  const probe = { ...probeToken, gitUrl, projectId, repoId: run.repoId, requestId, ...ref };
  const size = await run.steps.recheckRepositorySize(probe);
  run.update({ estimatedSizeMb: size.estimatedSizeMb });
}
