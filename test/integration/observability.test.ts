import type { ChildProcess } from 'node:child_process';
import { Client, Connection } from '@temporalio/client';
import { randomBytes, randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, inject, it, vi } from 'vitest';
import type { ConnectedConfig } from '../../src/config/load-config.js';
import { createSql, type Sql } from '../../src/db/client.js';
import { freePort } from '../../src/runtime/ports.js';
import { callAt, configEnv, testConfig, tokenFor } from '../support/app-under-test.js';
import { createBareRepo, createRepoWithHeavyHistory } from '../support/git-repos.js';
import { startOtlpReceiver, type OtlpReceiver, type ReceivedSpan } from '../support/otlp-receiver.js';
import { killAll, startEntryPoint } from '../support/processes.js';
import { familiesOf, find, parseSamples, valueOf, type Sample } from '../support/prometheus-text.js';
import { deployQueries, metricNamesIn, recordedNames } from '../support/promql.js';

/*
 * The API and the worker as their own processes, as deployed, tracing to an OTLP receiver in
 * this test and serving /metrics on ports of their own behind METRICS_TOKEN. One connect that
 * completes and is cleaned up, one admitted whose clone fails (too large), one 413 and one 401;
 * then the traces, metrics and logs they left.
 */
const stack = inject('stack');
const METRICS_TOKEN = randomBytes(24).toString('base64url');
const started: ChildProcess[] = [];
const logs = { api: [] as Array<Record<string, unknown>>, worker: [] as Array<Record<string, unknown>> };
let config: ConnectedConfig;
let sql: Sql;
let receiver: OtlpReceiver;
let api: string;
let apiMetrics: string;
let workerMetrics: string;
let workerId: string;
let user: string;
let projectId: string;

/** Every JSON line a child writes to stdout, kept for the log assertions. */
function keepLogs(child: ChildProcess, into: Array<Record<string, unknown>>): void {
  let rest = '';
  child.stdout!.on('data', (chunk: Buffer) => {
    const lines = (rest + chunk.toString('utf8')).split('\n');
    rest = lines.pop()!;
    for (const line of lines) {
      try {
        into.push(JSON.parse(line) as Record<string, unknown>);
      } catch {
        /* not a log line */
      }
    }
  });
}

beforeAll(async () => {
  receiver = await startOtlpReceiver();
  config = testConfig(stack, { MAX_REPO_SIZE_MB: '1', SANDBOX_TTL_SECONDS: '3600' });
  sql = createSql(config.DATABASE_URL, { max: 2 });
  [apiMetrics, workerMetrics] = await Promise.all([freePort(), freePort()]).then((ports) =>
    ports.map((p) => `http://127.0.0.1:${p}/metrics`),
  );
  workerId = config.WORKER_HOST_ID!;
  const env = {
    ...configEnv(config),
    LOG_LEVEL: 'info',
    METRICS_TOKEN,
    OTEL_EXPORTER_OTLP_ENDPOINT: receiver.url,
    // Export within a fraction of a second, so the test need not wait for the default 5 s batches.
    OTEL_BSP_SCHEDULE_DELAY: '100',
  };
  const [apiProcess, workerProcess] = await Promise.all([
    startEntryPoint(
      started,
      'src/api/server.ts',
      { ...env, API_METRICS_PORT: new URL(apiMetrics).port },
      'API listening',
    ),
    // The worker speaks OTLP's JSON encoding, the API its default protobuf: both must arrive.
    startEntryPoint(
      started,
      'src/worker/main.ts',
      { ...env, WORKER_METRICS_PORT: new URL(workerMetrics).port, OTEL_EXPORTER_OTLP_PROTOCOL: 'http/json' },
      'worker running',
    ),
  ]);
  keepLogs(apiProcess.child, logs.api);
  keepLogs(workerProcess.child, logs.worker);
  api = String(apiProcess.ready.url);
  user = `obs-${randomUUID().slice(0, 8)}`;
  const project = await callApi('POST', '/api/v1/projects', { name: 'observability' });
  expect(project.status).toBe(201);
  projectId = project.body.id;
}, 120_000);

afterAll(async () => {
  await killAll(started);
  await sql?.end();
  await receiver?.stop();
});

async function callApi(method: string, route: string, body?: unknown) {
  return callAt(api, await tokenFor(config.JWT_SECRET!, user), method, route, body);
}

const connectBody = (gitUrl: string, accessToken = stack.gitToken) => ({
  git_url: gitUrl,
  access_token: accessToken,
  project_id: projectId,
  request_id: randomUUID(),
});

async function scrape(url: string): Promise<Sample[]> {
  const res = await fetch(url, { headers: { authorization: `Bearer ${METRICS_TOKEN}` } });
  expect(res.status).toBe(200);
  return parseSamples(await res.text());
}

async function waitForStatus(repoId: string, status: string): Promise<void> {
  await vi.waitFor(
    async () => {
      const [row] = await sql<Array<{ cloneStatus: string }>>`select clone_status from code_repos where id = ${repoId}`;
      if (row?.cloneStatus !== status) throw new Error(`${row?.cloneStatus} is not ${status} yet`);
    },
    { timeout: 60_000, interval: 200 },
  );
}

/** What every test below looks at: one connect that completed and was cleaned up, one whose clone failed, a 413 and a 401. */
let connected: { repoId: string; workflowId: string; traceId: string; requestId: string; sizeMb: number };
let failedTraceId: string;
let readTraceId: string;
let workerWhileKept: Sample[];

describe('observability of a connect, as deployed', () => {
  beforeAll(async () => {
    const small = `obs-small-${randomUUID().slice(0, 8)}`;
    const huge = `obs-huge-${randomUUID().slice(0, 8)}`;
    const heavy = `obs-heavy-${randomUUID().slice(0, 8)}`;
    await createBareRepo(stack.gitRoot, small, { 'README.md': '# observed\n', 'data.bin': randomBytes(200_000) });
    await createBareRepo(stack.gitRoot, huge, { 'big.bin': randomBytes(1_500_000) });
    // A light tip over a heavy history: admitted, then too large for the clone's budget.
    await createRepoWithHeavyHistory(
      stack.gitRoot,
      heavy,
      { 'old.bin': randomBytes(1_500_000) },
      { 'README.md': 'tip\n' },
    );
    const ok = await callApi('POST', '/api/v1/code/connect', connectBody(`${stack.gitUrl}/${small}.git`));
    expect(ok.status, JSON.stringify(ok.body)).toBe(201);
    await waitForStatus(ok.body.repo_id, 'COMPLETED');
    const [row] = await sql<
      Array<{ requestId: string; repositorySizeMb: number }>
    >`select request_id, repository_size_mb from code_repos where id = ${ok.body.repo_id}`;
    connected = {
      repoId: ok.body.repo_id,
      workflowId: ok.body.workflow_id,
      traceId: ok.headers.get('x-trace-id') ?? '',
      requestId: ok.headers.get('x-request-id') ?? '',
      sizeMb: row!.repositorySizeMb,
    };
    workerWhileKept = await scrape(workerMetrics);
    // A read of the kept clone's code, served by the worker's read service.
    const read = await callApi('GET', `/api/v1/code/repos/${ok.body.repo_id}/files/README.md`);
    expect(read.body.content).toBe('# observed\n');
    readTraceId = read.headers.get('x-trace-id') ?? '';

    const failing = await callApi('POST', '/api/v1/code/connect', connectBody(`${stack.gitUrl}/${heavy}.git`));
    expect(failing.status, JSON.stringify(failing.body)).toBe(201);
    failedTraceId = failing.headers.get('x-trace-id') ?? '';
    await waitForStatus(failing.body.repo_id, 'FAILED');

    expect((await callApi('POST', '/api/v1/code/connect', connectBody(`${stack.gitUrl}/${huge}.git`))).status).toBe(
      413,
    );
    expect(
      (await callApi('POST', '/api/v1/code/connect', connectBody(`${stack.gitUrl}/${small}.git`, 'not-the-token')))
        .status,
    ).toBe(401);
    expect((await callApi('POST', `/api/v1/code/repos/${connected.repoId}/cleanup`)).status).toBe(202);
    await waitForStatus(connected.repoId, 'CLEANED');
  }, 180_000);

  describe('one trace from the HTTP request through every activity', () => {
    let trace: ReceivedSpan[];
    const ACTIVITIES = [
      'encryptToken',
      'checkRepositorySize',
      'persistRepository',
      'cloneRepository',
      'cleanupSandbox',
    ];
    const DESIGN_SPANS = ['token-encryption', 'size-validation', 'db-insert', 'git-clone', 'sandbox-cleanup'];

    beforeAll(async () => {
      expect(connected.traceId).toMatch(/^[0-9a-f]{32}$/);
      // Spans leave in batches, each when it ends: wait for the last, the cleanup's and the workflow run's own.
      trace = await vi.waitFor(
        () => {
          const spans = receiver.spans.filter((s) => s.traceId === connected.traceId);
          const last = ['sandbox-cleanup', 'RunWorkflow:connectRepository'];
          if (!last.every((name) => spans.some((s) => s.name === name)))
            throw new Error(`${spans.length} spans so far`);
          return spans;
        },
        { timeout: 30_000, interval: 200 },
      );
    });

    it('starts at the http-request span of POST /api/v1/code/connect, the root of the trace', () => {
      const http = trace.filter((s) => s.name === 'http-request');
      expect(http).toHaveLength(1);
      expect(http[0]).toMatchObject({
        parentSpanId: '',
        attributes: {
          'http.request.method': 'POST',
          'url.path': '/api/v1/code/connect',
          'http.response.status_code': 201,
        },
      });
      expect(http[0]!.resource['service.name']).toBe('repo-connector-api');
    });

    it('goes on through the workflow and every activity, each on the worker', () => {
      const names = trace.map((s) => s.name);
      expect(names).toEqual(
        expect.arrayContaining([
          'UpdateWithStartWorkflow:admission',
          'RunWorkflow:connectRepository',
          ...ACTIVITIES.map((a) => `RunActivity:${a}`),
          ...DESIGN_SPANS,
        ]),
      );
      for (const name of [...ACTIVITIES.map((a) => `RunActivity:${a}`), ...DESIGN_SPANS]) {
        expect(trace.find((s) => s.name === name)!.resource['service.name'], name).toBe('repo-connector-worker');
      }
    });

    it('links every span to its parent within the trace', () => {
      const ids = new Set(trace.map((s) => s.spanId));
      for (const span of trace.filter((s) => s.parentSpanId)) expect(ids.has(span.parentSpanId), span.name).toBe(true);
      // Each design span sits inside its activity's span.
      for (const [i, name] of DESIGN_SPANS.entries()) {
        const parent = trace.find((s) => s.spanId === trace.find((d) => d.name === name)!.parentSpanId);
        expect(parent?.name).toBe(`RunActivity:${ACTIVITIES[i]}`);
      }
    });

    it('says which repository, project, outcome and size each design span concerns', () => {
      for (const name of DESIGN_SPANS) {
        expect(trace.find((s) => s.name === name)!.attributes, name).toMatchObject({
          'repo.id': connected.repoId,
          'project.id': projectId,
          outcome: 'ok',
        });
      }
      expect(trace.find((s) => s.name === 'git-clone')!.attributes['repo.size_mb']).toBe(connected.sizeMb);
    });

    it('holds no token, credential or key in any attribute of any span received', () => {
      const text = JSON.stringify(receiver.spans);
      for (const secret of [
        stack.gitToken,
        'not-the-token',
        config.JWT_SECRET!,
        config.MASTER_ENCRYPTION_KEY!,
        METRICS_TOKEN,
      ]) {
        expect(text.includes(secret)).toBe(false);
      }
      expect(text).not.toMatch(/Bearer|authorization|:\/\/[^/"]*@/i);
    });

    it("gives a read of code a code-read span in its request's trace, without the file's content", async () => {
      const span = await vi.waitFor(
        () => {
          const found = receiver.spans.find((s) => s.traceId === readTraceId && s.name === 'code-read');
          if (!found) throw new Error("the read's span has not arrived");
          return found;
        },
        { timeout: 30_000, interval: 200 },
      );
      expect(span.attributes).toMatchObject({ 'read.op': 'files', 'read.outcome': 'ok' });
      expect(span.attributes['read.bytes']).toBeGreaterThan(0);
      expect(JSON.stringify(receiver.spans)).not.toContain('# observed');
    });

    it("keeps no stack in the exception events of failed work, which carry the failure's message alone", async () => {
      const failedClone = await vi.waitFor(
        () => {
          const span = receiver.spans.find(
            (s) => s.traceId === failedTraceId && s.name === 'RunActivity:cloneRepository',
          );
          if (!span) throw new Error("the failed clone's span has not arrived");
          return span;
        },
        { timeout: 30_000, interval: 200 },
      );
      expect(failedClone.events.find((e) => e.name === 'exception')?.attributes).toMatchObject({
        'exception.message': expect.stringMatching(/exceeds 1MB limit/),
      });
      const exceptions = receiver.spans.flatMap((s) => s.events).filter((e) => e.name === 'exception');
      for (const e of exceptions) expect(Object.keys(e.attributes)).not.toContain('exception.stacktrace');
      expect(JSON.stringify(receiver.spans)).not.toMatch(/\n\s+at /);
    });

    it('carries the trace through Temporal in a header holding the W3C trace context alone', async () => {
      const connection = await Connection.connect({ address: stack.temporalAddress });
      try {
        const history = await new Client({ connection }).workflow.getHandle(connected.workflowId).fetchHistory();
        const headers = (history.events ?? []).flatMap((e) => {
          const fields = (e.workflowExecutionStartedEventAttributes ?? e.activityTaskScheduledEventAttributes)?.header
            ?.fields;
          return fields?.['_tracer-data']
            ? [JSON.parse(Buffer.from(fields['_tracer-data'].data!).toString()) as Record<string, unknown>]
            : [];
        });
        // The start and each activity of the run.
        expect(headers.length).toBeGreaterThanOrEqual(4);
        for (const carrier of headers) {
          expect(Object.keys(carrier)).toEqual(['traceparent']);
          expect(carrier.traceparent).toMatch(new RegExp(`^00-${connected.traceId}-[0-9a-f]{16}-01$`));
        }
      } finally {
        await connection.close();
      }
    });

    it('arrived in both OTLP encodings: protobuf from the API, JSON from the worker', () => {
      expect([...receiver.contentTypes].sort()).toEqual(['application/json', 'application/x-protobuf']);
    });

    it('names the trace in every log line of the request and in every audit row of the repository', async () => {
      const requestLines = logs.api.filter((l) => l.requestId === connected.requestId);
      expect(requestLines.length).toBeGreaterThan(0);
      for (const line of requestLines) expect(line.trace_id, String(line.msg)).toBe(connected.traceId);
      const workerLines = logs.worker.filter((l) => l.repoId === connected.repoId);
      expect(workerLines.map((l) => l.msg)).toContain('repository cloned');
      for (const line of workerLines) expect(line.trace_id, String(line.msg)).toBe(connected.traceId);
      const audit = await sql<
        Array<{ action: string; traceId: string | null }>
      >`select action, trace_id from audit_log where repo_id = ${connected.repoId}`;
      expect(audit.length).toBeGreaterThanOrEqual(3);
      for (const row of audit) expect(row.traceId, row.action).toBe(connected.traceId);
    });
  });

  describe("the design's metrics on both /metrics endpoints", () => {
    let apiSamples: Sample[];
    let workerSamples: Sample[];
    beforeAll(async () => {
      [apiSamples, workerSamples] = await Promise.all([scrape(apiMetrics), scrape(workerMetrics)]);
    });

    it("asks for METRICS_TOKEN, and is off the API's own port when API_METRICS_PORT is set", async () => {
      for (const url of [apiMetrics, workerMetrics]) {
        expect((await fetch(url)).status).toBe(401);
        expect((await fetch(url, { headers: { authorization: 'Bearer wrong' } })).status).toBe(401);
      }
      expect((await fetch(`${api}/metrics`)).status).toBe(404);
    });

    it('counts each connect request by its outcome at admission (API)', () => {
      expect(valueOf(apiSamples, 'repo_connections_total', { status: 'admitted' })).toBe(2);
      expect(valueOf(apiSamples, 'repo_connections_total', { status: 'repository_too_large' })).toBe(1);
      expect(valueOf(apiSamples, 'repo_connections_total', { status: 'invalid_credentials' })).toBe(1);
      expect(find(apiSamples, 'repo_connections_total').every((s) => Object.keys(s.labels).join() === 'status')).toBe(
        true,
      );
    });

    it('times size checks by outcome and clones by status and size category, and counts the oversized (worker)', () => {
      expect(valueOf(workerSamples, 'git_size_check_duration_seconds_count', { outcome: 'ok' })).toBe(2);
      expect(valueOf(workerSamples, 'git_size_check_duration_seconds_count', { outcome: 'repository_too_large' })).toBe(
        1,
      );
      expect(valueOf(workerSamples, 'git_size_check_duration_seconds_count', { outcome: 'invalid_credentials' })).toBe(
        1,
      );
      expect(
        valueOf(workerSamples, 'repo_clone_duration_seconds_count', { status: 'ok', size_category: 'small' }),
      ).toBe(1);
      expect(
        valueOf(workerSamples, 'repo_clone_duration_seconds_bucket', {
          status: 'ok',
          size_category: 'small',
          le: '+Inf',
        }),
      ).toBe(1);
      expect(
        valueOf(workerSamples, 'repo_clone_duration_seconds_count', {
          status: 'repository_too_large',
          size_category: 'unknown',
        }),
      ).toBe(1);
      expect(valueOf(workerSamples, 'oversized_repo_rejections_total', { stage: 'size_check' })).toBe(1);
      expect(valueOf(workerSamples, 'oversized_repo_rejections_total', { stage: 'clone' })).toBe(1);
    });

    it('counts a clone that failed for good once, by its error code (worker)', () => {
      expect(find(workerSamples, 'repo_clones_failed_total')).toEqual([
        expect.objectContaining({ labels: { error_code: 'repository_too_large' }, value: 1 }),
      ]);
    });

    it('counts encryption operations by operation, key and outcome on both', () => {
      const key = (samples: Sample[]) => find(samples, 'encryption_operations_total').map((s) => s.labels.key_id);
      // Four tokens sealed for their trip through Temporal by the API, each with its repository's webhook secret.
      expect(valueOf(apiSamples, 'encryption_operations_total', { operation: 'encrypt', outcome: 'ok' })).toBe(8);
      // Each opened and encrypted for storage by the worker (webhook secrets too), then opened for its probe; the two admitted again for their clones.
      expect(valueOf(workerSamples, 'encryption_operations_total', { operation: 'encrypt', outcome: 'ok' })).toBe(8);
      expect(
        valueOf(workerSamples, 'encryption_operations_total', { operation: 'decrypt', outcome: 'ok' }),
      ).toBeGreaterThanOrEqual(10);
      expect(new Set([...key(apiSamples), ...key(workerSamples)]).size).toBe(1);
      expect(valueOf(workerSamples, 'encryption_operations_total', { outcome: 'failed' })).toBeUndefined();
    });

    it('reads the sandbox disk while a clone is kept (worker)', () => {
      const usage = valueOf(workerWhileKept, 'sandbox_disk_usage_bytes', { worker_id: workerId })!;
      // repository_size_mb is rounded to hundredths.
      expect(usage).toBeGreaterThanOrEqual((connected.sizeMb - 0.01) * 1024 * 1024);
      const size = valueOf(workerSamples, 'sandbox_filesystem_size_bytes', { worker_id: workerId })!;
      const free = valueOf(workerSamples, 'sandbox_filesystem_free_bytes', { worker_id: workerId })!;
      expect(size).toBeGreaterThan(0);
      expect(free).toBeGreaterThan(0);
      expect(free).toBeLessThanOrEqual(size);
    });

    it('shows the business gauges and the database as up (API)', async () => {
      expect(valueOf(apiSamples, 'database_up')).toBe(1);
      expect(valueOf(workerSamples, 'database_up')).toBe(1);
      expect(valueOf(apiSamples, 'projects_with_repos_total')).toBeGreaterThanOrEqual(1);
      const age = find(apiSamples, 'encryption_key_rotation_age_days');
      expect(age).toHaveLength(1);
      expect(age[0]!.value).toBeGreaterThanOrEqual(0);
      expect(age[0]!.value).toBeLessThan(1);
      expect(valueOf(apiSamples, 'completed_repos_over_size_limit')).toBe(0);
    });

    it("trips completed_repos_over_size_limit on a kept clone recorded over the limit it was held to, not over today's", async () => {
      const pretend = (limitMb: number) => sql`
        update code_repos set clone_status = 'COMPLETED', repository_size_mb = 2, size_limit_mb = ${limitMb} where id = ${connected.repoId}`;
      try {
        // Held to 5 MB when it was cloned, though this API's limit is 1 MB now: no bypass.
        await pretend(5);
        expect(valueOf(await scrape(apiMetrics), 'completed_repos_over_size_limit')).toBe(0);
        await pretend(1);
        expect(valueOf(await scrape(apiMetrics), 'completed_repos_over_size_limit')).toBe(1);
      } finally {
        await sql`update code_repos set clone_status = 'CLEANED', repository_size_mb = ${connected.sizeMb}, size_limit_mb = 1 where id = ${connected.repoId}`;
      }
    });

    it("exports the Temporal SDK's own metrics on the worker: task latencies, slots, sticky cache, poll failures", () => {
      const families = familiesOf(workerSamples);
      for (const name of [
        'temporal_workflow_task_schedule_to_start_latency_seconds',
        'temporal_activity_schedule_to_start_latency_seconds',
        'temporal_worker_task_slots_available',
        'temporal_sticky_cache_size',
        'temporal_num_pollers',
      ])
        expect(families.has(name), name).toBe(true);
      // Per task queue, as the backlog rules group them.
      expect(
        find(workerSamples, 'temporal_activity_schedule_to_start_latency_seconds_count').every(
          (s) => s.labels.task_queue,
        ),
      ).toBe(true);
    });

    it('exports every metric the alert rules and the Grafana dashboard query', () => {
      const live = familiesOf([...apiSamples, ...workerSamples]);
      // Recorded by the rules themselves; the Temporal server's own (not a process of ours); and the
      // SDK's long-poll failures, a counter its core creates at the first failure, which a healthy run never has.
      const elsewhere = new Set([
        ...recordedNames(),
        'approximate_backlog_count',
        'temporal_long_request_failure_total',
      ]);
      const missing = deployQueries().flatMap(({ source, expr }) =>
        metricNamesIn(expr)
          .filter((name) => !elsewhere.has(name) && !live.has(name))
          .map((name) => `${name} (${source})`),
      );
      expect(missing).toEqual([]);
    });
  });
});
