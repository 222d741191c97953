import { SpanKind, SpanStatusCode, context, propagation } from '@opentelemetry/api';
import type { MiddlewareHandler } from 'hono';
import { tracer } from '../observability/trace-context.js';
import type { ApiEnv } from './context.js';

/**
 * The design's `http-request` span around each request, continuing the caller's trace when it
 * sends `traceparent`. Everything the request does (its log lines, audit rows, the workflow it
 * starts and that workflow's activities) belongs to this trace; the response names it in
 * `X-Trace-Id`, beside `X-Request-Id`. Attributes hold the method, path and route, never a query
 * string, header or body.
 */
export const traceRequests = (): MiddlewareHandler<ApiEnv> => async (c, next) => {
  const parent = propagation.extract(context.active(), Object.fromEntries(c.req.raw.headers));
  const attributes = { 'http.request.method': c.req.method, 'url.path': c.req.path, 'request.id': c.get('requestId') };
  await tracer().startActiveSpan('http-request', { kind: SpanKind.SERVER, attributes }, parent, async (span) => {
    if (span.isRecording()) c.header('X-Trace-Id', span.spanContext().traceId);
    try {
      await next();
    } finally {
      span.setAttributes({ 'http.route': c.req.routePath, 'http.response.status_code': c.res.status });
      if (c.res.status >= 500) span.setStatus({ code: SpanStatusCode.ERROR });
      span.end();
    }
  });
};
