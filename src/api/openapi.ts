import { z } from 'zod';
import { egressPolicyOf } from '../git/remote-guard.js';
import {
  acceptedSchema,
  admissionPendingSchema,
  disconnectedSchema,
  connectRequestSchema,
  connectResponseSchema,
  createProjectSchema,
  errorSchema,
  listReposQuerySchema,
  projectSchema,
  repoListSchema,
  repoSchema,
  repoStatusSchema,
  retryRequestSchema,
} from './schemas.js';

const jsonSchema = (schema: z.ZodType, io: 'input' | 'output' = 'output') => {
  const { $schema: _ignored, ...rest } = z.toJSONSchema(schema, { io, unrepresentable: 'any' }) as Record<string, unknown>;
  return rest;
};
const json = (schema: z.ZodType, io: 'input' | 'output' = 'output') => ({ 'application/json': { schema: jsonSchema(schema, io) } });
const ok = (description: string, schema: z.ZodType) => ({ description, content: json(schema) });
const error = (description: string) => ({ description, content: json(errorSchema) });
const uuidParam = (name: string) => ({ name, in: 'path', required: true, schema: { type: 'string', format: 'uuid' } });
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

/** Errors every authenticated endpoint can answer. */
const common = {
  401: error('Missing, invalid or expired bearer token (`unauthorized`)'),
  422: error('Invalid input (`validation_error`, with `issues`)'),
  500: error('Internal error (`internal_error`, with a request id to quote)'),
};
const posting = { ...common, 413: error('Request body over 64 KiB (`payload_too_large`)'), 429: error('Rate limited (`rate_limited`; see Retry-After)') };
const authed = { security: [{ bearerAuth: [] }] };

/** The OpenAPI document, generated from the same zod schemas that validate requests. */
export function openApiDocument(settings: Parameters<typeof egressPolicyOf>[0]) {
  const listQuery = jsonSchema(listReposQuerySchema, 'input') as { properties: Record<string, unknown> };
  return {
    openapi: '3.1.0',
    info: { title: 'repo-connector', version: '0.1.0', description: 'Connects Git repositories to the platform.' },
    components: { securitySchemes: { bearerAuth: { type: 'http', scheme: 'bearer', bearerFormat: 'JWT' } } },
    paths: {
      '/api/v1/projects': {
        post: { ...authed, summary: 'Create a project owned by the caller', requestBody: body(createProjectSchema),
          responses: { 201: ok('Created', projectSchema), ...posting } },
      },
      '/api/v1/projects/{project_id}': {
        get: { ...authed, summary: 'Get one of the caller\'s projects', parameters: [uuidParam('project_id')],
          responses: { 200: ok('The project', projectSchema), 404: error('No such project of the caller\'s (`project_not_found`)'), ...common } },
      },
      '/api/v1/code/connect': {
        post: {
          ...authed,
          summary: 'Connect a Git repository',
          description: 'Starts the connectRepository workflow and answers once it admits or rejects the request. Keys (request_id or Idempotency-Key) are scoped per user: the same key with the same parameters gets the first 201 answer again, byte for byte, with `Idempotent-Replayed: true`; a rejected request left nothing behind, so its key is evaluated afresh; other parameters (another access_token included) are a 409.',
          parameters: [{ name: 'Idempotency-Key', in: 'header', required: false, schema: { type: 'string', format: 'uuid' }, description: 'Same as request_id; both given and different is a 422' }],
          requestBody: body(connectRequestSchema(egressPolicyOf(settings))),
          responses: {
            201: ok('Admitted (or the first answer again, with `Idempotent-Replayed: true`)', connectResponseSchema),
            202: ok('Admission outlasted ADMISSION_WAIT_SECONDS: send the same request again (see Retry-After) for the outcome', admissionPendingSchema),
            ...posting,
            401: error('Bearer token invalid (`unauthorized`) or Git token rejected (`invalid_credentials`)'),
            404: error('Unknown project (`project_not_found`) or repository (`repository_not_found`)'),
            409: error('request_id reused with other parameters (`idempotency_key_reused`)'),
            413: error('Repository too large (`repository_too_large`, with estimated_size_mb and limit_mb) or body over 64 KiB'),
            429: error('Too many requests from the caller (`rate_limited`, with Retry-After), or the Git server kept rate limiting the size check (`rate_limited`, no Retry-After: git does not show the server\'s)'),
            502: error('Git server or workflow service unreachable (`upstream_unavailable`)'),
            507: error('No disk space for the clone (`insufficient_storage`)'),
          },
        },
      },
      '/api/v1/code/repos/{repo_id}': {
        get: { ...authed, summary: 'Get a repository', parameters: [uuidParam('repo_id')],
          responses: { 200: ok('The repository', repoSchema), 404: error('No such repository of the caller\'s (`not_found`)'), ...common } },
        delete: {
          ...authed,
          summary: 'Disconnect a repository',
          description: 'Destroys the stored access token at once, cancels a running clone and removes the sandbox; the row stays for the audit trail, CLEANED with disconnected_at. The same again when repeated.',
          parameters: [uuidParam('repo_id')],
          responses: { 202: ok('Disconnected (clean-up under way or done)', disconnectedSchema), 404: error('No such repository of the caller\'s (`not_found`)'), ...posting },
        },
      },
      '/api/v1/code/repos/{repo_id}/status': {
        get: { ...authed, summary: 'Clone status and live progress', parameters: [uuidParam('repo_id')],
          responses: { 200: ok('Status', repoStatusSchema), 404: error('No such repository (`not_found`)'), ...common } },
      },
      '/api/v1/code/repos/{repo_id}/events': {
        get: {
          ...authed,
          summary: 'Clone status and live progress as a stream of Server-Sent Events',
          description: 'An `event: status` at once, then one each time the status changes; its `data` is the JSON of `/status`, its `id` increases. The stream closes after the first COMPLETED, FAILED or CLEANED status (close the EventSource there: a reconnect gets that status again), and after 30 minutes in any case (an EventSource reconnects, sending Last-Event-ID). A comment line keeps a quiet stream alive every 15 s.',
          parameters: [uuidParam('repo_id'), { name: 'Last-Event-ID', in: 'header', required: false, schema: { type: 'integer', minimum: 0 }, description: 'Sent by an EventSource when it reconnects: the ids go on after it' }],
          responses: {
            200: { description: 'The stream', content: { 'text/event-stream': { schema: eventStream('status', repoStatusSchema) } } },
            404: error('No such repository (`not_found`)'),
            429: error('Too many event streams open: the caller holds 5, or the API its most (`rate_limited`)'),
            ...common,
          },
        },
      },
      '/api/v1/code/projects/{project_id}/repos': {
        get: {
          ...authed,
          summary: 'A project\'s repositories, oldest first',
          description: 'A page of at most `limit`; when more follow, the `X-Next-Cursor` header carries the `cursor` for the next page.',
          parameters: [uuidParam('project_id'), ...Object.entries(listQuery.properties).map(([name, schema]) => ({ name, in: 'query', required: false, schema }))],
          responses: { 200: ok('The page', repoListSchema), 404: error('No such project (`project_not_found`)'), ...common },
        },
      },
      '/api/v1/code/repos/{repo_id}/cleanup': {
        post: { ...authed, summary: 'Remove the sandbox now (signals the workflow)', parameters: [uuidParam('repo_id')],
          responses: { 202: ok('Cleanup requested', acceptedSchema), 404: error('No such repository (`not_found`)'), 409: error('Already cleaned, or its workflow has ended (`invalid_state`)'), ...posting } },
      },
      '/api/v1/code/repos/{repo_id}/retry': {
        post: { ...authed, summary: 'Clone a FAILED repository again, optionally with a new access token', parameters: [uuidParam('repo_id')],
          requestBody: body(retryRequestSchema),
          responses: {
            ...posting,
            202: ok('Retry requested', acceptedSchema),
            404: error('No such repository (`not_found`)'),
            409: error('Not FAILED, or its workflow has ended (`invalid_state`), or disconnected (`disconnected`)'),
            413: error('Body over 64 KiB (`payload_too_large`), or it failed as too large and a new probe finds it still over the limit (`repository_too_large`)'),
          } },
      },
      '/healthz': { get: { summary: 'Process alive', responses: { 200: { description: 'Alive' } } } },
      '/readyz': { get: { summary: 'PostgreSQL and Temporal answer, and Temporal has our search attributes', responses: { 200: { description: 'Ready' }, 503: error('Names what is down (`not_ready`)') } } },
      '/metrics': { get: { summary: 'Prometheus metrics', responses: { 200: { description: 'Prometheus text format', content: { 'text/plain': { schema: { type: 'string' } } } } } } },
    },
  };
}

export const DOCS_PAGE = `<!doctype html>
<html lang="en">
<head><meta charset="utf-8"><title>repo-connector API</title></head>
<body>
<script id="api-reference" data-url="/openapi.json"></script>
<script src="https://cdn.jsdelivr.net/npm/@scalar/api-reference@1"></script>
</body>
</html>`;
