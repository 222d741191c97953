import { randomUUID } from 'node:crypto';
import { request as httpRequest } from 'node:http';
import { Client, Connection } from '@temporalio/client';
import type { Payload } from '@temporalio/common';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { startApiService, type ApiService } from '../../src/api/start-api.js';
import { createLogger } from '../../src/config/logger.js';
import { createBareRepo } from '../support/git-repos.js';
import {
  call,
  honoFor,
  startAppUnderTest,
  testConfig,
  waitForState,
  type AppUnderTest,
} from '../support/app-under-test.js';

const stack = inject('stack');
let app: AppUnderTest;
let hono: ReturnType<typeof honoFor>;
let plain: Client;
let connection: Connection;
let workflowId: string;
let gitUrl: string;
const UI = 'http://ui.temporal.test';
/** The origins of `npm start`'s embedded UI, by either loopback name. */
const EMBEDDED_UI = ['http://127.0.0.1:18233', 'http://localhost:18233'];

beforeAll(async () => {
  // The embedded UI's origins are allowed by CORS here, but CODEC_REQUIRE_AUTH is not false: no exception.
  app = await startAppUnderTest(stack, { SANDBOX_TTL_SECONDS: '3600', TEMPORAL_UI_ORIGINS: EMBEDDED_UI.join(',') });
  hono = honoFor(app, createLogger({ level: 'silent' }));
  // A client without the codec: it sees what Temporal stores.
  connection = await Connection.connect({ address: stack.temporalAddress });
  plain = new Client({ connection });
  const name = `codec-${randomUUID().slice(0, 8)}`;
  await createBareRepo(stack.gitRoot, name, { 'a.txt': 'a\n' });
  gitUrl = `${stack.gitUrl}/${name}.git`;
  const project = (await call(app, 'POST', '/api/v1/projects', { name: 'codec' })).body.id;
  const res = await call(app, 'POST', '/api/v1/code/connect', {
    git_url: gitUrl,
    access_token: stack.gitToken,
    project_id: project,
  });
  workflowId = res.body.workflow_id;
  await waitForState(app, workflowId, (s) => s.cloneStatus === 'COMPLETED');
});

afterAll(async () => {
  await connection?.close();
  await app?.stop();
});

/** What Temporal's core writes, not through our codec, into a local activity's marker (`data`). */
const LOCAL_ACTIVITY_MARKER_FIELDS = [
  'seq',
  'attempt',
  'activity_id',
  'activity_type',
  'complete_time',
  'backoff',
  'original_schedule_time',
];

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
    metadata: Object.fromEntries(
      Object.entries(p.metadata ?? {}).map(([k, v]) => [k, Buffer.from(v ?? []).toString('base64')]),
    ),
    data: Buffer.from(p.data ?? []).toString('base64'),
  })),
});

const decodeRequest = async (body: unknown, headers: Record<string, string> = {}) =>
  hono.request('/codec/decode', {
    method: 'POST',
    body: JSON.stringify(body),
    headers: {
      'content-type': 'application/json',
      'x-namespace': 'default',
      authorization: `Bearer ${await app.operatorTokenFor()}`,
      ...headers,
    },
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
    for (const m of markers)
      expect(Buffer.from(m!.details!.result!.payloads![0]!.metadata!.encoding!).toString()).toBe('binary/encrypted');
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
      if (carrier.traceparent !== undefined)
        expect(carrier.traceparent).toMatch(/^00-[0-9a-f]{32}-[0-9a-f]{16}-0[01]$/);
    }
  });

  it("leaves plain only what a patch marker says of itself: the patch's name", async () => {
    const events = (await plain.workflow.getHandle(workflowId).fetchHistory()).events ?? [];
    const patches = events.map((e) => e.markerRecordedEventAttributes).filter((m) => m?.markerName === 'core_patch');
    expect(patches.length).toBeGreaterThan(0);
    for (const m of patches) {
      for (const { payloads } of Object.values(m!.details ?? {})) {
        for (const p of payloads ?? []) {
          const data = JSON.parse(Buffer.from(p.data!).toString()) as Record<string, unknown>;
          expect(['id', 'deprecated']).toEqual(expect.arrayContaining(Object.keys(data)));
          expect(['admission-local-activities', 'sync-on-demand', 'sync-schedule-and-bounds']).toContain(data.id);
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
    expect(JSON.parse(input)).toMatchObject({
      gitUrl,
      sealedToken: { ciphertext: expect.any(String), keyId: app.keys.keyId },
    });
    expect(decoded.join('\n')).not.toContain(stack.gitToken);
    expect(Buffer.from(payloads[0]!.metadata.encoding!, 'base64').toString()).toBe('json/plain');
  });

  it('encode and decode round-trip', async () => {
    const original = {
      payloads: [
        {
          metadata: { encoding: Buffer.from('json/plain').toString('base64') },
          data: Buffer.from('{"a":1}').toString('base64'),
        },
      ],
    };
    const encoded = await hono.request('/codec/encode', {
      method: 'POST',
      body: JSON.stringify(original),
      headers: { 'content-type': 'application/json', authorization: `Bearer ${await app.operatorTokenFor()}` },
    });
    const encodedBody = await encoded.json();
    expect(JSON.stringify(encodedBody)).not.toContain(original.payloads[0]!.data);
    expect(await (await decodeRequest(encodedBody)).json()).toEqual(original);
  });

  it("lets only the Web UI's origin call it from a browser", async () => {
    const preflight = await hono.request('/codec/decode', {
      method: 'OPTIONS',
      headers: {
        origin: UI,
        'access-control-request-method': 'POST',
        'access-control-request-headers': 'content-type,x-namespace,authorization',
      },
    });
    expect(preflight.headers.get('access-control-allow-origin')).toBe(UI);
    const foreign = await decodeRequest({ payloads: [] }, { origin: 'https://evil.example' });
    expect(foreign.headers.get('access-control-allow-origin')).toBeNull();
  });

  it('keeps failures encrypted too: no error message is readable in history', async () => {
    const res = await call(app, 'POST', '/api/v1/code/connect', {
      git_url: gitUrl,
      access_token: 'wrong-token-0123456789',
      project_id: (await call(app, 'POST', '/api/v1/projects', { name: 'f' })).body.id,
    });
    expect(res.status).toBe(401);
    const list = plain.workflow.list({
      query: `TaskQueue = "${app.config.TEMPORAL_TASK_QUEUE}" AND ExecutionStatus = "Failed"`,
    });
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

const emptyPayloads = (n: number) => ({ payloads: Array.from({ length: n }, () => ({})) });
const detail = async (res: Response) => ((await res.json()) as { detail: { error: string; message: string } }).detail;

describe('who may call the codec', () => {
  it("an operator's token (scope codec:operator) decodes; an end user's is 403 naming the scope; none is 401", async () => {
    expect((await decodeRequest({ payloads: [] })).status).toBe(200);
    const user = await decodeRequest({ payloads: [] }, { authorization: `Bearer ${await app.tokenFor()}` });
    expect(user.status).toBe(403);
    expect(await detail(user)).toMatchObject({
      error: 'forbidden',
      message: expect.stringContaining('"codec:operator"'),
    });
    const none = await decodeRequest({ payloads: [] }, { authorization: '' });
    expect(none.status).toBe(401);
    expect((await detail(none)).error).toBe('unauthorized');
  });

  it('takes at most CODEC_MAX_PAYLOADS payloads a request: more is 413, saying the limit', async () => {
    expect((await decodeRequest(emptyPayloads(app.config.CODEC_MAX_PAYLOADS))).status).toBe(200);
    const over = await decodeRequest(emptyPayloads(app.config.CODEC_MAX_PAYLOADS + 1));
    expect(over.status).toBe(413);
    expect(await detail(over)).toMatchObject({
      error: 'too_many_payloads',
      message: expect.stringContaining(`at most ${app.config.CODEC_MAX_PAYLOADS} payloads (CODEC_MAX_PAYLOADS)`),
    });
    // Counted before any payload is looked at: too many of anything is refused as such.
    const junk = await decodeRequest({ payloads: Array.from({ length: app.config.CODEC_MAX_PAYLOADS + 1 }, () => 42) });
    expect(junk.status).toBe(413);
    expect((await detail(junk)).error).toBe('too_many_payloads');
  });

  it("limits each operator's rate: past the burst, 429 with Retry-After, while another operator goes on", async () => {
    const limited = honoFor(app, createLogger({ level: 'silent' }), {
      codec: {
        loopbackUiOrigins: [],
        operatorScope: app.config.CODEC_OPERATOR_SCOPE,
        maxPayloads: 10,
        rateLimit: { burst: 2, perMinute: 1 },
      },
    });
    const send = async (user: string) =>
      limited.request('/codec/decode', {
        method: 'POST',
        body: JSON.stringify({ payloads: [] }),
        headers: { 'content-type': 'application/json', authorization: `Bearer ${await app.operatorTokenFor(user)}` },
      });
    const [first, second, third] = [await send('op-a'), await send('op-a'), await send('op-a')];
    expect([first.status, second.status, third.status]).toEqual([200, 200, 429]);
    expect((await detail(third)).error).toBe('rate_limited');
    // One token a minute: a whole token is back within 60 s.
    expect(Number(third.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
    expect(Number(third.headers.get('retry-after'))).toBeLessThanOrEqual(60);
    expect((await send('op-b')).status).toBe(200);
  });
});

/** A POST to the real server with the Host and Origin headers as given (fetch would set Host itself). */
function rawPost(
  api: ApiService,
  route: string,
  headers: Record<string, string>,
  body: unknown,
): Promise<{ status: number; headers: Record<string, string | string[] | undefined>; body: any }> {
  const url = new URL(api.url);
  const data = JSON.stringify(body);
  return new Promise((resolve, reject) => {
    const req = httpRequest(
      {
        host: url.hostname,
        port: url.port,
        path: route,
        method: 'POST',
        headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(data), ...headers },
      },
      (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => (text += chunk));
        res.on('end', () => resolve({ status: res.statusCode!, headers: res.headers, body: JSON.parse(text) }));
      },
    );
    req.on('error', reject);
    req.setTimeout(30_000, () => req.destroy(new Error('no answer in 30 s')));
    req.end(data);
  });
}

describe('the loopback UI exception (CODEC_REQUIRE_AUTH=false, as `npm start` sets it)', () => {
  let loopback: ApiService;
  let port: string;
  const BURST = 10;

  beforeAll(async () => {
    // Same keys as `app`, so it opens that run's payloads; listening on 127.0.0.1 (the default HOST).
    const config = testConfig(stack, {
      MASTER_ENCRYPTION_KEY: app.config.MASTER_ENCRYPTION_KEY!,
      JWT_SECRET: app.config.JWT_SECRET!,
      CODEC_REQUIRE_AUTH: 'false',
      TEMPORAL_UI_ORIGINS: [...EMBEDDED_UI, UI].join(','),
      CODEC_RATE_LIMIT_BURST: String(BURST),
      CODEC_RATE_LIMIT_PER_MINUTE: '1',
    });
    loopback = await startApiService(config, createLogger({ level: 'silent' }));
    port = new URL(loopback.url).port;
  });

  afterAll(async () => {
    await loopback?.stop();
  });

  const decode = async (headers: Record<string, string>) =>
    rawPost(loopback, '/codec/decode', headers, asJson(await storedPayloads()));

  it('lets the embedded UI decode without a token, by either loopback name, the access token still sealed', async () => {
    const calls: Array<[string, string]> = [
      [`127.0.0.1:${port}`, EMBEDDED_UI[0]!],
      [`localhost:${port}`, EMBEDDED_UI[1]!],
    ];
    for (const [host, origin] of calls) {
      const res = await decode({ host, origin });
      expect(res.status, host).toBe(200);
      expect(res.headers['access-control-allow-origin']).toBe(origin);
      const decoded = (res.body as { payloads: Array<{ data: string }> }).payloads
        .map((p) => Buffer.from(p.data, 'base64').toString())
        .join('\n');
      expect(decoded).toContain('sealedToken');
      expect(decoded).not.toContain(stack.gitToken);
    }
  });

  const refused: Array<[string, () => Record<string, string>]> = [
    ['a DNS-rebound Host (Host: evil.example)', () => ({ host: `evil.example:${port}`, origin: EMBEDDED_UI[0]! })],
    ['a loopback Host on another port', () => ({ host: `127.0.0.1:${Number(port) + 1}`, origin: EMBEDDED_UI[0]! })],
    ['another origin', () => ({ host: `127.0.0.1:${port}`, origin: 'https://evil.example' })],
    ['a UI origin that is not loopback', () => ({ host: `127.0.0.1:${port}`, origin: UI })],
    ['no Origin (not a browser page)', () => ({ host: `127.0.0.1:${port}` })],
    [
      'a proxy in front (X-Forwarded-For)',
      () => ({ host: `127.0.0.1:${port}`, origin: EMBEDDED_UI[0]!, 'x-forwarded-for': '203.0.113.7' }),
    ],
    [
      'a proxy in front (Forwarded)',
      () => ({ host: `127.0.0.1:${port}`, origin: EMBEDDED_UI[0]!, forwarded: 'for=203.0.113.7' }),
    ],
  ];
  for (const [label, headers] of refused) {
    it(`asks for an operator token from ${label}: 401`, async () => {
      const res = await decode(headers());
      expect(res.status).toBe(401);
      expect(res.body.detail.error).toBe('unauthorized');
    });
  }

  it("still takes an operator token from anywhere, and still refuses an end user's", async () => {
    expect(
      (await decode({ host: `evil.example:${port}`, authorization: `Bearer ${await app.operatorTokenFor()}` })).status,
    ).toBe(200);
    expect((await decode({ host: `127.0.0.1:${port}`, authorization: `Bearer ${await app.tokenFor()}` })).status).toBe(
      403,
    );
  });

  it("limits the loopback UI's rate too (per remote address): 429 with Retry-After past the burst", async () => {
    const statuses: number[] = [];
    let last: Awaited<ReturnType<typeof rawPost>> | undefined;
    for (let i = 0; i <= BURST; i++) {
      last = await rawPost(
        loopback,
        '/codec/decode',
        { host: `127.0.0.1:${port}`, origin: EMBEDDED_UI[0]! },
        { payloads: [] },
      );
      statuses.push(last.status);
    }
    expect(statuses).toContain(429);
    expect(statuses.filter((s) => s !== 200 && s !== 429)).toEqual([]);
    const refused = statuses.indexOf(429);
    expect(statuses.slice(refused).every((s) => s === 429)).toBe(true);
    expect(
      Number(
        (
          await rawPost(
            loopback,
            '/codec/decode',
            { host: `127.0.0.1:${port}`, origin: EMBEDDED_UI[0]! },
            { payloads: [] },
          )
        ).headers['retry-after'],
      ),
    ).toBeGreaterThanOrEqual(1);
  });
});

describe('without CODEC_REQUIRE_AUTH=false', () => {
  it("gives the embedded UI's origin no exception: a loopback Host and its Origin still need a token", async () => {
    const res = await rawPost(
      app.api,
      '/codec/decode',
      { host: new URL(app.api.url).host, origin: EMBEDDED_UI[0]! },
      { payloads: [] },
    );
    expect(res.status).toBe(401);
  });
});
