import { randomBytes, randomUUID } from 'node:crypto';
import { execFile } from 'node:child_process';
import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, inject, it, vi } from 'vitest';
import { cleanupSignal, retrySignal } from '../../src/shared/connect-repository.js';
import { workflowIdFor } from '../../src/api/admission.js';
import { createLogger } from '../../src/config/logger.js';
import { startWorkerService, type WorkerService } from '../../src/worker/start-worker.js';
import { call, DEFAULT_USER, startAppUnderTest, waitForState, type AppUnderTest } from '../support/app-under-test.js';
import { createBareRepo, createRepoWithHeavyHistory, pushCommit } from '../support/git-repos.js';
import { FIXTURE_MASTER_ENCRYPTION_KEY } from './fixture-key.js';

/**
 * Records real histories of the workflows' paths into test/histories/<name>.json, for the replay
 * test. Run on purpose only (`npm run histories:record`): see the README's "Changing the workflow".
 */
const HERE = path.dirname(fileURLToPath(import.meta.url));
const run = promisify(execFile);
const stack = inject('stack');
let app: AppUnderTest;
let ttlApp: AppUnderTest;
/** Scheduled syncs every second, and a run continuing as new after two of them. */
let scheduleApp: AppUnderTest;
let projectId: string;
let tiny: string;
let heavy: string;
let tooLarge: string;
let flaky: string;
let heavyOverLimit: string;

const KEYS = { MASTER_ENCRYPTION_KEY: FIXTURE_MASTER_ENCRYPTION_KEY, MAX_REPO_SIZE_MB: '5' };

beforeAll(async () => {
  app = await startAppUnderTest(stack, { ...KEYS, SANDBOX_TTL_SECONDS: '3600' });
  ttlApp = await startAppUnderTest(stack, { ...KEYS, SANDBOX_TTL_SECONDS: '2', RECONCILE_INTERVAL_SECONDS: '1' });
  scheduleApp = await startAppUnderTest(stack, {
    ...KEYS,
    SANDBOX_TTL_SECONDS: '3600',
    SYNC_MIN_INTERVAL_SECONDS: '1',
    SYNCS_PER_RUN: '2',
  });
  projectId = (await call(app, 'POST', '/api/v1/projects', { name: 'histories' })).body.id;
  const name = (prefix: string) => `${prefix}-${randomUUID().slice(0, 8)}`;
  tiny = await named(name('tiny'), (n) => createBareRepo(stack.gitRoot, n, { 'README.md': 'hello\n' }));
  flaky = await named(name('flaky'), (n) =>
    createBareRepo(stack.gitRoot, n, { 'README.md': 'retry me\n', 'data.bin': randomBytes(300_000) }),
  );
  tooLarge = await named(name('large'), (n) => createBareRepo(stack.gitRoot, n, { 'big.bin': randomBytes(6_000_000) }));
  heavyOverLimit = await named(name('over'), (n) =>
    createRepoWithHeavyHistory(stack.gitRoot, n, { 'old.bin': randomBytes(6_000_000) }, { 'README.md': 'tip\n' }),
  );
  heavy = await named(name('heavy'), (n) =>
    createRepoWithHeavyHistory(stack.gitRoot, n, { 'old.bin': randomBytes(2_000_000) }, { 'README.md': 'tip\n' }),
  );
});

afterAll(async () => {
  await app?.stop();
  await ttlApp?.stop();
  await scheduleApp?.stop();
});

async function named(name: string, create: (name: string) => Promise<unknown>): Promise<string> {
  await create(name);
  return name;
}

const url = (repo: string, prefix = '') => `${stack.gitUrl}${prefix}/${repo}.git`;

/** POST /code/connect; `workflowId` is the run's, whether it was admitted or rejected. */
async function connect(on: AppUnderTest, gitUrl: string, accessToken = stack.gitToken) {
  const project =
    on === app ? projectId : (await call(on, 'POST', '/api/v1/projects', { name: 'histories-ttl' })).body.id;
  const requestId = randomUUID();
  const res = await call(on, 'POST', '/api/v1/code/connect', {
    git_url: gitUrl,
    access_token: accessToken,
    project_id: project,
    request_id: requestId,
  });
  return { ...res, workflowId: workflowIdFor(DEFAULT_USER, requestId) };
}

/** A recorded history's text. */
const recorded = (name: string) => readFile(path.join(HERE, `${name}.json`), 'utf8');

/** A connect of the heavy repository served slowly, once its clone is receiving (~10 s to go). */
async function midClone() {
  const res = await connect(app, url(heavy, '/slow/200000'));
  expect(res.status).toBe(201);
  await waitForState(app, res.body.workflow_id, (s) => s.stage === 'cloning' && (s.bytesReceived ?? 0) > 0);
  return res;
}

/**
 * Waits for the run to close, then writes its history as the server gives it (`temporal workflow show --output json`):
 * the latest run's, or the one of `runId` (a run that continued as new).
 */
async function record(on: AppUnderTest, name: string, workflowId: string, runId?: string): Promise<void> {
  await on.temporal.workflow
    .getHandle(workflowId)
    .result()
    .catch(() => undefined);
  const which = runId ? ['--run-id', runId] : [];
  const { stdout } = await run(
    stack.temporalCliPath,
    ['workflow', 'show', '--address', stack.temporalAddress, '--workflow-id', workflowId, ...which, '--output', 'json'],
    { maxBuffer: 64 * 1024 * 1024 },
  );
  await writeFile(path.join(HERE, `${name}.json`), stdout);
}

/**
 * Paths recorded again since workflows run under Temporal's OpenTelemetry interceptors (SDK flag 6
 * set, a `_tracer-data` header on each command), beside the earlier recordings without them.
 */
const TRACED = 'traced-';

async function completedThenCleanup(name: string): Promise<void> {
  const res = await connect(app, url(tiny));
  expect(res.status).toBe(201);
  await waitForState(app, res.body.workflow_id, (s) => s.cloneStatus === 'COMPLETED');
  expect((await call(app, 'POST', `/api/v1/code/repos/${res.body.repo_id}/cleanup`)).status).toBe(202);
  await record(app, name, res.body.workflow_id);
}

async function failedRetriedCompleted(name: string): Promise<void> {
  const res = await connect(app, url(flaky, `/flaky/${randomUUID()}/2/3`));
  expect(res.status).toBe(201);
  await waitForState(app, res.body.workflow_id, (s) => s.cloneStatus === 'FAILED');
  expect(
    (await call(app, 'POST', `/api/v1/code/repos/${res.body.repo_id}/retry`, { access_token: stack.gitToken })).status,
  ).toBe(202);
  await waitForState(app, res.body.workflow_id, (s) => s.cloneStatus === 'COMPLETED');
  const handle = app.temporal.workflow.getHandle(res.body.workflow_id);
  await handle.signal(retrySignal, {});
  await handle.signal(cleanupSignal);
  await record(app, name, res.body.workflow_id);
}

describe('recorded histories', () => {
  it('admitted, completed, then the cleanup signal', async () => {
    await completedThenCleanup('completed-then-cleanup-signal');
  });

  it('traced: admitted, completed, then the cleanup signal', async () => {
    await completedThenCleanup(`${TRACED}completed-then-cleanup-signal`);
  });

  it('completed, then cleaned by the TTL timer', async () => {
    const res = await connect(ttlApp, url(tiny));
    expect(res.status).toBe(201);
    await record(ttlApp, 'completed-then-ttl-cleanup', res.body.workflow_id);
  });

  it('rejected at admission: 401', async () => {
    const res = await connect(app, url(tiny), 'wrong-token-0123456789');
    expect(res.status).toBe(401);
    await record(app, 'rejected-401', res.workflowId);
  });

  it('rejected at admission: 413', async () => {
    const res = await connect(app, url(tooLarge));
    expect(res.status).toBe(413);
    await record(app, 'rejected-413', res.workflowId);
  });

  it('transient 503s at admission, then completed', async () => {
    const res = await connect(app, url(flaky, `/flaky/${randomUUID()}/0/2`));
    expect(res.status).toBe(201);
    await waitForState(app, res.body.workflow_id, (s) => s.cloneStatus === 'COMPLETED');
    await app.temporal.workflow.getHandle(res.body.workflow_id).signal(cleanupSignal);
    await record(app, 'transient-503-then-completed', res.body.workflow_id);
  });

  it('FAILED, then the retry with a new token, then COMPLETED (and a retry ignored)', async () => {
    await failedRetriedCompleted('failed-retry-new-token-completed');
  });

  it('traced: FAILED, then the retry with a new token, then COMPLETED (and a retry ignored)', async () => {
    await failedRetriedCompleted(`${TRACED}failed-retry-new-token-completed`);
  });

  it('FAILED as too large during the clone, retried (the size probed again), FAILED again, cleaned', async () => {
    const res = await connect(app, url(heavyOverLimit));
    expect(res.status).toBe(201);
    await waitForState(
      app,
      res.body.workflow_id,
      (s) => s.cloneStatus === 'FAILED' && s.error?.code === 'repository_too_large',
    );
    expect((await call(app, 'POST', `/api/v1/code/repos/${res.body.repo_id}/retry`, {})).status).toBe(202);
    await waitForState(app, res.body.workflow_id, (s) => s.cloneStatus === 'FAILED' && s.cloneAttempts === 2);
    await app.temporal.workflow.getHandle(res.body.workflow_id).signal(cleanupSignal);
    await record(app, 'failed-too-large-retried', res.body.workflow_id);
  });

  it('cleanup during a clone', async () => {
    const res = await midClone();
    await app.temporal.workflow.getHandle(res.body.workflow_id).signal(cleanupSignal);
    await record(app, 'cleanup-during-clone', res.body.workflow_id);
  });

  it('disconnected (DELETE) during a clone', async () => {
    const res = await midClone();
    expect((await call(app, 'DELETE', `/api/v1/code/repos/${res.body.repo_id}`)).status).toBe(202);
    await record(app, 'disconnected-during-clone', res.body.workflow_id);
  });

  it(
    'the host holding the files gone: the cleanup settled from any host after 10 minutes without a pickup',
    async () => {
      // A worker of one host clones; it goes away for good; a worker of another host is left.
      const hostApp = await startAppUnderTest(stack, { ...KEYS, SANDBOX_TTL_SECONDS: '3600' }, { worker: false });
      const logger = createLogger({ level: 'error', pretty: false });
      const gone = await startWorkerService({ ...hostApp.config, WORKER_HOST_ID: 'host-gone' }, logger);
      let survivor: WorkerService | undefined;
      try {
        const res = await connect(hostApp, url(tiny));
        expect(res.status).toBe(201);
        await waitForState(hostApp, res.body.workflow_id, (s) => s.cloneStatus === 'COMPLETED');
        await gone.stop();
        survivor = await startWorkerService({ ...hostApp.config, WORKER_HOST_ID: 'host-survivor' }, logger);
        await hostApp.temporal.workflow.getHandle(res.body.workflow_id).signal(cleanupSignal);
        await record(hostApp, 'host-lost-cleanup', res.body.workflow_id);
        expect(await recorded('host-lost-cleanup')).toContain('TIMEOUT_TYPE_SCHEDULE_TO_START');
      } finally {
        await survivor?.stop();
        await hostApp.stop();
      }
    },
    15 * 60_000,
  );

  it(
    "the probe's host too busy: the clone taken by any host after 30 s",
    async () => {
      // One clone slot (three on the host's own queue): three slow clones keep this host's queue full for ~50 s.
      const busyApp = await startAppUnderTest(stack, { ...KEYS, SANDBOX_TTL_SECONDS: '3600', WORKER_CONCURRENCY: '1' });
      try {
        const slow = await Promise.all([1, 2, 3].map(() => connect(busyApp, url(heavy, '/slow/40000'))));
        await Promise.all(
          slow.map((r) =>
            waitForState(busyApp, r.body.workflow_id, (s) => s.stage === 'cloning' && (s.bytesReceived ?? 0) > 0),
          ),
        );
        const res = await connect(busyApp, url(tiny));
        expect(res.status).toBe(201);
        await waitForState(busyApp, res.body.workflow_id, (s) => s.cloneStatus === 'COMPLETED', 90_000);
        await busyApp.temporal.workflow.getHandle(res.body.workflow_id).signal(cleanupSignal);
        await record(busyApp, 'probe-host-busy-clone-elsewhere', res.body.workflow_id);
        expect(await recorded('probe-host-busy-clone-elsewhere')).toContain('TIMEOUT_TYPE_SCHEDULE_TO_START');
        for (const r of slow) await busyApp.temporal.workflow.getHandle(r.body.workflow_id).signal(cleanupSignal);
        await Promise.all(slow.map((r) => busyApp.temporal.workflow.getHandle(r.body.workflow_id).result()));
      } finally {
        await busyApp.stop();
      }
    },
    5 * 60_000,
  );

  it('completed, synced, a sync over the limit failed (the clone kept), then the cleanup signal', async () => {
    const name = `sync-${randomUUID().slice(0, 8)}`;
    const bare = await createBareRepo(stack.gitRoot, name, { 'README.md': 'one\n' });
    const res = await connect(app, url(name));
    expect(res.status).toBe(201);
    await waitForState(app, res.body.workflow_id, (s) => s.cloneStatus === 'COMPLETED');
    const synced = async (action: string, count: number) =>
      vi.waitFor(
        async () => {
          const [row] = await app.sql<
            { n: number }[]
          >`select count(*)::int as n from audit_log where repo_id = ${res.body.repo_id} and action = ${action}`;
          expect(row!.n).toBe(count);
        },
        { timeout: 45_000, interval: 100 },
      );
    await pushCommit(bare, { 'README.md': 'two\n' });
    expect((await call(app, 'POST', `/api/v1/code/repos/${res.body.repo_id}/sync`)).status).toBe(202);
    await synced('repo.synced', 1);
    await waitForState(app, res.body.workflow_id, (s) => s.stage === 'ready');
    await pushCommit(bare, { 'big.bin': randomBytes(6_000_000) });
    expect((await call(app, 'POST', `/api/v1/code/repos/${res.body.repo_id}/sync`)).status).toBe(202);
    await synced('repo.sync_failed', 1);
    await waitForState(
      app,
      res.body.workflow_id,
      (s) => s.stage === 'ready' && s.error?.code === 'repository_too_large',
    );
    await app.temporal.workflow.getHandle(res.body.workflow_id).signal(cleanupSignal);
    await record(app, 'completed-synced-sync-too-large-then-cleanup', res.body.workflow_id);
  });

  it('scheduled syncs, a refused token (syncs paused), the retry with a new one, continued as new, then the cleanup', async () => {
    const repo = `scheduled-${randomUUID().slice(0, 8)}`;
    const bare = await createBareRepo(stack.gitRoot, repo, { 'README.md': 'one\n' });
    const key = randomUUID();
    const requestId = randomUUID();
    const project = (await call(scheduleApp, 'POST', '/api/v1/projects', { name: 'histories-schedule' })).body.id;
    const res = await call(scheduleApp, 'POST', '/api/v1/code/connect', {
      git_url: url(repo, `/token/${key}`),
      access_token: stack.gitToken,
      project_id: project,
      request_id: requestId,
      sync_interval_seconds: 1,
    });
    expect(res.status).toBe(201);
    const workflowId = res.body.workflow_id as string;
    const firstRun = (await scheduleApp.temporal.workflow.getHandle(workflowId).describe()).runId;
    await pushCommit(bare, { 'README.md': 'two\n' });
    await waitForState(scheduleApp, workflowId, (s) => (s.syncs?.count ?? 0) >= 1);
    const rotated = `rotated-${randomUUID()}`;
    expect((await fetch(`${stack.gitUrl}/_token/${key}`, { method: 'PUT', body: rotated })).status).toBe(204);
    await waitForState(scheduleApp, workflowId, (s) => s.syncs?.needsAttention === true && s.stage === 'ready');
    expect(
      (await call(scheduleApp, 'POST', `/api/v1/code/repos/${res.body.repo_id}/retry`, { access_token: rotated }))
        .status,
    ).toBe(202);
    // The run that took the retry (a continued one, or the first).
    const retriedRun = (await scheduleApp.temporal.workflow.getHandle(workflowId).describe()).runId;
    await waitForState(
      scheduleApp,
      workflowId,
      (s) => s.syncs?.needsAttention === false && (s.syncs?.continuedAsNew ?? 0) >= 2 && s.stage === 'ready',
    );
    await scheduleApp.temporal.workflow.getHandle(workflowId).signal(cleanupSignal);
    // Three runs of one workflow: the first (ends continued as new), the one that took the retry, and the last (cleaned up).
    await record(scheduleApp, 'scheduled-syncs-first-run', workflowId, firstRun);
    await record(scheduleApp, 'scheduled-syncs-retried-run', workflowId, retriedRun);
    await record(scheduleApp, 'scheduled-syncs-last-run', workflowId);
  });

  it("the reconciler's scheduled run", async () => {
    const id = await vi.waitFor(
      async () => {
        for await (const wf of ttlApp.temporal.workflow.list({
          query: `TaskQueue = "${ttlApp.config.TEMPORAL_TASK_QUEUE}" AND WorkflowType = "reconcileRepositories" AND ExecutionStatus = "Completed"`,
        }))
          return wf.workflowId;
        throw new Error('no completed reconciler run yet');
      },
      { timeout: 30_000, interval: 500 },
    );
    await record(ttlApp, 'reconcile-repositories', id);
  });
});
