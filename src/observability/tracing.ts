import { OTLPTraceExporter as GrpcExporter } from '@opentelemetry/exporter-trace-otlp-grpc';
import { OTLPTraceExporter as JsonExporter } from '@opentelemetry/exporter-trace-otlp-http';
import { OTLPTraceExporter as ProtobufExporter } from '@opentelemetry/exporter-trace-otlp-proto';
import { Resource } from '@opentelemetry/resources';
import { NodeSDK } from '@opentelemetry/sdk-node';
import type { Context } from '@opentelemetry/api';
import { W3CTraceContextPropagator } from '@opentelemetry/core';
import {
  BatchSpanProcessor,
  NoopSpanProcessor,
  type ReadableSpan,
  type Span,
  type SpanExporter,
  type SpanProcessor,
} from '@opentelemetry/sdk-trace-base';
import { OpenTelemetryWorkflowClientInterceptor } from '@temporalio/interceptors-opentelemetry/lib/client/index.js';
import {
  OpenTelemetryActivityInboundInterceptor,
  OpenTelemetryActivityOutboundInterceptor,
  makeWorkflowExporter,
} from '@temporalio/interceptors-opentelemetry/lib/worker/index.js';
import type { OpenTelemetrySinks } from '@temporalio/interceptors-opentelemetry/lib/workflow/definitions.js';
import type { ActivityInterceptorsFactory, InjectedSinks } from '@temporalio/worker';
import type { Logger } from '../config/logger.js';
import { maskString } from '../config/masking.js';

/**
 * OpenTelemetry tracing, configured by the standard OTEL_* variables (README, "Tracing"). Off
 * unless an OTLP endpoint is set: then no SDK starts, the spans our code and Temporal's client and
 * activity interceptors open are the API's non-recording ones, and the workflow's (made in its
 * sandbox) are dropped at the sink, all of which costs next to nothing.
 */
let processor: SpanProcessor = new NoopSpanProcessor();
let started = false;

/** Whether startTracing started tracing in this process. */
export const tracingStarted = (): boolean => started;
let resource = Resource.default();

export function tracingEnabled(env: NodeJS.ProcessEnv = process.env): boolean {
  if (env.OTEL_SDK_DISABLED === 'true' || env.OTEL_TRACES_EXPORTER === 'none') return false;
  return Boolean(env.OTEL_EXPORTER_OTLP_ENDPOINT || env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT);
}

/** The OTLP exporter for the protocol the environment names (http/protobuf unless told otherwise). */
function exporterFromEnv(env: NodeJS.ProcessEnv): SpanExporter {
  switch (env.OTEL_EXPORTER_OTLP_TRACES_PROTOCOL ?? env.OTEL_EXPORTER_OTLP_PROTOCOL ?? 'http/protobuf') {
    case 'http/json':
      return new JsonExporter();
    case 'grpc':
      return new GrpcExporter();
    default:
      return new ProtobufExporter();
  }
}

/**
 * Spans leave through this: Temporal's interceptors record each failure as an exception event
 * (message and stack) and a status message. Stacks are dropped and messages masked as log lines
 * are, so what a trace backend holds is no more than what the logs may.
 */
class ScrubbingSpanProcessor implements SpanProcessor {
  constructor(private readonly next: SpanProcessor) {}
  onStart(span: Span, parent: Context): void {
    this.next.onStart(span, parent);
  }
  onEnd(span: ReadableSpan): void {
    for (const event of span.events) {
      if (!event.attributes) continue;
      delete event.attributes['exception.stacktrace'];
      const message = event.attributes['exception.message'];
      if (typeof message === 'string') event.attributes['exception.message'] = maskString(message);
    }
    if (span.status.message) (span.status as { message?: string }).message = maskString(span.status.message);
    this.next.onEnd(span);
  }
  forceFlush(): Promise<void> {
    return this.next.forceFlush();
  }
  shutdown(): Promise<void> {
    return this.next.shutdown();
  }
}

/**
 * Starts tracing for this process when the environment asks for it; entry points call this
 * first. `stop()` flushes what is still buffered.
 */
export function startTracing(
  serviceName: string,
  logger: Logger,
  env: NodeJS.ProcessEnv = process.env,
): { stop(): Promise<void> } {
  if (!tracingEnabled(env)) return { stop: async () => {} };
  resource = Resource.default().merge(new Resource({ 'service.name': env.OTEL_SERVICE_NAME ?? serviceName }));
  processor = new ScrubbingSpanProcessor(new BatchSpanProcessor(exporterFromEnv(env)));
  // W3C trace context only: no baggage travels into Temporal's headers.
  const sdk = new NodeSDK({
    resource,
    spanProcessors: [processor],
    textMapPropagator: new W3CTraceContextPropagator(),
    instrumentations: [],
  });
  sdk.start();
  started = true;
  logger.info({ serviceName: env.OTEL_SERVICE_NAME ?? serviceName }, 'tracing to an OTLP endpoint');
  return {
    stop: async () => {
      started = false;
      await sdk.shutdown();
    },
  };
}

/** Carries the trace into workflows started, signalled and queried through a client. */
export const clientInterceptors = () => ({ workflow: [new OpenTelemetryWorkflowClientInterceptor()] });

/** Continues the trace in every activity (its span is `RunActivity:<name>`). */
export const activityInterceptors: ActivityInterceptorsFactory = (ctx) => ({
  inbound: new OpenTelemetryActivityInboundInterceptor(ctx),
  outbound: new OpenTelemetryActivityOutboundInterceptor(ctx),
});

/** Where the workflow's own spans (made in its sandbox) leave it: every workflow worker registers it. */
export const workflowTracingSinks = (): InjectedSinks<OpenTelemetrySinks> => ({
  exporter: makeWorkflowExporter(processor, resource),
});
