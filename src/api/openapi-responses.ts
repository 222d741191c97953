import { z } from 'zod';
import { CURSOR_PATTERN } from './pagination.js';
import { uuid } from './schemas.js';
import { errorSchema } from './response-schemas.js';

/** A zod schema as the JSON Schema the document carries (what a request may send, or what a response holds). */
export const jsonSchema = (schema: z.ZodType, io: 'input' | 'output' = 'output') => {
  const { $schema: _ignored, ...rest } = z.toJSONSchema(schema, { io, unrepresentable: 'any' }) as Record<
    string,
    unknown
  >;
  return rest;
};
/** A query's zod schema as the document's query parameters, each required when the query must carry it. */
export const queryParameters = (schema: z.ZodType) => {
  const { properties, required = [] } = jsonSchema(schema, 'input') as {
    properties: Record<string, unknown>;
    required?: string[];
  };
  return Object.entries(properties).map(([name, s]) => ({
    name,
    in: 'query',
    required: required.includes(name),
    schema: s,
  }));
};

export const json = (schema: z.ZodType, io: 'input' | 'output' = 'output') => ({
  'application/json': { schema: jsonSchema(schema, io) },
});

export const header = (required: boolean, description: string, schema: Record<string, unknown>) => ({
  required,
  description,
  schema,
});

/** Headers every response carries, whatever its status. */
export const everyResponse = {
  'X-Request-Id': header(
    true,
    "The caller's X-Request-Id when it is 1-128 of `A-Za-z0-9_=-`, else a new one: the correlation id of the log lines, audit rows and workflow",
    { type: 'string', pattern: '^[A-Za-z0-9_=-]{1,128}$' },
  ),
  'X-Trace-Id': header(false, 'The OpenTelemetry trace of the request, when tracing is on', {
    type: 'string',
    pattern: '^[0-9a-f]{32}$',
  }),
};
const retryAfter = (required: boolean, description: string) =>
  header(required, description, { type: 'string', pattern: '^[0-9]{1,10}$' });

export const headers = {
  retryAfterRequired: { 'Retry-After': retryAfter(true, 'Seconds to wait before asking again') },
  retryAfterOurs: {
    'Retry-After': retryAfter(
      false,
      "Seconds until the caller's rate limit lets a request through; absent when the limit was another's (the Git server's)",
    ),
  },
  wwwAuthenticate: {
    'WWW-Authenticate': header(false, '`Bearer` when the bearer token was the problem', { type: 'string' }),
  },
  nextCursor: {
    'X-Next-Cursor': header(false, 'The `cursor` of the next page; absent on the last', {
      type: 'string',
      pattern: CURSOR_PATTERN.source,
    }),
  },
  replayed: {
    'Idempotent-Replayed': header(false, 'The first answer to this idempotency key, again', {
      type: 'string',
      const: 'true',
    }),
  },
  noStore: {
    'Cache-Control': header(true, 'The answer carries the webhook secret: no cache may keep it', {
      type: 'string',
      const: 'no-store',
    }),
  },
};
type Headers = Record<string, ReturnType<typeof header>>;

export const ok = (description: string, schema: z.ZodType, extra: Headers = {}) => ({
  description,
  headers: { ...everyResponse, ...extra },
  content: json(schema),
});
export const error = (description: string, extra: Headers = {}) => ({
  description,
  headers: { ...everyResponse, ...extra },
  content: json(errorSchema),
});
export const stream = (description: string, schema: Record<string, unknown>) => ({
  description,
  headers: everyResponse,
  content: { 'text/event-stream': { schema } },
});
/** A body of bytes of one or more media types (an archive, a raw file). */
export const bytes = (description: string, types: string[], extra: Headers = {}) => ({
  description,
  headers: { ...everyResponse, ...extra },
  content: Object.fromEntries(types.map((type) => [type, { schema: { type: 'string', contentMediaType: type } }])),
});
export const text = (description: string) => ({
  description,
  headers: everyResponse,
  content: { 'text/plain': { schema: { type: 'string' } } },
});

/** Errors every authenticated endpoint can answer: the token, its input, and the dependencies it reads. */
export const authenticated = {
  401: error('Missing, invalid or expired bearer token (`unauthorized`)', headers.wwwAuthenticate),
  422: error('Invalid input (`validation_error`, with `issues`)'),
  500: error('Internal error (`internal_error`, with a request id to quote)'),
  502: error('PostgreSQL or Temporal unreachable (`upstream_unavailable`): try again shortly'),
};
/** What a GET adds: the caller's read rate limit. */
export const reading = {
  ...authenticated,
  429: error('Rate limited: too many reads (`rate_limited`, with Retry-After)', headers.retryAfterOurs),
};
/** What a POST adds: its rate limit and the body limit. */
export const posting = {
  ...authenticated,
  413: error('Request body over 64 KiB (`payload_too_large`)'),
  429: error('Rate limited (`rate_limited`, with Retry-After)', headers.retryAfterOurs),
};
/** What a POST with a JSON body adds. */
export const postingJson = { ...posting, 400: error('The body is not JSON (`bad_request`)') };

export const uuidParam = (name: string) => ({ name, in: 'path', required: true, schema: jsonSchema(uuid, 'input') });
export const body = (schema: z.ZodType) => ({ required: true, content: json(schema, 'input') });
/** A text/event-stream body (OpenAPI 3.1 has no word for one): the sequence of its events, each `data` a JSON document. */
export const authed = { security: [{ bearerAuth: [] }] };
export const projectNotFound = error("No such project of the caller's (`project_not_found`)");
/** Refusals the workflow can send back (src/shared/errors.ts), beyond the input's own. */
export const kms = {
  500: error('Internal error (`internal_error`), or the key service refused to seal the token (`kms_rejected`)'),
  503: error('The key service is unavailable (`kms_unavailable`): try again shortly'),
};
