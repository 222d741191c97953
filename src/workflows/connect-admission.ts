import { CancellationScope, isCancellation, workflowInfo } from '@temporalio/workflow';
import type { NewConnectInput } from '../shared/connect-repository.js';
import type { ConnectRun } from './connect-run.js';
import { failureOf } from './failures.js';

/**
 * Admission: the token encrypted, the size checked, the row recorded (the API's answer is ready here).
 * Nothing is persisted unless the token is encrypted and the size check passes; a refusal ends the run.
 */
export async function admit(run: ConnectRun, input: NewConnectInput): Promise<void> {
  try {
    await admitOrThrow(run, input);
  } catch (err) {
    if (isCancellation(err)) throw err;
    run.rejection = run.fail(failureOf(err));
    throw await run.finish(run.rejection);
  }
}

async function admitOrThrow(run: ConnectRun, input: NewConnectInput): Promise<void> {
  const { repoId } = run;
  const { gitUrl, projectId, requestId } = input;
  // The webhook secret rides in the same step as the token, and goes only to the row.
  const { webhookSecret, ...encrypted } = await run.encryptForStorage(input.sealedToken, input.sealedWebhookSecret);
  run.token = encrypted;
  run.update({ stage: 'checking_size', progressPercent: 5, progressMessage: 'Checking the repository size' });
  const askedRef = run.ref === undefined ? {} : { ref: run.ref };
  const probe = { ...encrypted, gitUrl, projectId, repoId, requestId, keepForClone: true, ...askedRef };
  const size = await run.steps.checkRepositorySize(probe);
  run.probeHost = size.probeHostTaskQueue;
  run.ref = size.ref;
  const { estimatedSizeMb } = size;
  const progressMessage = 'Recording the repository';
  run.update({ stage: 'persisting', progressPercent: 15, progressMessage, estimatedSizeMb });
  // Once the row may exist, a cancellation must not leave before knowing: cleanup then finds it.
  const persisted = await CancellationScope.nonCancellable(() =>
    run.admissionSteps().persistRepository({
      ...encrypted,
      ...(webhookSecret ? { webhookSecret } : {}),
      repoId,
      requestId,
      projectId,
      gitUrl,
      workflowId: workflowInfo().workflowId,
      runId: workflowInfo().runId,
      requestFingerprint: input.requestFingerprint,
      estimatedSizeMb: size.estimatedSizeMb,
      ...(run.ref === undefined ? {} : { ref: run.ref }),
      ...(input.syncIntervalSeconds === undefined ? {} : { syncIntervalSeconds: input.syncIntervalSeconds }),
      audit: run.audit,
    }),
  );
  // Echoed, still sealed, for the API's answer: the one place the secret is shown.
  const { sealedWebhookSecret } = input;
  run.admission = sealedWebhookSecret ? { ...persisted, sealedWebhookSecret } : persisted;
  run.update({ repoId, cloneStatus: 'PENDING', progressPercent: 20, progressMessage: 'Queued for cloning' });
}
