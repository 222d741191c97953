import { randomUUID } from 'node:crypto';
import { Client, Connection } from '@temporalio/client';
import type { Payload } from '@temporalio/common';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { createLogger } from '../../src/config/logger.js';
import { createBareRepo } from '../support/git-repos.js';
import { call, honoFor, startAppUnderTest, waitForState, type AppUnderTest } from '../support/app-under-test.js';

const stack = inject('stack');
let app: AppUnderTest;
let hono: ReturnType<typeof honoFor>;
let plain: Client;
let connection: Connection;
let workflowId: string;
let gitUrl: string;
const UI = 'http://ui.temporal.test';

beforeAll(async () => {
  app = await startAppUnderTest(stack, { SANDBOX_TTL_SECONDS: '3600' });
  hono = honoFor(app, createLogger({ level: 'silent' }));
  // A client without the codec: it sees what Temporal stores.
  connection = await Connection.connect({ address: stack.temporalAddress });
  plain = new Client({ connection });
  const name = `codec-${randomUUID().slice(0, 8)}`;
  await createBareRepo(stack.gitRoot, name, { 'a.txt': 'a\n' });
  gitUrl = `${stack.gitUrl}/${name}.git`;
  const project = (await call(app, 'POST', '/api/v1/projects', { name: 'codec' })).body.id;
  const res = await call(app, 'POST', '/api/v1/code/connect', { git_url: gitUrl, access_token: stack.gitToken, project_id: project });
  workflowId = res.body.workflow_id;
  await waitForState(app, workflowId, (s) => s.cloneStatus === 'COMPLETED');
});

afterAll(async () => {
  await connection?.close();
  await app?.stop();
});

/** What Temporal's core writes, not through our codec, into a local activity's marker (`data`). */
const LOCAL_ACTIVITY_MARKER_FIELDS = ['seq', 'attempt', 'activity_id', 'activity_type', 'complete_time', 'backoff', 'original_schedule_time'];

const localActivityMarkers = async () =>
  ((await plain.workflow.getHandle(workflowId).fetchHistory()).events ?? [])
    .map((e) => e.markerRecordedEventAttributes)
    .filter((m) => m?.markerName === 'core_local_activity');

/** The header Temporal's OpenTelemetry interceptors carry the trace context in, written by their own converter. */
const TRACE_HEADER = '_tracer-data';

/**
 * Every payload in the workflow's stored history, as Temporal holds it, except search
 * attributes (the server must be able to index those: ProjectId, RepoId, CloneStatus hold no
 * secret), the local activity markers' own `data`, the patch markers and the trace context
 * headers (each checked on its own below).
 */
async function storedPayloads(): Promise<Payload[]> {
  return (await historyPayloads()).encoded;
}

async function historyPayloads(): Promise<{ encoded: Payload[]; traceHeaders: Payload[] }> {
  const history = await plain.workflow.getHandle(workflowId).fetchHistory();
  const found: Payload[] = [];
  const traceHeaders: Payload[] = [];
  const visit = (value: unknown) => {
    if (!value || typeof value !== 'object') return;
    if ('metadata' in value && 'data' in value && (value as Payload).metadata?.encoding) found.push(value as Payload);
    for (const [key, v] of Object.entries(value)) {
      if (key === TRACE_HEADER) traceHeaders.push(v as Payload);
      else if (key !== 'searchAttributes') visit(v);
    }
  };
  for (const event of history.events ?? []) {
    const marker = event.markerRecordedEventAttributes;
    if (marker?.markerName === 'core_local_activity') visit(marker.details?.result);
    else if (marker?.markerName !== 'core_patch') visit(event);
  }
  return { encoded: found, traceHeaders };
}

const asJson = (payloads: Payload[]) => ({
  payloads: payloads.map((p) => ({
    metadata: Object.fromEntries(Object.entries(p.metadata ?? {}).map(([k, v]) => [k, Buffer.from(v ?? []).toString('base64')])),
    data: Buffer.from(p.data ?? []).toString('base64'),
  })),
});

const decodeRequest = async (body: unknown, headers: Record<string, string> = {}) =>
  hono.request('/codec/decode', {
    method: 'POST',
    body: JSON.stringify(body),
    headers: { 'content-type': 'application/json', 'x-namespace': 'default', authorization: `Bearer ${await app.tokenFor()}`, ...headers },
  });

describe('encrypted Temporal payloads', () => {
  it('stores every payload encrypted: no input, result or state is readable in history', async () => {
    const payloads = await storedPayloads();
    expect(payloads.length).toBeGreaterThan(5);
    for (const p of payloads) expect(Buffer.from(p.metadata!.encoding!).toString()).toBe('binary/encrypted');
    const raw = JSON.stringify(await plain.workflow.getHandle(workflowId).fetchHistory());
    expect(raw).not.toContain(gitUrl);
    expect(raw).not.toContain('sealedToken');
  });

  it('leaves plain only what local activity markers say of themselves: which activity, which attempt, when', async () => {
    const markers = await localActivityMarkers();
    const data = markers.map((m) => {
      const [payload] = m!.details!.data!.payloads!;
      expect(Buffer.from(payload!.metadata!.encoding!).toString()).toBe('json/plain');
      return JSON.parse(Buffer.from(payload!.data!).toString()) as Record<string, unknown>;
    });
    // Admission's encryption and insert; what ActivityTaskScheduled shows in plain for any activity.
    expect(data.map((d) => d.activity_type).sort()).toEqual(['encryptToken', 'persistRepository']);
    for (const d of data) expect(LOCAL_ACTIVITY_MARKER_FIELDS).toEqual(expect.arrayContaining(Object.keys(d)));
    // Their results go through the codec like every other payload.
    for (const m of markers) expect(Buffer.from(m!.details!.result!.payloads![0]!.metadata!.encoding!).toString()).toBe('binary/encrypted');
  });

  it('leaves plain only the trace context in the tracing header: W3C trace and span ids, nothing else', async () => {
    const { traceHeaders } = await historyPayloads();
    // The start and the admission update carry one (the API's client interceptor adds it, tracing or not);
    // each scheduled activity too, when the worker traces (the observability test's case).
    expect(traceHeaders.length).toBeGreaterThanOrEqual(2);
    for (const p of traceHeaders) {
      expect(Buffer.from(p.metadata!.encoding!).toString()).toBe('json/plain');
      const carrier = JSON.parse(Buffer.from(p.data!).toString()) as Record<string, unknown>;
      expect(['traceparent', 'tracestate']).toEqual(expect.arrayContaining(Object.keys(carrier)));
      if (carrier.traceparent !== undefined) expect(carrier.traceparent).toMatch(/^00-[0-9a-f]{32}-[0-9a-f]{16}-0[01]$/);
    }
  });

  it('leaves plain only what a patch marker says of itself: the patch\'s name', async () => {
    const events = (await plain.workflow.getHandle(workflowId).fetchHistory()).events ?? [];
    const patches = events.map((e) => e.markerRecordedEventAttributes).filter((m) => m?.markerName === 'core_patch');
    expect(patches.length).toBeGreaterThan(0);
    for (const m of patches) {
      for (const { payloads } of Object.values(m!.details ?? {})) {
        for (const p of payloads ?? []) {
          const data = JSON.parse(Buffer.from(p.data!).toString()) as Record<string, unknown>;
          expect(['id', 'deprecated']).toEqual(expect.arrayContaining(Object.keys(data)));
          expect(data.id).toBe('admission-local-activities');
        }
      }
    }
  });

  it('the codec endpoint decodes them for the Web UI, but the access token stays sealed', async () => {
    const res = await decodeRequest(asJson(await storedPayloads()));
    expect(res.status).toBe(200);
    const { payloads } = (await res.json()) as { payloads: Array<{ metadata: Record<string, string>; data: string }> };
    const decoded = payloads.map((p) => Buffer.from(p.data, 'base64').toString());
    const input = decoded.find((d) => d.includes('sealedToken'))!;
    expect(JSON.parse(input)).toMatchObject({ gitUrl, sealedToken: { ciphertext: expect.any(String), keyId: app.keys.keyId } });
    expect(decoded.join('\n')).not.toContain(stack.gitToken);
    expect(Buffer.from(payloads[0]!.metadata.encoding!, 'base64').toString()).toBe('json/plain');
  });

  it('encode and decode round-trip', async () => {
    const original = { payloads: [{ metadata: { encoding: Buffer.from('json/plain').toString('base64') }, data: Buffer.from('{"a":1}').toString('base64') }] };
    const encoded = await hono.request('/codec/encode', {
      method: 'POST', body: JSON.stringify(original), headers: { 'content-type': 'application/json', authorization: `Bearer ${await app.tokenFor()}` },
    });
    const encodedBody = await encoded.json();
    expect(JSON.stringify(encodedBody)).not.toContain(original.payloads[0]!.data);
    expect(await (await decodeRequest(encodedBody)).json()).toEqual(original);
  });

  it('needs the bearer token, and lets only the Web UI\'s origin call it from a browser', async () => {
    expect((await decodeRequest({ payloads: [] }, { authorization: '' })).status).toBe(401);
    const preflight = await hono.request('/codec/decode', {
      method: 'OPTIONS', headers: { origin: UI, 'access-control-request-method': 'POST', 'access-control-request-headers': 'content-type,x-namespace' },
    });
    expect(preflight.headers.get('access-control-allow-origin')).toBe(UI);
    const foreign = await decodeRequest({ payloads: [] }, { origin: 'https://evil.example' });
    expect(foreign.headers.get('access-control-allow-origin')).toBeNull();
  });

  it('keeps failures encrypted too: no error message is readable in history', async () => {
    const res = await call(app, 'POST', '/api/v1/code/connect', {
      git_url: gitUrl, access_token: 'wrong-token-0123456789', project_id: (await call(app, 'POST', '/api/v1/projects', { name: 'f' })).body.id,
    });
    expect(res.status).toBe(401);
    const list = plain.workflow.list({ query: `TaskQueue = "${app.config.TEMPORAL_TASK_QUEUE}" AND ExecutionStatus = "Failed"` });
    const failedIds: string[] = [];
    for await (const wf of list) failedIds.push(wf.workflowId);
    expect(failedIds.length).toBeGreaterThan(0);
    for (const id of failedIds) {
      const raw = JSON.stringify(await plain.workflow.getHandle(id).fetchHistory());
      expect(raw).not.toContain('access token was rejected');
      expect(raw).toContain('Encoded failure');
    }
  });
});
