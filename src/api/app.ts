import { randomUUID } from 'node:crypto';
import { Hono } from 'hono';
import { bodyLimit } from 'hono/body-limit';
import { HTTPException } from 'hono/http-exception';
import type { ApiDeps } from './deps.js';
import { ApiError, errorBody, sendError } from './errors.js';
import { DOCS_PAGE, openApiDocument } from './openapi.js';
import { codeRoutes } from './routes/code.js';
import { healthRoutes } from './routes/health.js';
import { projectRoutes } from './routes/projects.js';

export type AppEnv = { Variables: { requestId: string } };

const MAX_BODY_BYTES = 64 * 1024;
const REQUEST_ID = /^[A-Za-z0-9._:-]{1,128}$/;

/** The whole HTTP surface, built from its dependencies; no side effects until a request arrives. */
export function createApp(deps: ApiDeps) {
  const app = new Hono<AppEnv>();

  app.use(async (c, next) => {
    const incoming = c.req.header('x-request-id');
    const requestId = incoming && REQUEST_ID.test(incoming) ? incoming : randomUUID();
    c.set('requestId', requestId);
    c.header('X-Request-Id', requestId);
    const started = performance.now();
    await next();
    deps.logger.info({
      requestId,
      method: c.req.method,
      path: c.req.path,
      status: c.res.status,
      durationMs: Math.round(performance.now() - started),
    }, 'request');
  });
  app.use(bodyLimit({
    maxSize: MAX_BODY_BYTES,
    onError: (c) => c.json(errorBody('payload_too_large', `Request body exceeds ${MAX_BODY_BYTES / 1024} KiB`), 413),
  }));

  const openApi = openApiDocument(deps.settings.allowLoopback);
  app.get('/openapi.json', (c) => c.json(openApi));
  app.get('/docs', (c) => c.html(DOCS_PAGE));
  app.route('/', healthRoutes(deps));
  app.route('/api/v1/projects', projectRoutes(deps));
  app.route('/api/v1/code', codeRoutes(deps));

  app.notFound((c) => c.json(errorBody('not_found', `No route for ${c.req.method} ${c.req.path}`), 404));
  app.onError((err, c) => {
    if (err instanceof ApiError) return sendError(c, err);
    if (err instanceof HTTPException) {
      const status = err.status as 400;
      return c.json(errorBody(status === 400 ? 'bad_request' : 'http_error', err.message || 'Bad request'), status);
    }
    const requestId = c.get('requestId');
    deps.logger.error({ requestId, err: { type: err.name, message: err.message } }, 'unhandled error');
    return c.json(errorBody('internal_error', `Internal error; quote request id ${requestId}`, { request_id: requestId }), 500);
  });
  return app;
}
