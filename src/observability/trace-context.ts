import { SpanStatusCode, context, trace, type Attributes, type Span } from '@opentelemetry/api';
import { outcomeOf } from '../shared/errors.js';

/**
 * The trace and span this code runs in, when tracing records it (README, "Tracing"): for log
 * lines, audit rows and responses. Only the OpenTelemetry API: cheap, and empty when tracing is off.
 */
export function activeTrace(): { traceId: string; spanId: string } | undefined {
  const span = trace.getSpan(context.active());
  if (!span?.isRecording()) return undefined;
  const { traceId, spanId } = span.spanContext();
  return { traceId, spanId };
}

export const currentTraceId = (): string | undefined => activeTrace()?.traceId;

export const tracer = () => trace.getTracer('repo-connector');

/** Runs `work` in a span named after the design's (token-encryption, size-validation, db-insert, …). */
export async function inSpan<T>(name: string, attributes: Attributes, work: (span: Span) => Promise<T>): Promise<T> {
  return tracer().startActiveSpan(name, { attributes }, async (span) => {
    try {
      const result = await work(span);
      span.setAttribute('outcome', 'ok');
      return result;
    } catch (err) {
      span.setAttribute('outcome', outcomeOf(err));
      span.setStatus({ code: SpanStatusCode.ERROR });
      throw err;
    } finally {
      span.end();
    }
  });
}
