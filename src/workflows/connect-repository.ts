// Open runs replay this code: change what it does only behind patched() (docs, "Changing the workflow").
import { ApplicationFailure, CancellationScope, isCancellation, upsertSearchAttributes } from '@temporalio/workflow';
import { isContinuedRun, type ConnectRepositoryInput, type NewConnectInput } from '../shared/connect-repository.js';
import { PROJECT_ID, REPO_ID } from '../shared/search-attributes.js';
import { admit } from './connect-admission.js';
import { cleanUp } from './connect-cleanup.js';
import { cloneUntilKept } from './connect-clone.js';
import { registerHandlers } from './connect-handlers.js';
import { keepClone, resumeKeptPhase } from './connect-kept.js';
import { ConnectRun, type ConnectRepositoryResult } from './connect-run.js';

export type { ConnectRepositoryResult } from './connect-run.js';

/**
 * Connects one repository: encrypt the token, check the size, record the row (the API's answer
 * is ready here), clone into the sandbox under an enforced budget, keep it for the TTL, then
 * clean up on the host that holds the files. Only the token's ciphertext leaves the first step.
 */
export async function connectRepository(input: ConnectRepositoryInput): Promise<ConnectRepositoryResult> {
  const run = new ConnectRun(input);
  registerHandlers(run);
  upsertSearchAttributes([
    { key: PROJECT_ID, value: input.projectId },
    { key: REPO_ID, value: run.repoId },
  ]);
  try {
    return await (isContinuedRun(input) ? resumeKeptPhase(run, input.kept) : connect(run, input));
  } catch (err) {
    // Cancelled (in the Web UI, or by the API): whatever was made is removed, and the row ends CLEANED.
    if (isCancellation(err)) {
      const message = 'The connection was cancelled';
      run.rejection ??= ApplicationFailure.create({ type: 'cancelled', message, nonRetryable: true });
      await CancellationScope.nonCancellable(() => cleanUp(run, 'cancelled'));
    }
    throw err;
  }
}

/** A new connect: admitted, cloned, then kept for the TTL. */
async function connect(run: ConnectRun, input: NewConnectInput): Promise<ConnectRepositoryResult> {
  await admit(run, input);
  await cloneUntilKept(run);
  return keepClone(run, Date.now() + run.ttlMs);
}
