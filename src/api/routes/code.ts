import { randomUUID } from 'node:crypto';
import {
  WithStartWorkflowOperation,
  WorkflowExecutionAlreadyStartedError,
  WorkflowNotFoundError,
  WorkflowUpdateFailedError,
  type Client,
} from '@temporalio/client';
import { ApplicationFailure } from '@temporalio/common';
import { Hono } from 'hono';
import { encryptSecret } from '../../crypto/envelope.js';
import { findOwnedProject } from '../../db/projects.js';
import { findOwnedRepo, findRepoByRequestId, listProjectRepos, type CodeRepo } from '../../db/repos.js';
import { metrics } from '../../observability/metrics.js';
import {
  admissionUpdate,
  cleanupSignal,
  fingerprintOf,
  getStateQuery,
  retrySignal,
  transportContext,
  workflowIdFor,
  type SealedSecret,
  type ConnectRepositoryInput,
  type ConnectRepositoryState,
} from '../../shared/connect-repository.js';
import { isRepoErrorCode, REPO_ERRORS } from '../../shared/errors.js';
import type { connectRepository } from '../../workflows/connect-repository.js';
import type { ApiEnv } from '../context.js';
import type { ApiDeps } from '../deps.js';
import { ApiError } from '../errors.js';
import { decodeCursor, encodeCursor } from '../pagination.js';
import { admissionOf, connectBody, repoBody, statusBody } from '../presenters.js';
import {
  connectRequestSchema,
  idempotencyHeaderSchema,
  listReposQuerySchema,
  projectParamsSchema,
  repoParamsSchema,
  retryRequestSchema,
} from '../schemas.js';
import { validate } from '../validation.js';

/** Details a caller may see (the design's 413 body); anything else stays internal. */
const PUBLIC_DETAILS = ['estimated_size_mb', 'limit_mb'];
const pick = (from: Record<string, unknown> | undefined, keys: string[]) =>
  Object.fromEntries(Object.entries(from ?? {}).filter(([k]) => keys.includes(k)));

const reusedKey = () => new ApiError(409, 'idempotency_key_reused', 'This request_id was already used with different parameters');
const repoNotFound = () => new ApiError(404, 'not_found', 'Repository not found');

/** The workflow's rejection, as the API error the design's table gives for it. */
function rejectionError(err: WorkflowUpdateFailedError): ApiError {
  const cause = err.cause;
  if (cause instanceof ApplicationFailure && isRepoErrorCode(cause.type)) {
    const [details] = (cause.details ?? []) as Array<Record<string, unknown> | undefined>;
    return new ApiError(REPO_ERRORS[cause.type].status as 500, cause.type, cause.message, pick(details, PUBLIC_DETAILS));
  }
  return new ApiError(500, 'internal_error', 'The repository could not be connected');
}

/** The workflow's live state, if Temporal answers within a moment; the database row is served either way. */
async function liveState(temporal: Client, workflowId: string): Promise<ConnectRepositoryState | undefined> {
  try {
    return await temporal.connection.withDeadline(Date.now() + 1500, () =>
      temporal.workflow.getHandle(workflowId).query(getStateQuery));
  } catch {
    return undefined;
  }
}

/** Signals the repository's workflow; a workflow that has already ended cannot take it. */
async function signalWorkflow(temporal: Client, repo: CodeRepo, send: (handle: ReturnType<Client['workflow']['getHandle']>) => Promise<void>) {
  if (!repo.workflowId) throw new ApiError(409, 'invalid_state', 'This repository has no workflow to signal');
  try {
    await send(temporal.workflow.getHandle(repo.workflowId));
  } catch (err) {
    if (err instanceof WorkflowNotFoundError) throw new ApiError(409, 'invalid_state', 'The repository\'s workflow has already ended');
    throw err;
  }
}

export function codeRoutes({ sql, temporal, keys, settings }: ApiDeps) {
  /** The access token leaves the API only sealed: Temporal's history and its codec endpoint never see it. */
  const seal = async (accessToken: string, requestId: string): Promise<SealedSecret> => {
    const { ciphertext, keyId } = await encryptSecret(keys, accessToken, transportContext(requestId));
    return { ciphertext: ciphertext.toString('base64'), keyId };
  };
  const sameRequest = (repo: CodeRepo, projectId: string, gitUrl: string) => repo.projectId === projectId && repo.gitUrl === gitUrl;

  return new Hono<ApiEnv>()
    .post(
      '/connect',
      validate('header', idempotencyHeaderSchema),
      validate('json', connectRequestSchema(settings.allowLoopback)),
      async (c) => {
        const body = c.req.valid('json');
        const headerKey = c.req.valid('header')['idempotency-key'];
        if (headerKey && body.request_id && headerKey !== body.request_id) {
          throw new ApiError(422, 'validation_error', 'request_id and the Idempotency-Key header differ', {
            issues: [{ path: 'request_id', message: 'must equal the Idempotency-Key header when both are given' }],
          });
        }
        const userId = c.get('userId');
        const requestId = body.request_id ?? headerKey ?? randomUUID();
        const workflowId = workflowIdFor(requestId);
        const log = c.get('log').child({ idempotencyKey: requestId, workflowId });

        const answerExisting = (repo: CodeRepo) => {
          if (!sameRequest(repo, body.project_id, body.git_url)) throw reusedKey();
          return c.json(connectBody(admissionOf(repo), workflowId, null), 200);
        };
        // Ownership first: an answer about an existing request only ever concerns the caller's own project.
        if (!(await findOwnedProject(sql, body.project_id, userId))) throw new ApiError(404, 'project_not_found', 'Project not found');
        const existing = await findRepoByRequestId(sql, requestId);
        if (existing) return answerExisting(existing);

        const input: ConnectRepositoryInput = {
          requestId,
          correlationId: c.get('requestId'),
          userId,
          projectId: body.project_id,
          gitUrl: body.git_url,
          sealedToken: await seal(body.access_token, requestId),
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
          metrics.repoConnections.inc({ status: 'admitted' });
          log.info({ repoId: admission.repoId }, 'repository admitted');
          return c.json(connectBody(admission, workflowId, runId), 201);
        } catch (err) {
          if (err instanceof WorkflowUpdateFailedError) {
            const rejection = rejectionError(err);
            metrics.repoConnections.inc({ status: rejection.code });
            log.info({ error: rejection.code }, 'repository rejected');
            throw rejection;
          }
          if (err instanceof WorkflowExecutionAlreadyStartedError) {
            const repo = await findRepoByRequestId(sql, requestId);
            if (repo) return answerExisting(repo);
            throw new ApiError(409, 'invalid_state', 'This request_id was already used and did not connect a repository');
          }
          throw err;
        }
      },
    )
    .get('/repos/:repo_id', validate('param', repoParamsSchema), async (c) => {
      const repo = await findOwnedRepo(sql, c.req.valid('param').repo_id, c.get('userId'));
      if (!repo) throw repoNotFound();
      return c.json(repoBody(repo));
    })
    .get('/repos/:repo_id/status', validate('param', repoParamsSchema), async (c) => {
      const repo = await findOwnedRepo(sql, c.req.valid('param').repo_id, c.get('userId'));
      if (!repo) throw repoNotFound();
      return c.json(statusBody(repo, repo.workflowId ? await liveState(temporal, repo.workflowId) : undefined));
    })
    .get('/projects/:project_id/repos', validate('param', projectParamsSchema), validate('query', listReposQuerySchema), async (c) => {
      const project = await findOwnedProject(sql, c.req.valid('param').project_id, c.get('userId'));
      if (!project) throw new ApiError(404, 'project_not_found', 'Project not found');
      const { limit, cursor } = c.req.valid('query');
      const page = await listProjectRepos(sql, project.id, limit + 1, cursor ? decodeCursor(cursor) : undefined);
      const items = page.slice(0, limit);
      if (page.length > limit) c.header('X-Next-Cursor', encodeCursor(items.at(-1)!));
      return c.json(items.map(repoBody));
    })
    .post('/repos/:repo_id/cleanup', validate('param', repoParamsSchema), async (c) => {
      const repo = await findOwnedRepo(sql, c.req.valid('param').repo_id, c.get('userId'));
      if (!repo) throw repoNotFound();
      if (repo.cloneStatus === 'CLEANING' || repo.cloneStatus === 'CLEANED') {
        throw new ApiError(409, 'invalid_state', `The repository is already ${repo.cloneStatus}`);
      }
      await signalWorkflow(temporal, repo, (h) => h.signal(cleanupSignal, { requestedBy: c.get('userId') }));
      return c.json({ repo_id: repo.id, clone_status: repo.cloneStatus, workflow_id: repo.workflowId }, 202);
    })
    .post('/repos/:repo_id/retry', validate('param', repoParamsSchema), validate('json', retryRequestSchema), async (c) => {
      const repo = await findOwnedRepo(sql, c.req.valid('param').repo_id, c.get('userId'));
      if (!repo) throw repoNotFound();
      if (repo.cloneStatus !== 'FAILED') throw new ApiError(409, 'invalid_state', `Only a FAILED repository can be retried; it is ${repo.cloneStatus}`);
      const { access_token: accessToken } = c.req.valid('json');
      const sealedToken = accessToken ? await seal(accessToken, repo.requestId) : undefined;
      await signalWorkflow(temporal, repo, (h) => h.signal(retrySignal, { requestedBy: c.get('userId'), ...(sealedToken ? { sealedToken } : {}) }));
      return c.json({ repo_id: repo.id, clone_status: repo.cloneStatus, workflow_id: repo.workflowId }, 202);
    });
}
