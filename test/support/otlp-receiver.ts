import { createRequire } from 'node:module';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

/** One span as received, flattened: ids in hex, attributes as plain values, and its resource's attributes. */
export interface ReceivedSpan {
  traceId: string;
  spanId: string;
  parentSpanId: string;
  name: string;
  attributes: Record<string, unknown>;
  /** Its events (e.g. `exception`), each with its attributes. */
  events: Array<{ name: string; attributes: Record<string, unknown> }>;
  resource: Record<string, unknown>;
}

export interface OtlpReceiver {
  /** The base URL for OTEL_EXPORTER_OTLP_ENDPOINT. */
  url: string;
  spans: ReceivedSpan[];
  /** Content types of the export requests received, e.g. application/x-protobuf, application/json. */
  contentTypes: Set<string>;
  stop(): Promise<void>;
}

// The OTLP protobuf definitions as the exporter itself compiles them: decoding with them reads exactly the protocol sent.
const generated = createRequire(import.meta.url)('@opentelemetry/otlp-transformer/build/src/generated/root.js');
const ExportTraceServiceRequest = generated.opentelemetry.proto.collector.trace.v1.ExportTraceServiceRequest;

type AnyValue = {
  stringValue?: string;
  intValue?: number | string;
  doubleValue?: number;
  boolValue?: boolean;
  arrayValue?: { values?: AnyValue[] };
};
const valueOf = (v: AnyValue | undefined): unknown =>
  v?.stringValue ??
  (v?.intValue !== undefined ? Number(v.intValue) : undefined) ??
  v?.doubleValue ??
  v?.boolValue ??
  v?.arrayValue?.values?.map(valueOf);
const attributesOf = (list: Array<{ key: string; value?: AnyValue }> = []) =>
  Object.fromEntries(list.map((a) => [a.key, valueOf(a.value)]));
const hex = (id: unknown): string =>
  typeof id === 'string' ? id : id ? Buffer.from(id as Uint8Array).toString('hex') : '';

interface ExportRequest {
  resourceSpans?: Array<{
    resource?: { attributes?: Array<{ key: string; value?: AnyValue }> };
    scopeSpans?: Array<{
      spans?: Array<{
        traceId: unknown;
        spanId: unknown;
        parentSpanId?: unknown;
        name: string;
        attributes?: Array<{ key: string; value?: AnyValue }>;
        events?: Array<{ name: string; attributes?: Array<{ key: string; value?: AnyValue }> }>;
      }>;
    }>;
  }>;
}

function decode(contentType: string, body: Buffer): ExportRequest {
  if (contentType.startsWith('application/json')) return JSON.parse(body.toString('utf8')) as ExportRequest;
  return ExportTraceServiceRequest.toObject(ExportTraceServiceRequest.decode(body), {
    longs: Number,
    bytes: Buffer,
  }) as ExportRequest;
}

/** A minimal OTLP/HTTP trace receiver (`POST /v1/traces`, protobuf or JSON), as a collector would be. */
export function startOtlpReceiver(): Promise<OtlpReceiver> {
  const spans: ReceivedSpan[] = [];
  const contentTypes = new Set<string>();
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      if (req.method !== 'POST' || req.url !== '/v1/traces') {
        res.writeHead(404).end();
        return;
      }
      const contentType = req.headers['content-type'] ?? '';
      contentTypes.add(contentType.split(';')[0]!);
      try {
        for (const rs of decode(contentType, Buffer.concat(chunks)).resourceSpans ?? []) {
          const resource = attributesOf(rs.resource?.attributes);
          for (const s of (rs.scopeSpans ?? []).flatMap((ss) => ss.spans ?? [])) {
            const events = (s.events ?? []).map((e) => ({ name: e.name, attributes: attributesOf(e.attributes) }));
            spans.push({
              traceId: hex(s.traceId),
              spanId: hex(s.spanId),
              parentSpanId: hex(s.parentSpanId),
              name: s.name,
              attributes: attributesOf(s.attributes),
              events,
              resource,
            });
          }
        }
        res
          .writeHead(200, { 'Content-Type': contentType })
          .end(contentType.startsWith('application/json') ? '{}' : undefined);
      } catch {
        res.writeHead(400).end();
      }
    });
  });
  return new Promise((resolve) => {
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as AddressInfo;
      resolve({
        url: `http://127.0.0.1:${port}`,
        spans,
        contentTypes,
        stop: () => new Promise<void>((done) => server.close(() => done())),
      });
    });
  });
}
