import {
  ApplicationFailure,
  allHandlersFinished,
  condition,
  isCancellation,
  proxyActivities,
  setHandler,
  uuid4,
  workflowInfo,
} from '@temporalio/workflow';
import type { Activities } from '../activities/index.js';
import type { AuditContext } from '../db/repos.js';
import {
  admissionUpdate,
  getStateQuery,
  type Admission,
  type ConnectRepositoryInput,
  type ConnectRepositoryState,
} from '../shared/connect-repository.js';
import { ACTIVITY_OPTIONS } from './activity-options.js';

const { encryptToken, persistRepository, markRepositoryFailed } = proxyActivities<Activities>(ACTIVITY_OPTIONS.quick);
const { cloneRepository } = proxyActivities<Activities>(ACTIVITY_OPTIONS.clone);

export interface ConnectRepositoryResult {
  repoId: string;
  sandboxPath: string;
  repositorySizeMb: number;
}

/** The failure's type and message as the user may see them. */
function describeFailure(err: unknown): { code: string; message: string } {
  let cause: unknown = err;
  while (cause && !(cause instanceof ApplicationFailure) && cause instanceof Error && 'cause' in cause) {
    cause = (cause as { cause?: unknown }).cause;
  }
  if (cause instanceof ApplicationFailure && cause.type) return { code: cause.type, message: cause.message };
  return { code: 'internal_error', message: 'Connecting the repository failed' };
}

/**
 * Connects one repository: encrypt the token, record the row (the API's answer is ready
 * here), clone into the sandbox. Only the ciphertext of the token leaves the first step.
 */
export async function connectRepository(input: ConnectRepositoryInput): Promise<ConnectRepositoryResult> {
  const state: ConnectRepositoryState = {
    stage: 'encrypting',
    repoId: null,
    cloneStatus: null,
    progressPercent: 0,
    progressMessage: 'Encrypting the access token',
    errorCode: null,
    errorMessage: null,
  };
  let admission: Admission | undefined;
  let rejection: ApplicationFailure | undefined;
  setHandler(getStateQuery, () => state);
  setHandler(admissionUpdate, async () => {
    await condition(() => admission !== undefined || rejection !== undefined);
    if (rejection) throw rejection;
    return admission!;
  });

  const audit: AuditContext = { correlationId: input.correlationId, requestId: input.requestId, userId: input.userId };
  const repoId = uuid4();
  const fail = (err: unknown) => {
    const { code, message } = describeFailure(err);
    Object.assign(state, { stage: 'failed', cloneStatus: 'FAILED', errorCode: code, errorMessage: message, progressMessage: null });
    return ApplicationFailure.create({ type: code, message, nonRetryable: true });
  };

  try {
    const token = await encryptToken({ accessToken: input.accessToken, projectId: input.projectId, repoId });
    Object.assign(state, { stage: 'persisting', progressPercent: 10, progressMessage: 'Recording the repository' });
    admission = await persistRepository({
      ...token,
      repoId,
      requestId: input.requestId,
      projectId: input.projectId,
      gitUrl: input.gitUrl,
      workflowId: workflowInfo().workflowId,
      audit,
    });
    Object.assign(state, { stage: 'cloning', repoId, cloneStatus: 'CLONING', progressPercent: 20, progressMessage: 'Cloning' });

    try {
      const cloned = await cloneRepository({ ...token, repoId, projectId: input.projectId, gitUrl: input.gitUrl, audit });
      Object.assign(state, { stage: 'completed', cloneStatus: 'COMPLETED', progressPercent: 100, progressMessage: 'Cloned' });
      await condition(allHandlersFinished);
      return { repoId, ...cloned };
    } catch (err) {
      if (isCancellation(err)) throw err;
      const failure = fail(err);
      await markRepositoryFailed({ repoId, errorCode: failure.type!, errorMessage: failure.message, audit });
      throw failure;
    }
  } catch (err) {
    if (!admission && !isCancellation(err)) rejection = fail(err);
    await condition(allHandlersFinished);
    throw rejection ?? err;
  }
}
