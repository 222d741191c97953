import { ROOT_CONTEXT, SpanKind, SpanStatusCode, context, trace, type Link } from '@opentelemetry/api';
import { W3CTraceContextPropagator } from '@opentelemetry/core';
import type { MiddlewareHandler } from 'hono';
import { tracer } from '../observability/trace-context.js';
import type { ApiEnv } from './context.js';

const w3c = new W3CTraceContextPropagator();

/**
 * A caller's `traceparent`, as a link: its trace, sampling flag and `tracestate` are not taken
 * on, since they would travel on (and be stored plain in Temporal's history) as the caller chose.
 */
function callerLink(headers: Headers): Link[] {
  const caller = trace.getSpanContext(
    w3c.extract(ROOT_CONTEXT, headers, {
      get: (h: Headers, key) => h.get(key) ?? undefined,
      keys: (h: Headers) => [...h.keys()],
    }),
  );
  return caller && trace.isSpanContextValid(caller)
    ? [{ context: { traceId: caller.traceId, spanId: caller.spanId, traceFlags: caller.traceFlags } }]
    : [];
}

/**
 * The design's `http-request` span around each request: the root of a trace of our own, linked to
 * the caller's when it sends `traceparent`. Everything the request does (its log lines, audit
 * rows, the workflow it starts and that workflow's activities) belongs to this trace; the
 * response names it in `X-Trace-Id`, beside `X-Request-Id`. Attributes hold the method, path and
 * route, never a query string, header or body.
 */
export const traceRequests = (): MiddlewareHandler<ApiEnv> => async (c, next) => {
  const attributes = { 'http.request.method': c.req.method, 'url.path': c.req.path, 'request.id': c.get('requestId') };
  const options = { kind: SpanKind.SERVER, attributes, links: callerLink(c.req.raw.headers), root: true };
  await tracer().startActiveSpan('http-request', options, context.active(), async (span) => {
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
