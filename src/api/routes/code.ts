import { randomUUID } from 'node:crypto';
import { context } from '@opentelemetry/api';
import { suppressTracing } from '@opentelemetry/core';
import { WorkflowNotFoundError, WorkflowUpdateFailedError, type Client } from '@temporalio/client';
import { Hono } from 'hono';
import { findOwnedProject } from '../../db/projects.js';
import { egressPolicyOf } from '../../egress/git-url.js';
import { settleOrphanedRepo } from '../../db/reconcile.js';
import { disconnectRepo } from '../../db/repo-lifecycle.js';
import { findOwnedRepo, listProjectRepos, type CodeRepo } from '../../db/repos.js';
import { cleanupSignal, retryUpdate, syncSignal } from '../../shared/connect-repository.js';
import { canRetry, canSync, notRetryableMessage, notSyncableMessage } from '../../shared/repo-eligibility.js';
import { createAdmission, rejectionError } from '../admission.js';
import type { ApiEnv } from '../context.js';
import type { ApiDeps } from '../deps.js';
import { ApiError } from '../errors.js';
import { decodeCursor, encodeCursor } from '../pagination.js';
import { connectBody, pendingBody, repoBody } from '../presenters.js';
import {
  connectRequestSchema,
  idempotencyHeaderSchema,
  listReposQuerySchema,
  projectParamsSchema,
  repoParamsSchema,
  retryRequestSchema,
  syncIntervalRangeOf,
} from '../schemas.js';
import { readStatus } from '../status.js';
import { MAX_STREAMS_PER_USER, lastEventIdOf, streamQuota, streamStatus } from '../status-stream.js';
import { validate } from '../validation.js';

/** When a client whose admission is still under way should ask again. */
const ADMISSION_RETRY_AFTER_SECONDS = 2;

const repoNotFound = () => new ApiError(404, 'not_found', 'Repository not found');

/** Runs `send` against the repository's workflow; false when the workflow has already ended. */
export async function toWorkflow(
  temporal: Client,
  repo: CodeRepo,
  send: (handle: ReturnType<Client['workflow']['getHandle']>) => Promise<unknown>,
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
const accepted = (repo: CodeRepo) => ({
  repo_id: repo.id,
  clone_status: repo.cloneStatus,
  workflow_id: repo.workflowId,
});

export function codeRoutes(deps: ApiDeps) {
  const { sql, temporal } = deps;
  const admission = createAdmission(deps);
  const streams = streamQuota();
  const ownedRepo = async (repoId: string, userId: string) => {
    const repo = await findOwnedRepo(sql, repoId, userId);
    if (!repo) throw repoNotFound();
    return repo;
  };

  return new Hono<ApiEnv>()
    .post(
      '/connect',
      validate('header', idempotencyHeaderSchema),
      validate('json', connectRequestSchema(egressPolicyOf(deps.settings), syncIntervalRangeOf(deps.settings))),
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
        // Ownership first: an answer about an existing request only ever concerns the caller's own project.
        if (!(await findOwnedProject(sql, body.project_id, userId)))
          throw new ApiError(404, 'project_not_found', 'Project not found');
        const outcome = await admission.admit(
          {
            userId,
            correlationId: c.get('requestId'),
            requestId,
            projectId: body.project_id,
            gitUrl: body.git_url,
            accessToken: body.access_token,
            ref: body.ref,
            syncIntervalSeconds: body.sync_interval_seconds,
          },
          c.get('log').child({ idempotencyKey: requestId }),
        );
        if ('pending' in outcome) {
          c.header('Retry-After', String(ADMISSION_RETRY_AFTER_SECONDS));
          return c.json(pendingBody(outcome.workflowId, requestId), 202);
        }
        if (outcome.replayed) c.header('Idempotent-Replayed', 'true');
        // The webhook secret is in this answer (and its replays): no cache, shared or the client's, may keep it.
        c.header('Cache-Control', 'no-store');
        const webhook = outcome.webhookSecret
          ? { secret: outcome.webhookSecret, publicBaseUrl: deps.settings.publicBaseUrl }
          : undefined;
        return c.json(connectBody(outcome.admission, outcome.workflowId, webhook), 201);
      },
    )
    .get('/repos/:repo_id', validate('param', repoParamsSchema), async (c) => {
      const repo = await findOwnedRepo(sql, c.req.valid('param').repo_id, c.get('userId'));
      if (!repo) throw repoNotFound();
      return c.json(repoBody(repo));
    })
    .get('/repos/:repo_id/status', validate('param', repoParamsSchema), async (c) => {
      const status = await readStatus(deps, c.req.valid('param').repo_id, c.get('userId'));
      if (!status) throw repoNotFound();
      return c.json(status.body);
    })
    .get('/repos/:repo_id/events', validate('param', repoParamsSchema), async (c) => {
      // Polls are not traced: a long stream would otherwise add two spans a poll to the request's trace.
      const read = () =>
        context.with(suppressTracing(context.active()), () =>
          readStatus(deps, c.req.valid('param').repo_id, c.get('userId')),
        );
      // Ownership (and a reachable database) before the stream starts: a 404 or 502 as for /status.
      const first = await read();
      if (!first) throw repoNotFound();
      const userId = c.get('userId');
      if (!streams.open(userId)) {
        throw new ApiError(
          429,
          'rate_limited',
          `Too many event streams open (at most ${MAX_STREAMS_PER_USER} per user); close one, or poll /status`,
        );
      }
      return streamStatus(c, first, read, {
        log: c.get('log'),
        shutdown: deps.shutdown,
        lastEventId: lastEventIdOf(c.req.header('last-event-id')),
        onEnd: () => streams.close(userId),
      });
    })
    .get(
      '/projects/:project_id/repos',
      validate('param', projectParamsSchema),
      validate('query', listReposQuerySchema),
      async (c) => {
        const project = await findOwnedProject(sql, c.req.valid('param').project_id, c.get('userId'));
        if (!project) throw new ApiError(404, 'project_not_found', 'Project not found');
        const { limit, cursor } = c.req.valid('query');
        const page = await listProjectRepos(sql, project.id, limit + 1, cursor ? decodeCursor(cursor) : undefined);
        const items = page.slice(0, limit);
        if (page.length > limit) c.header('X-Next-Cursor', encodeCursor(items.at(-1)!));
        return c.json(items.map(repoBody));
      },
    )
    .post('/repos/:repo_id/cleanup', validate('param', repoParamsSchema), async (c) => {
      const repo = await ownedRepo(c.req.valid('param').repo_id, c.get('userId'));
      if (repo.cloneStatus === 'CLEANING' || repo.cloneStatus === 'CLEANED') {
        throw new ApiError(409, 'invalid_state', `The repository is already ${repo.cloneStatus}`);
      }
      if (!(await toWorkflow(temporal, repo, (h) => h.signal(cleanupSignal, { requestedBy: c.get('userId') }))))
        throw ended();
      return c.json(accepted(repo), 202);
    })
    .post('/repos/:repo_id/sync', validate('param', repoParamsSchema), async (c) => {
      const repo = await ownedRepo(c.req.valid('param').repo_id, c.get('userId'));
      if (repo.disconnectedAt)
        throw new ApiError(409, 'disconnected', 'The repository was disconnected; connect it again');
      if (!canSync(repo.cloneStatus)) throw new ApiError(409, 'invalid_state', notSyncableMessage(repo.cloneStatus));
      if (
        !(await toWorkflow(temporal, repo, (h) =>
          h.signal(syncSignal, { requestedBy: c.get('userId'), trigger: 'api' }),
        ))
      )
        throw ended();
      return c.json(accepted(repo), 202);
    })
    .post(
      '/repos/:repo_id/retry',
      validate('param', repoParamsSchema),
      validate('json', retryRequestSchema),
      async (c) => {
        const repo = await ownedRepo(c.req.valid('param').repo_id, c.get('userId'));
        if (repo.disconnectedAt)
          throw new ApiError(409, 'disconnected', 'The repository was disconnected; connect it again');
        if (!canRetry(repo.cloneStatus, repo.attentionRequiredAt !== null)) {
          throw new ApiError(409, 'invalid_state', notRetryableMessage(repo.cloneStatus));
        }
        const { access_token: accessToken } = c.req.valid('json');
        const sealedToken = accessToken ? await admission.seal(accessToken, repo.requestId) : undefined;
        const request = { requestedBy: c.get('userId'), ...(sealedToken ? { sealedToken } : {}) };
        try {
          if (!(await toWorkflow(temporal, repo, (h) => h.executeUpdate(retryUpdate, { args: [request] }))))
            throw ended();
        } catch (err) {
          // Refused by the workflow: not retryable now, or (after a too-large failure) still over the limit.
          if (err instanceof WorkflowUpdateFailedError) throw rejectionError(err);
          throw err;
        }
        return c.json(accepted(repo), 202);
      },
    )
    .delete('/repos/:repo_id', validate('param', repoParamsSchema), async (c) => {
      const userId = c.get('userId');
      const owned = await ownedRepo(c.req.valid('param').repo_id, userId);
      const audit = { correlationId: c.get('requestId'), requestId: owned.requestId, userId };
      // The token goes first: from here on nothing can decrypt it, whatever else is still under way.
      const repo = await disconnectRepo(sql, owned.id, audit);
      const signalled =
        repo.cloneStatus === 'CLEANED' ||
        (await toWorkflow(temporal, repo, (h) => h.signal(cleanupSignal, { requestedBy: userId })));
      // The workflow has ended: settle the row here (its host's sweep removes any files it still owned).
      const settled = signalled
        ? repo
        : ((await settleOrphanedRepo(sql, repo.id, audit, { reason: 'disconnect' })) ?? repo);
      return c.json({ ...accepted(settled), disconnected_at: repo.disconnectedAt!.toISOString() }, 202);
    });
}
