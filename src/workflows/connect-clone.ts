import { CancellationScope, condition, isCancellation } from '@temporalio/workflow';
import type { ConnectRun } from './connect-run.js';
import { failureOf, notPickedUp, type Failure } from './failures.js';

type CloneInput = Parameters<ConnectRun['steps']['cloneRepository']>[0];

/**
 * Clones into the sandbox until the clone is kept or cleanup is asked for; on failure waits for a retry
 * (or cleanup) for up to the TTL, and ends the run failed without one.
 */
export async function cloneUntilKept(run: ConnectRun): Promise<void> {
  const disk = { swept: false };
  while (!run.cleanupRequested && !run.hostTaskQueue) {
    const cloneAttempts = run.state.cloneAttempts + 1;
    run.update({ stage: 'cloning', cloneStatus: 'CLONING', progressMessage: 'Cloning', cloneAttempts, error: null });
    try {
      await cloneOnce(run);
    } catch (err) {
      if (run.cleanupRequested && isCancellation(err)) break;
      if (isCancellation(err)) throw err;
      const failure = failureOf(err);
      if (await sweptForDisk(run, failure, disk)) continue;
      if (!(await retried(run, failure))) break;
    } finally {
      run.cloneScope = undefined;
    }
  }
}

async function cloneOnce(run: ConnectRun): Promise<void> {
  run.cloneScope = new CancellationScope();
  const input = { repoId: run.repoId, projectId: run.input.projectId, gitUrl: run.input.gitUrl, audit: run.audit };
  const cloned = await run.cloneScope.run(() => cloneOnProbeHostFirst(run, input));
  run.hostTaskQueue = cloned.hostTaskQueue;
  run.update({
    stage: 'ready',
    cloneStatus: 'COMPLETED',
    progressPercent: 100,
    progressMessage: 'Cloned; kept until cleanup',
    repositorySizeMb: cloned.repositorySizeMb,
    sandboxPath: cloned.sandboxPath,
    bytesReceived: cloned.bytesReceived ?? null,
    bytesPerSecond: null,
  });
}

/** The first attempt goes to the host that kept admission's probe, to deepen it; later ones (or if busy) to any. */
async function cloneOnProbeHostFirst(run: ConnectRun, input: CloneInput) {
  const host = run.probeHost;
  run.probeHost = undefined;
  if (host) {
    try {
      return await run.steps.cloneOnHost(host)(input);
    } catch (err) {
      if (!notPickedUp(err)) throw err;
    }
  }
  return run.steps.cloneRepository(input);
}

/** A host out of disk sweeps its expired sandboxes once, and the clone is tried again. */
async function sweptForDisk(run: ConnectRun, failure: Failure, disk: { swept: boolean }): Promise<boolean> {
  const diskHost = failure.details?.host_task_queue;
  if (failure.code !== 'insufficient_storage' || disk.swept || typeof diskHost !== 'string') return false;
  disk.swept = true;
  await run.steps.hostFiles(diskHost).sweepSandboxes({ expired: true });
  return true;
}

/** The row and the state FAILED, then a retry waited for: true once one is queued, false on cleanup. */
async function retried(run: ConnectRun, failure: Failure): Promise<boolean> {
  const { repoId, audit } = run;
  const { code: errorCode, message: errorMessage } = failure;
  await run.steps.bookkeeping.markRepositoryFailed({ repoId, errorCode, errorMessage, audit });
  const failed = run.fail(failure);
  run.update({ cloneStatus: 'FAILED' });
  await condition(() => run.retryRequest !== undefined || run.cleanupRequested, run.ttlMs);
  // A retry's probe still under way when the TTL ran out is let finish: its caller is waiting for the answer.
  await condition(() => !run.retryProbing);
  if (run.cleanupRequested) return false;
  if (!run.retryRequest) throw await run.finish(failed);
  const request = run.retryRequest;
  run.retryRequest = undefined;
  if (request.sealedToken) run.token = await run.encryptForStorage(request.sealedToken);
  const newToken = request.sealedToken ? { newToken: run.token } : {};
  await run.steps.bookkeeping.resetRepositoryForRetry({ repoId, ...newToken, audit });
  run.update({ cloneStatus: 'PENDING', error: null, progressPercent: 20, progressMessage: 'Queued for cloning again' });
  return true;
}
