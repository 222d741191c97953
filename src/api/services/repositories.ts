import { WorkflowNotFoundError, WorkflowUpdateFailedError, type Client } from '@temporalio/client';
import type { Logger } from '../../config/logger.js';
import { findOwnedProject } from '../../db/projects.js';
import { settleOrphanedRepo } from '../../db/reconcile.js';
import { disconnectRepo } from '../../db/repo-lifecycle.js';
import { findOwnedRepo, listOwnedRepos, listProjectRepos, type CodeRepo } from '../../db/repos.js';
import { cleanupSignal, retryUpdate, syncSignal } from '../../shared/connect-repository.js';
import { canRetry, canSync, notRetryableMessage, notSyncableMessage } from '../../shared/repo-eligibility.js';
import { createAdmission, rejectionError, type AdmissionOutcome, type ConnectRequest } from '../admission.js';
import type { ApiDeps } from '../deps.js';
import { ApiError } from '../errors.js';

type WorkflowHandle = ReturnType<Client['workflow']['getHandle']>;

/** Runs `send` against the repository's workflow; false when the workflow has already ended. */
export async function toWorkflow(
  temporal: Client,
  repo: CodeRepo,
  send: (handle: WorkflowHandle) => Promise<unknown>,
): Promise<boolean> {
  if (!repo.workflowId) return false;
  try {
    await send(temporal.workflow.getHandle(repo.workflowId));
    return true;
  } catch (err) {
    if (err instanceof WorkflowNotFoundError) return false;
    throw err;
  }
}

export const ended = () => new ApiError(409, 'invalid_state', "The repository's workflow has already ended");
const repoNotFound = () => new ApiError(404, 'not_found', 'Repository not found');
const projectNotFound = () => new ApiError(404, 'project_not_found', 'Project not found');
const disconnected = () => new ApiError(409, 'disconnected', 'The repository was disconnected; connect it again');

/**
 * What a user does to their repositories, whatever carries the request: each action answers the
 * row it acted on, or refuses with the API's error (not the user's, already over, not now).
 */
export function createRepositoryService(deps: Pick<ApiDeps, 'sql' | 'temporal' | 'keys' | 'settings'>) {
  const { sql, temporal } = deps;
  const admission = createAdmission(deps);
  const ownedProject = async (projectId: string, userId: string) => {
    const project = await findOwnedProject(sql, projectId, userId);
    if (!project) throw projectNotFound();
    return project;
  };
  const owned = async (repoId: string, userId: string) => {
    const repo = await findOwnedRepo(sql, repoId, userId);
    if (!repo) throw repoNotFound();
    return repo;
  };
  const toRunningWorkflow = async (repo: CodeRepo, send: (handle: WorkflowHandle) => Promise<unknown>) => {
    if (!(await toWorkflow(temporal, repo, send))) throw ended();
  };

  return {
    async connect(req: ConnectRequest, log: Logger): Promise<AdmissionOutcome> {
      // Ownership first: an answer about an existing request only ever concerns the caller's own project.
      await ownedProject(req.projectId, req.userId);
      return admission.admit(req, log);
    },

    find: owned,

    /** A page of the project's repositories (without one, of all the user's) after the repository `afterId`, oldest first. */
    async list(projectId: string | undefined, userId: string, limit: number, afterId?: string): Promise<CodeRepo[]> {
      if (projectId === undefined) return listOwnedRepos(sql, userId, limit, afterId);
      const project = await ownedProject(projectId, userId);
      return listProjectRepos(sql, project.id, limit, afterId);
    },

    async cleanup(repoId: string, userId: string): Promise<CodeRepo> {
      const repo = await owned(repoId, userId);
      if (repo.cloneStatus === 'CLEANING' || repo.cloneStatus === 'CLEANED') {
        throw new ApiError(409, 'invalid_state', `The repository is already ${repo.cloneStatus}`);
      }
      await toRunningWorkflow(repo, (h) => h.signal(cleanupSignal, { requestedBy: userId }));
      return repo;
    },

    async sync(repoId: string, userId: string): Promise<CodeRepo> {
      const repo = await owned(repoId, userId);
      if (repo.disconnectedAt) throw disconnected();
      if (!canSync(repo.cloneStatus)) throw new ApiError(409, 'invalid_state', notSyncableMessage(repo.cloneStatus));
      await toRunningWorkflow(repo, (h) => h.signal(syncSignal, { requestedBy: userId, trigger: 'api' }));
      return repo;
    },

    /** Retries a failed clone (or resumes syncs that need attention), with a new token when one is given. */
    async retry(repoId: string, userId: string, accessToken?: string): Promise<CodeRepo> {
      const repo = await owned(repoId, userId);
      if (repo.disconnectedAt) throw disconnected();
      if (!canRetry(repo.cloneStatus, repo.attentionRequiredAt !== null)) {
        throw new ApiError(409, 'invalid_state', notRetryableMessage(repo.cloneStatus));
      }
      const sealedToken = accessToken ? await admission.seal(accessToken, repo.requestId) : undefined;
      const request = { requestedBy: userId, ...(sealedToken ? { sealedToken } : {}) };
      try {
        await toRunningWorkflow(repo, (h) => h.executeUpdate(retryUpdate, { args: [request] }));
      } catch (err) {
        // Refused by the workflow: not retryable now, or (after a too-large failure) still over the limit.
        if (err instanceof WorkflowUpdateFailedError) throw rejectionError(err);
        throw err;
      }
      return repo;
    },

    /** Disconnects the repository: its secrets erased at once, its files cleaned by its workflow (or settled here). */
    async disconnect(
      repoId: string,
      userId: string,
      correlationId: string,
    ): Promise<{ repo: CodeRepo; disconnectedAt: Date }> {
      const owner = await owned(repoId, userId);
      const audit = { correlationId, requestId: owner.requestId, userId };
      // The token goes first: from here on nothing can decrypt it, whatever else is still under way.
      const repo = await disconnectRepo(sql, owner.id, audit);
      const signalled =
        repo.cloneStatus === 'CLEANED' ||
        (await toWorkflow(temporal, repo, (h) => h.signal(cleanupSignal, { requestedBy: userId })));
      // The workflow has ended: settle the row here (its host's sweep removes any files it still owned).
      const settled = signalled
        ? repo
        : ((await settleOrphanedRepo(sql, repo.id, audit, { reason: 'disconnect' })) ?? repo);
      return { repo: settled, disconnectedAt: repo.disconnectedAt! };
    },
  };
}

export type RepositoryService = ReturnType<typeof createRepositoryService>;
