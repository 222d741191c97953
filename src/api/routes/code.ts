import { randomUUID } from 'node:crypto';
import {
  WithStartWorkflowOperation,
  WorkflowExecutionAlreadyStartedError,
  WorkflowUpdateFailedError,
  type Client,
} from '@temporalio/client';
import { ApplicationFailure } from '@temporalio/common';
import { Hono } from 'hono';
import { findProject } from '../../db/projects.js';
import { findRepo, findRepoByRequestId, type CodeRepo } from '../../db/repos.js';
import {
  admissionUpdate,
  fingerprintOf,
  getStateQuery,
  workflowIdFor,
  type Admission,
  type ConnectRepositoryInput,
  type ConnectRepositoryState,
} from '../../shared/connect-repository.js';
import { isRepoErrorCode, REPO_ERRORS } from '../../shared/errors.js';
import type { connectRepository } from '../../workflows/connect-repository.js';
import type { AppEnv } from '../app.js';
import { ANONYMOUS_USER, type ApiDeps } from '../deps.js';
import { ApiError } from '../errors.js';
import { connectRequestSchema, repoParamsSchema } from '../schemas.js';
import { validate } from '../validation.js';

const iso = (d: Date | string) => (typeof d === 'string' ? d : d.toISOString());

function connectBody(admission: Admission, workflowId: string, runId: string | undefined) {
  return {
    repo_id: admission.repoId,
    git_url: admission.gitUrl,
    connected: true,
    task_id: runId ?? null,
    workflow_id: workflowId,
    estimated_size_mb: admission.estimatedSizeMb,
    clone_status: admission.cloneStatus,
    created_at: iso(admission.createdAt),
  };
}

const admissionOf = (repo: CodeRepo): Admission => ({
  repoId: repo.id,
  gitUrl: repo.gitUrl,
  cloneStatus: repo.cloneStatus,
  estimatedSizeMb: repo.repositorySizeMb,
  createdAt: repo.createdAt.toISOString(),
});

/** Details a caller may see (the design's 413 body); anything else stays internal. */
const PUBLIC_DETAILS = ['estimated_size_mb', 'limit_mb'];
const pick = (from: Record<string, unknown> | undefined, keys: string[]) =>
  Object.fromEntries(Object.entries(from ?? {}).filter(([k]) => keys.includes(k)));

const reusedKey = () => new ApiError(409, 'idempotency_key_reused', 'This request_id was already used with different parameters');

/** The workflow's rejection, as the API error the design's table gives for it. */
function rejectionError(err: WorkflowUpdateFailedError): ApiError {
  const cause = err.cause;
  if (cause instanceof ApplicationFailure && isRepoErrorCode(cause.type)) {
    const [details] = (cause.details ?? []) as Array<Record<string, unknown> | undefined>;
    return new ApiError(REPO_ERRORS[cause.type].status as 500, cause.type, cause.message, pick(details, PUBLIC_DETAILS));
  }
  return new ApiError(500, 'internal_error', 'The repository could not be connected');
}

async function queryState(temporal: Client, workflowId: string): Promise<ConnectRepositoryState | undefined> {
  try {
    return await temporal.workflow.getHandle(workflowId).query(getStateQuery);
  } catch {
    return undefined;
  }
}

export function codeRoutes({ sql, temporal, logger, settings }: ApiDeps) {
  return new Hono<AppEnv>()
    .post('/connect', validate('json', connectRequestSchema(settings.allowLoopback)), async (c) => {
      const body = c.req.valid('json');
      const requestId = body.request_id ?? randomUUID();
      const workflowId = workflowIdFor(requestId);
      const existing = await findRepoByRequestId(sql, requestId);
      if (existing) {
        if (existing.projectId !== body.project_id || existing.gitUrl !== body.git_url) throw reusedKey();
        return c.json(connectBody(admissionOf(existing), workflowId, undefined), 200);
      }
      if (!(await findProject(sql, body.project_id))) throw new ApiError(404, 'project_not_found', 'Project not found');

      const input: ConnectRepositoryInput = {
        requestId,
        correlationId: c.get('requestId'),
        userId: ANONYMOUS_USER,
        projectId: body.project_id,
        gitUrl: body.git_url,
        accessToken: body.access_token,
        sandboxTtlSeconds: settings.sandboxTtlSeconds,
      };
      const start = new WithStartWorkflowOperation<typeof connectRepository>('connectRepository', {
        workflowId,
        taskQueue: settings.taskQueue,
        args: [input],
        workflowIdConflictPolicy: 'USE_EXISTING',
        // A closed workflow for this request means the work was done: never run it twice.
        workflowIdReusePolicy: 'REJECT_DUPLICATE',
      });
      try {
        const admission = await temporal.workflow.executeUpdateWithStart(admissionUpdate, {
          args: [fingerprintOf(input)],
          startWorkflowOperation: start,
        });
        const { runId } = await (await start.workflowHandle()).describe();
        logger.info({ requestId, repoId: admission.repoId, workflowId }, 'repository admitted');
        return c.json(connectBody(admission, workflowId, runId), 201);
      } catch (err) {
        if (err instanceof WorkflowUpdateFailedError) throw rejectionError(err);
        if (err instanceof WorkflowExecutionAlreadyStartedError) {
          const repo = await findRepoByRequestId(sql, requestId);
          if (repo && (repo.projectId !== body.project_id || repo.gitUrl !== body.git_url)) throw reusedKey();
          if (repo) return c.json(connectBody(admissionOf(repo), workflowId, undefined), 200);
          throw new ApiError(409, 'invalid_state', 'This request_id was already used and did not connect a repository');
        }
        throw err;
      }
    })
    .get('/repos/:repo_id', validate('param', repoParamsSchema), async (c) => {
      const repo = await findRepo(sql, c.req.valid('param').repo_id);
      if (!repo) throw new ApiError(404, 'not_found', 'Repository not found');
      return c.json({
        id: repo.id,
        project_id: repo.projectId,
        git_url: repo.gitUrl,
        repository_size_mb: repo.repositorySizeMb,
        clone_status: repo.cloneStatus,
        sandbox_path: repo.sandboxPath,
        created_at: iso(repo.createdAt),
        updated_at: iso(repo.updatedAt),
      });
    })
    .get('/repos/:repo_id/status', validate('param', repoParamsSchema), async (c) => {
      const repo = await findRepo(sql, c.req.valid('param').repo_id);
      if (!repo) throw new ApiError(404, 'not_found', 'Repository not found');
      const live = repo.workflowId ? await queryState(temporal, repo.workflowId) : undefined;
      return c.json({
        repo_id: repo.id,
        clone_status: repo.cloneStatus,
        repository_size_mb: repo.repositorySizeMb,
        sandbox_path: repo.sandboxPath,
        progress_message: live?.progressMessage ?? null,
        error_message: repo.errorMessage,
        progress_percent: live?.progressPercent ?? (repo.cloneStatus === 'COMPLETED' ? 100 : null),
        stage: live?.stage ?? null,
        workflow_id: repo.workflowId,
        updated_at: iso(repo.updatedAt),
      });
    });
}
