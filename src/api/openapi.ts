import type { z } from 'zod';
import { egressPolicyOf } from '../egress/git-url.js';
import {
  authenticated,
  error,
  headers,
  json,
  jsonSchema,
  ok,
  posting,
  postingJson,
  reading,
  stream,
  text,
} from './openapi-responses.js';
import {
  acceptedSchema,
  admissionPendingSchema,
  disconnectedSchema,
  connectRequestSchema,
  syncIntervalRangeOf,
  connectResponseSchema,
  createProjectSchema,
  healthSchema,
  listReposQuerySchema,
  projectSchema,
  readySchema,
  repoListSchema,
  repoSchema,
  repoStatusSchema,
  retryRequestSchema,
  uuid,
  webhookAnswerSchema,
} from './schemas.js';

const uuidParam = (name: string) => ({ name, in: 'path', required: true, schema: jsonSchema(uuid, 'input') });
const body = (schema: z.ZodType) => ({ required: true, content: json(schema, 'input') });
/** A text/event-stream body (OpenAPI 3.1 has no word for one): the sequence of its events, each `data` a JSON document. */
const eventStream = (event: string, data: z.ZodType) => ({
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
const authed = { security: [{ bearerAuth: [] }] };
const repoNotFound = error("No such repository of the caller's (`not_found`)");
const projectNotFound = error("No such project of the caller's (`project_not_found`)");
/** Refusals the workflow can send back (src/shared/errors.ts), beyond the input's own. */
const kms = {
  500: error('Internal error (`internal_error`), or the key service refused to seal the token (`kms_rejected`)'),
  503: error('The key service is unavailable (`kms_unavailable`): try again shortly'),
};

/** The headers a push webhook is read from (src/api/webhook-signature.ts), by sender. */
const webhookHeaders = (
  [
    ['X-Hub-Signature-256', 'GitHub: `sha256=` and the hex HMAC-SHA256 of the raw body under the webhook secret'],
    ['X-GitHub-Event', 'GitHub: the event (`push`; others are ignored)'],
    ['X-GitHub-Delivery', 'GitHub: the delivery id (the same on a redelivery)'],
    ['X-Gitlab-Token', 'GitLab: the webhook secret itself'],
    ['X-Gitlab-Event', 'GitLab: the event (`Push Hook`, `Tag Push Hook`; others are ignored)'],
    ['Idempotency-Key', 'GitLab: the delivery id, the same on a retry (read before X-Gitlab-Event-UUID)'],
    ['X-Gitlab-Event-UUID', 'GitLab: the delivery id when Idempotency-Key is absent'],
    [
      'X-Gitea-Signature',
      'Gitea: the hex HMAC-SHA256 of the raw body under the webhook secret (read before X-Hub-Signature-256, which Gitea sends too)',
    ],
    ['X-Gitea-Event', 'Gitea: the event (`push`; others are ignored)'],
    ['X-Gitea-Delivery', 'Gitea: the delivery id'],
  ] as const
).map(([name, description]) => ({ name, in: 'header', required: false, schema: { type: 'string' }, description }));

/**
 * The OpenAPI document, generated from the same zod schemas that validate requests: every status
 * each route can answer, the headers it sends, and the whole of each input rule.
 */
export function openApiDocument(
  settings: Parameters<typeof egressPolicyOf>[0] & Parameters<typeof syncIntervalRangeOf>[0],
) {
  const listQuery = jsonSchema(listReposQuerySchema, 'input') as { properties: Record<string, unknown> };
  return {
    openapi: '3.1.0',
    info: {
      title: 'repo-connector',
      version: '0.1.0',
      description:
        'Connects Git repositories to the platform. Every error has the shape `{"detail": {"error": "<code>", "message": "<sentence>", ...}}`; a method a path does not serve is a 405 with `Allow`.',
    },
    components: { securitySchemes: { bearerAuth: { type: 'http', scheme: 'bearer', bearerFormat: 'JWT' } } },
    paths: {
      '/api/v1/projects': {
        post: {
          ...authed,
          summary: 'Create a project owned by the caller',
          requestBody: body(createProjectSchema),
          responses: { 201: ok('Created', projectSchema), ...postingJson },
        },
      },
      '/api/v1/projects/{project_id}': {
        get: {
          ...authed,
          summary: "Get one of the caller's projects",
          parameters: [uuidParam('project_id')],
          responses: { 200: ok('The project', projectSchema), 404: projectNotFound, ...reading },
        },
      },
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
          parameters: [
            uuidParam('project_id'),
            ...Object.entries(listQuery.properties).map(([name, schema]) => ({
              name,
              in: 'query',
              required: false,
              schema,
            })),
          ],
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
      '/api/v1/hooks/git/{repo_id}': {
        post: {
          security: [],
          summary: 'A push webhook from GitHub, GitLab or Gitea: a push to the connected ref syncs the repository',
          description:
            "No bearer token: the delivery is authenticated by the repository's webhook secret (shown once, in the connect answer), as an HMAC-SHA256 of the raw body (GitHub, Gitea) or the secret itself (GitLab). A verified push to the connected ref (branch or tag) signals a sync, once per delivery id; other events, other refs, a deleted ref, and repositories neither PENDING, CLONING nor COMPLETED are answered 202 `ignored`. A delivery id already acted on is answered 202 `duplicate` and triggers nothing; a push whose `after` is the commit checked out, or the push last accepted (whatever its delivery id), is answered 202 `ignored` with reason `up_to_date` and triggers nothing. Accepted pushes draw from a per-repository bucket; one over it is still accepted, with reason `coalesced`: it joins the repository's one deferred sync, run (durably, by Temporal) when the bucket has a token again, which fetches the ref's tip and with it every push coalesced meanwhile (Git hosts do not redeliver a 429).",
          parameters: [uuidParam('repo_id'), ...webhookHeaders],
          requestBody: {
            required: true,
            content: {
              'application/json': {
                schema: {
                  type: 'object',
                  description:
                    "The sender's event payload; of a push, `ref`, `after` and the repository's `default_branch` are read",
                },
              },
            },
          },
          responses: {
            202: ok(
              'Accepted (a sync asked for, or over the rate `coalesced` into the deferred sync), duplicate, or ignored with its reason',
              webhookAnswerSchema,
            ),
            400: error(
              'No delivery id header, a push whose body is not JSON, or whose `after` is not a commit id (`bad_request`)',
            ),
            401: error(
              "No signature header, or a signature (or GitLab token) that does not match the repository's webhook secret (`invalid_signature`)",
            ),
            404: error('No such repository (`not_found`)'),
            409: error(
              'Disconnected (`disconnected`); connected before webhooks existed, so without a webhook secret: connect it again (`invalid_state`); or its workflow has ended (`invalid_state`)',
            ),
            413: error('Body over 1 MiB (`payload_too_large`)'),
            422: error('repo_id is not a UUID (`validation_error`, with `issues`)'),
            429: error(
              "The repository's webhook secret had to be opened more often than a key-service budget allows (`rate_limited`, with Retry-After); pushes over the sync rate are coalesced, not refused",
              headers.retryAfterOurs,
            ),
            500: kms[500],
            502: error('PostgreSQL unreachable (`upstream_unavailable`): redeliver shortly'),
            503: error(
              'Temporal unreachable, the push not acted on (`upstream_unavailable`, with Retry-After), or the key service unavailable (`kms_unavailable`): redeliver shortly',
              headers.retryAfterOurs,
            ),
          },
        },
      },
      '/healthz': { get: { summary: 'Process alive', responses: { 200: ok('Alive', healthSchema) } } },
      '/readyz': {
        get: {
          summary: 'PostgreSQL and Temporal answer, and Temporal has our search attributes',
          responses: { 200: ok('Ready', readySchema), 503: error('Names what is down (`not_ready`, with `checks`)') },
        },
      },
      '/metrics': {
        get: {
          summary: 'Prometheus metrics',
          responses: {
            200: text('Prometheus text format'),
            401: error('METRICS_TOKEN is set and this is not it (`unauthorized`)', headers.wwwAuthenticate),
          },
        },
      },
    },
  };
}
