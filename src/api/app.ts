import { ServiceError } from '@temporalio/client';
import { Hono, type MiddlewareHandler } from 'hono';
import { bodyLimit } from 'hono/body-limit';
import { except } from 'hono/combine';
import { cors } from 'hono/cors';
import { HTTPException } from 'hono/http-exception';
import type { ContentfulStatusCode } from 'hono/utils/http-status';
import { requestId } from 'hono/request-id';
import { metricsAuthorized } from '../observability/metrics-server.js';
import { METRICS_CONTENT_TYPE, scrapeMetrics } from '../observability/scrape.js';
import { isDatabaseUnavailable } from '../db/client.js';
import { REPO_ERRORS, RepoError } from '../shared/errors.js';
import { createTokenVerifier, requireUser } from './auth.js';
import { codecAccess, codecCallerKey } from './codec-access.js';
import type { ApiEnv } from './context.js';
import type { ApiDeps } from './deps.js';
import { ApiError, errorBody, sendError } from './errors.js';
import { docsRoutes } from './docs.js';
import { localRateLimit } from './local-rate-limit.js';
import { unmatchedRequest } from './method-not-allowed.js';
import { openApiDocument } from './openapi.js';
import { fullAfterSeconds, rateLimit } from './rate-limit.js';
import { securityHeaders } from './security-headers.js';
import { traceRequests } from './tracing.js';
import { codeRoutes } from './routes/code.js';
import { codeReadRoutes } from './routes/code-read.js';
import { isMcpWrite, mcpRoutes } from './mcp.js';
import { codecRoutes } from './routes/codec.js';
import { healthRoutes } from './routes/health.js';
import { hookRoutes, MAX_WEBHOOK_BODY_BYTES } from './routes/hooks.js';
import { projectRoutes } from './routes/projects.js';

const MAX_BODY_BYTES = 64 * 1024;
/** CODEC_MAX_PAYLOADS (100) of ours come to well under 1 MiB; a bigger body is only more to parse before it is refused. */
const MAX_CODEC_BODY_BYTES = 2 * 1024 * 1024;
/** The payload codec for the Temporal Web UI: CORS, auth and limits of its own (src/api/routes/codec.ts). */
const CODEC_PATHS = '/codec/*';
/** Push webhooks: authenticated by their signature, not a bearer token (a Git server cannot carry ours). */
const HOOK_PATHS = '/api/v1/hooks/*';

/**
 * The whole HTTP surface, built from its dependencies; no side effects until a request arrives.
 * Order: request id → trace span → security headers → CORS → request log → body limit → (auth → rate limit: writes, reads) → routes;
 * the push webhooks skip auth and the per-user limit: their signature authenticates them.
 */
export function createApp(deps: ApiDeps) {
  const app = new Hono<ApiEnv>();
  const { settings } = deps;

  app.use(requestId({ limitLength: 128, headerName: 'X-Request-Id' }));
  app.use(traceRequests());
  app.use(securityHeaders());
  const apiCors = cors({
    origin: settings.allowedOrigins,
    allowHeaders: ['Authorization', 'Content-Type', 'Idempotency-Key', 'X-Request-Id', 'Last-Event-ID'],
    exposeHeaders: ['X-Request-Id', 'X-Trace-Id', 'X-Next-Cursor', 'Retry-After'],
    maxAge: 600,
  });
  // /codec has its own CORS: only the Temporal UI's origin may call it.
  app.use(except(CODEC_PATHS, apiCors));
  app.use(async (c, next) => {
    c.set('log', deps.logger.child({ requestId: c.get('requestId') }));
    const started = performance.now();
    await next();
    c.get('log').info(
      {
        method: c.req.method,
        path: c.req.path,
        status: c.res.status,
        durationMs: Math.round(performance.now() - started),
        userId: c.get('userId') ?? null,
      },
      'request',
    );
  });
  const limitBody = (maxSize: number) =>
    bodyLimit({
      maxSize,
      onError: (c) => c.json(errorBody('payload_too_large', `Request body exceeds ${maxSize / 1024} KiB`), 413),
    });
  // The Web UI sends whole batches of history payloads to /codec; a Git server a push's commits to the hooks.
  app.use(CODEC_PATHS, limitBody(MAX_CODEC_BODY_BYTES));
  app.use(HOOK_PATHS, limitBody(MAX_WEBHOOK_BODY_BYTES));
  app.use(except([CODEC_PATHS, HOOK_PATHS], limitBody(MAX_BODY_BYTES)));

  const openApi = openApiDocument(settings);
  app.get('/openapi.json', (c) => c.json(openApi));
  app.route('/docs', docsRoutes());
  if (settings.metricsOnApiPort !== false) {
    app.get('/metrics', async (c) => {
      if (!metricsAuthorized(c.req.header('Authorization'), settings.metricsToken)) {
        return c.json(errorBody('unauthorized', 'Metrics need the bearer token METRICS_TOKEN names'), 401, {
          'WWW-Authenticate': 'Bearer',
        });
      }
      return c.text(await scrapeMetrics(), 200, { 'Content-Type': METRICS_CONTENT_TYPE });
    });
  }
  app.route('/', healthRoutes(deps));

  // One verifier, so /api/v1 and /codec share one cached key set.
  const verify = createTokenVerifier({
    jwtSecret: settings.jwtSecret,
    jwksUrl: settings.jwksUrl,
    issuer: settings.jwtIssuer,
    audience: settings.jwtAudience,
    jwksCooldownMs: settings.jwksCooldownMs,
  });
  const auth = requireUser(verify);
  app.route(
    '/codec',
    codecRoutes({
      codec: deps.codec,
      uiOrigin: settings.temporalUiOrigins,
      access: codecAccess(
        requireUser(verify, { scope: settings.codec.operatorScope }),
        settings.codec.loopbackUiOrigins,
      ),
      rateLimit: localRateLimit<ApiEnv>(settings.codec.rateLimit, codecCallerKey),
      maxPayloads: settings.codec.maxPayloads,
    }),
  );
  // The hooks verify their own signature and limit by repository (src/api/routes/hooks.ts); everything else under /api/v1 needs the user.
  app.use('/api/v1/*', except(HOOK_PATHS, auth));
  // Writes and reads draw from buckets of their own: polling a status never costs a connect.
  // The hooks' per-repository buckets share the table, and so the sweep.
  const idleSeconds = Math.max(
    ...[settings.rateLimit, settings.readRateLimit, settings.webhookSyncRateLimit].map(fullAfterSeconds),
  );
  const writes = rateLimit(deps.sql, settings.rateLimit, { keyPrefix: 'write:', idleSeconds });
  const reads = rateLimit(deps.sql, settings.readRateLimit, { keyPrefix: 'read:', idleSeconds });
  const limitByMethod: MiddlewareHandler<ApiEnv> = async (c, next) => {
    if (c.req.method === 'POST') return writes(c, next);
    // Hono answers a HEAD with the GET route: it costs what the GET costs.
    return c.req.method === 'GET' || c.req.method === 'HEAD' ? reads(c, next) : next();
  };
  app.use('/api/v1/*', except(HOOK_PATHS, limitByMethod));
  // An MCP call is a POST: a tool that acts (sync_repository) draws from the write bucket, the others read.
  app.use('/mcp', auth, async (c, next) => ((await isMcpWrite(c.req)) ? writes(c, next) : reads(c, next)));
  app.route('/api/v1/hooks', hookRoutes(deps));
  app.route('/api/v1/projects', projectRoutes(deps));
  app.route('/api/v1/code', codeRoutes(deps));
  app.route('/api/v1/code', codeReadRoutes(deps));
  app.route('/mcp', mcpRoutes(deps));

  app.notFound(unmatchedRequest(() => app.routes));
  app.onError((err, c) => {
    if (err instanceof ApiError) return sendError(c, err);
    if (err instanceof HTTPException && err.status < 500) {
      const status = err.status as 400;
      const message = status === 400 ? 'Malformed request body: expected valid JSON' : err.message || 'Bad request';
      return c.json(errorBody(status === 400 ? 'bad_request' : 'http_error', message), status);
    }
    const requestId = c.get('requestId');
    // A failure of the closed set raised in the API itself (the key service sealing a token, say): its own status and code.
    if (err instanceof RepoError) {
      const status = REPO_ERRORS[err.code].status as ContentfulStatusCode;
      // A refused key (500) is a configuration problem for an operator; an unavailable one (503) a passing outage.
      c.get('log')[status >= 500 && status !== 503 ? 'error' : 'warn'](
        { err: { code: err.code, message: err.message } },
        'request failed',
      );
      return sendError(c, new ApiError(status, err.code, err.message, { ...err.details, request_id: requestId }));
    }
    // A dependency that cannot be reached right now: the caller may try again shortly.
    const unavailable = (what: string) =>
      c.json(
        errorBody('upstream_unavailable', `The ${what} is unavailable; try again shortly`, { request_id: requestId }),
        502,
      );
    if (isDatabaseUnavailable(err)) {
      c.get('log').warn({ err: { message: err.message } }, 'database unavailable');
      return unavailable('database');
    }
    if (err instanceof ServiceError) {
      c.get('log').warn({ err }, 'Temporal unavailable');
      return unavailable('workflow service');
    }
    c.get('log').error({ err }, 'unhandled error');
    return c.json(
      errorBody('internal_error', `Internal error; quote request id ${requestId}`, { request_id: requestId }),
      500,
    );
  });
  return app;
}
