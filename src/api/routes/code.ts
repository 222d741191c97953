import { randomUUID } from 'node:crypto';
import { context } from '@opentelemetry/api';
import { suppressTracing } from '@opentelemetry/core';
import { Hono } from 'hono';
import type { CodeRepo } from '../../db/repos.js';
import { egressPolicyOf } from '../../egress/git-url.js';
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
import { createRepositoryService } from '../services/repositories.js';
import { readStatus } from '../status.js';
import { MAX_STREAMS_PER_USER, lastEventIdOf, streamQuota, streamStatus } from '../status-stream.js';
import { validate } from '../validation.js';

/** When a client whose admission is still under way should ask again. */
const ADMISSION_RETRY_AFTER_SECONDS = 2;

const repoNotFound = () => new ApiError(404, 'not_found', 'Repository not found');

/** The answer to an action the workflow goes on with. */
const accepted = (repo: CodeRepo) => ({
  repo_id: repo.id,
  clone_status: repo.cloneStatus,
  workflow_id: repo.workflowId,
});

export function codeRoutes(deps: ApiDeps) {
  const repositories = createRepositoryService(deps);
  const streams = streamQuota();

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
        const requestId = body.request_id ?? headerKey ?? randomUUID();
        const outcome = await repositories.connect(
          {
            userId: c.get('userId'),
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
    .get('/repos/:repo_id', validate('param', repoParamsSchema), async (c) =>
      c.json(repoBody(await repositories.find(c.req.valid('param').repo_id, c.get('userId')))),
    )
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
        const { limit, cursor } = c.req.valid('query');
        // One more than the page: whether there is a next page, without a count.
        const page = await repositories.list(
          c.req.valid('param').project_id,
          c.get('userId'),
          limit + 1,
          cursor ? decodeCursor(cursor) : undefined,
        );
        const items = page.slice(0, limit);
        if (page.length > limit) c.header('X-Next-Cursor', encodeCursor(items.at(-1)!));
        return c.json(items.map(repoBody));
      },
    )
    .post('/repos/:repo_id/cleanup', validate('param', repoParamsSchema), async (c) =>
      c.json(accepted(await repositories.cleanup(c.req.valid('param').repo_id, c.get('userId'))), 202),
    )
    .post('/repos/:repo_id/sync', validate('param', repoParamsSchema), async (c) =>
      c.json(accepted(await repositories.sync(c.req.valid('param').repo_id, c.get('userId'))), 202),
    )
    .post(
      '/repos/:repo_id/retry',
      validate('param', repoParamsSchema),
      validate('json', retryRequestSchema),
      async (c) => {
        const { access_token: accessToken } = c.req.valid('json');
        const repo = await repositories.retry(c.req.valid('param').repo_id, c.get('userId'), accessToken);
        return c.json(accepted(repo), 202);
      },
    )
    .delete('/repos/:repo_id', validate('param', repoParamsSchema), async (c) => {
      const { repo, disconnectedAt } = await repositories.disconnect(
        c.req.valid('param').repo_id,
        c.get('userId'),
        c.get('requestId'),
      );
      return c.json({ ...accepted(repo), disconnected_at: disconnectedAt.toISOString() }, 202);
    });
}
