import { NodeSDK } from '@opentelemetry/sdk-node';
import { InMemorySpanExporter, SimpleSpanProcessor } from '@opentelemetry/sdk-trace-base';
import { Hono } from 'hono';
import { requestId } from 'hono/request-id';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ApiEnv } from '../../src/api/context.js';
import { traceRequests } from '../../src/api/tracing.js';

const exporter = new InMemorySpanExporter();
// No resource detection: spans are exported as they end, not once detection settles.
const sdk = new NodeSDK({
  spanProcessors: [new SimpleSpanProcessor(exporter)],
  instrumentations: [],
  autoDetectResources: false,
});
beforeAll(() => sdk.start());
afterAll(() => sdk.shutdown());

const app = new Hono<ApiEnv>()
  .use(requestId())
  .use(traceRequests())
  .get('/things/:id', (c) => c.json({ ok: true }));

const CALLER_TRACE = '0af7651916cd43dd8448eb211c80319c';

describe('the http-request span', () => {
  it("roots a trace of ours, links the caller's traceparent, and names the trace in X-Trace-Id", async () => {
    exporter.reset();
    const res = await app.request('/things/42?secret=query', {
      headers: {
        traceparent: `00-${CALLER_TRACE}-b7ad6b7169203331-00`,
        tracestate: 'vendor=opaque',
        baggage: 'user=alice',
      },
    });
    expect(res.status).toBe(200);
    const [span] = exporter.getFinishedSpans();
    expect(span!.name).toBe('http-request');
    expect(span!.parentSpanId).toBeUndefined();
    // Recorded although the caller's flags said "not sampled": the caller does not decide for us.
    expect(span!.spanContext().traceId).not.toBe(CALLER_TRACE);
    expect(res.headers.get('x-trace-id')).toBe(span!.spanContext().traceId);
    expect(span!.links.map((l) => l.context.traceId)).toEqual([CALLER_TRACE]);
    expect(span!.spanContext().traceState).toBeUndefined();
    expect(span!.attributes).toMatchObject({
      'http.request.method': 'GET',
      'url.path': '/things/42',
      'http.route': '/things/:id',
      'http.response.status_code': 200,
    });
    expect(JSON.stringify(span!.attributes)).not.toContain('secret');
  });

  it('has no link when the caller sends no valid traceparent', async () => {
    exporter.reset();
    await app.request('/things/1', { headers: { traceparent: 'garbage' } });
    expect(exporter.getFinishedSpans()[0]!.links).toEqual([]);
  });
});
