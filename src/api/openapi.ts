import {
  authed,
  body,
  error,
  headers,
  kms,
  ok,
  postingJson,
  projectNotFound,
  queryParameters,
  reading,
  text,
  uuidParam,
} from './openapi-responses.js';
import { z } from 'zod';
import { createProjectSchema, listReposQuerySchema } from './schemas.js';
import { healthSchema, projectSchema, readySchema, webhookAnswerSchema } from './response-schemas.js';

import { codePaths, type DocumentSettings } from './openapi-code.js';
import { readPaths } from './openapi-reads.js';

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
export function openApiDocument(settings: DocumentSettings) {
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
        get: {
          ...authed,
          summary: "The caller's projects, oldest first, a page at a time",
          parameters: queryParameters(listReposQuerySchema),
          responses: { 200: ok('The page', z.array(projectSchema), headers.nextCursor), ...reading },
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
      ...codePaths(settings),
      ...readPaths(settings.readBounds),
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
