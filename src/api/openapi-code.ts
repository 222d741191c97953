import type { z } from 'zod';
import type { ReadBounds } from '../config/env.js';
import { egressPolicyOf } from '../egress/git-url.js';
import {
  authed,
  authenticated,
  body,
  error,
  headers,
  jsonSchema,
  kms,
  ok,
  posting,
  queryParameters,
  postingJson,
  projectNotFound,
  reading,
  stream,
  uuidParam,
} from './openapi-responses.js';
import {
  connectRequestSchema,
  syncIntervalRangeOf,
  listReposQuerySchema,
  retryRequestSchema,
  uuid,
} from './schemas.js';
import {
  acceptedSchema,
  admissionPendingSchema,
  disconnectedSchema,
  connectResponseSchema,
  repoListSchema,
  repoSchema,
  repoStatusSchema,
} from './response-schemas.js';

export const eventStream = (event: string, data: z.ZodType) => ({
  type: 'array',
  items: {
    type: 'object',
    required: ['event', 'id', 'data'],
    properties: {
      event: { const: event },
      id: { type: 'string', description: 'Increases with each event' },
      data: { type: 'string', contentMediaType: 'application/json', contentSchema: jsonSchema(data) },
    },
  },
});
export const repoNotFound = error("No such repository of the caller's (`not_found`)");
export type DocumentSettings = Parameters<typeof egressPolicyOf>[0] &
  Parameters<typeof syncIntervalRangeOf>[0] & { readBounds: ReadBounds };

/** The /api/v1/code operations: connect, and each repository's status, events, actions. */
export function codePaths(settings: DocumentSettings) {
  return {
    '/api/v1/code/connect': {
      post: {
        ...authed,
        summary: 'Connect a Git repository',
        description:
          'Starts the connectRepository workflow and answers once it admits or rejects the request. Keys (request_id or Idempotency-Key) are scoped per user: the same key with the same parameters gets the first 201 answer again, byte for byte, with `Idempotent-Replayed: true`; a rejected request left nothing behind, so its key is evaluated afresh; other parameters (another access_token included) are a 409.',
        parameters: [
          {
            name: 'Idempotency-Key',
            in: 'header',
            required: false,
            schema: jsonSchema(uuid, 'input'),
            description: 'Same as request_id; both given and different is a 422',
          },
        ],
        requestBody: body(connectRequestSchema(egressPolicyOf(settings), syncIntervalRangeOf(settings))),
        responses: {
          201: ok('Admitted (or the first answer again, with `Idempotent-Replayed: true`)', connectResponseSchema, {
            ...headers.replayed,
            ...headers.noStore,
          }),
          202: ok(
            'Admission outlasted ADMISSION_WAIT_SECONDS: send the same request again (see Retry-After) for the outcome',
            admissionPendingSchema,
            headers.retryAfterRequired,
          ),
          ...postingJson,
          ...kms,
          401: error(
            'Bearer token invalid (`unauthorized`, with WWW-Authenticate) or Git token rejected (`invalid_credentials`)',
            headers.wwwAuthenticate,
          ),
          404: error(
            'Unknown project (`project_not_found`), repository (`repository_not_found`), or `ref` that is neither a branch nor a tag of it (`ref_not_found`)',
          ),
          409: error('request_id reused with other parameters (`idempotency_key_reused`)'),
          413: error(
            'Repository too large (`repository_too_large`, with estimated_size_mb, limit_mb, and which budget it passed: `budget` disk, inodes or files, `measured`, `limit`) or body over 64 KiB (`payload_too_large`)',
          ),
          422: error(
            'Invalid input (`validation_error`, with `issues`), or a Git URL whose host is private, loopback or reserved (`invalid_url`)',
          ),
          429: error(
            "Too many requests from the caller (`rate_limited`, with Retry-After), or the Git server kept rate limiting the size check (`rate_limited`, no Retry-After: git does not show the server's)",
            headers.retryAfterOurs,
          ),
          502: error('Git server, PostgreSQL or Temporal unreachable (`upstream_unavailable`)'),
          507: error('No disk space for the clone (`insufficient_storage`)'),
        },
      },
    },
    '/api/v1/code/repos/{repo_id}': {
      get: {
        ...authed,
        summary: 'Get a repository',
        parameters: [uuidParam('repo_id')],
        responses: { 200: ok('The repository', repoSchema), 404: repoNotFound, ...reading },
      },
      delete: {
        ...authed,
        summary: 'Disconnect a repository',
        description:
          'Destroys the stored access token at once, cancels a running clone and removes the sandbox; the row stays for the audit trail, CLEANED with disconnected_at. The same again when repeated.',
        parameters: [uuidParam('repo_id')],
        responses: {
          202: ok('Disconnected (clean-up under way or done)', disconnectedSchema),
          404: repoNotFound,
          ...authenticated,
        },
      },
    },
    '/api/v1/code/repos/{repo_id}/status': {
      get: {
        ...authed,
        summary: 'Clone status and live progress',
        parameters: [uuidParam('repo_id')],
        responses: { 200: ok('Status', repoStatusSchema), 404: repoNotFound, ...reading },
      },
    },
    '/api/v1/code/repos/{repo_id}/events': {
      get: {
        ...authed,
        summary: 'Clone status and live progress as a stream of Server-Sent Events',
        description:
          'An `event: status` at once, then one each time the status changes; its `data` is the JSON of `/status`, its `id` increases. The stream closes after the first COMPLETED, FAILED or CLEANED status (close the EventSource there: a reconnect gets that status again), and after 30 minutes in any case (an EventSource reconnects, sending Last-Event-ID). A comment line keeps a quiet stream alive every 15 s.',
        parameters: [
          uuidParam('repo_id'),
          {
            name: 'Last-Event-ID',
            in: 'header',
            required: false,
            schema: { type: 'string' },
            description:
              'Sent by an EventSource when it reconnects: the ids go on after it (anything but up to 15 digits counts as 0)',
          },
        ],
        responses: {
          200: stream('The stream', eventStream('status', repoStatusSchema)),
          404: repoNotFound,
          ...reading,
          429: error(
            'Too many event streams open: the caller holds 5, or the API its most (`rate_limited`); or too many reads (`rate_limited`, with Retry-After)',
            headers.retryAfterOurs,
          ),
        },
      },
    },
    '/api/v1/code/projects/{project_id}/repos': {
      get: {
        ...authed,
        summary: "A project's repositories, oldest first",
        description:
          'A page of at most `limit`; when more follow, the `X-Next-Cursor` header carries the `cursor` for the next page.',
        parameters: [uuidParam('project_id'), ...queryParameters(listReposQuerySchema)],
        responses: { 200: ok('The page', repoListSchema, headers.nextCursor), 404: projectNotFound, ...reading },
      },
    },
    '/api/v1/code/repos/{repo_id}/cleanup': {
      post: {
        ...authed,
        summary: 'Remove the sandbox now (signals the workflow)',
        parameters: [uuidParam('repo_id')],
        responses: {
          202: ok('Cleanup requested', acceptedSchema),
          404: repoNotFound,
          409: error('Already cleaned, or its workflow has ended (`invalid_state`)'),
          ...posting,
        },
      },
    },
    '/api/v1/code/repos/{repo_id}/sync': {
      post: {
        ...authed,
        summary:
          "Fetch the ref's new commits into the kept clone (signals the workflow; requests made meanwhile coalesce)",
        parameters: [uuidParam('repo_id')],
        responses: {
          202: ok(
            'Sync requested: /status shows SYNCING, then COMPLETED with the new head_commit (or the failure in error_code, the previous commit kept)',
            acceptedSchema,
          ),
          404: repoNotFound,
          409: error('Not COMPLETED, or its workflow has ended (`invalid_state`), or disconnected (`disconnected`)'),
          ...posting,
        },
      },
    },
    '/api/v1/code/repos/{repo_id}/retry': {
      post: {
        ...authed,
        summary: 'Clone a FAILED repository again, optionally with a new access token',
        parameters: [uuidParam('repo_id')],
        requestBody: body(retryRequestSchema),
        responses: {
          ...postingJson,
          ...kms,
          202: ok('Retry requested', acceptedSchema),
          401: error(
            'Bearer token invalid (`unauthorized`, with WWW-Authenticate), or the Git server rejected the token when a too-large repository was probed again (`invalid_credentials`)',
            headers.wwwAuthenticate,
          ),
          404: error('No such repository (`not_found`), or it is gone from the Git server (`repository_not_found`)'),
          409: error('Not FAILED, or its workflow has ended (`invalid_state`), or disconnected (`disconnected`)'),
          413: error(
            'Body over 64 KiB (`payload_too_large`), or it failed as too large and a new probe finds it still over the limit (`repository_too_large`)',
          ),
          502: error('Git server, PostgreSQL or Temporal unreachable (`upstream_unavailable`)'),
          507: error('No disk space for the probe (`insufficient_storage`)'),
        },
      },
    },
  };
}
