import { randomBytes, randomUUID } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, readdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { MockActivityEnvironment } from '@temporalio/testing';
import { afterAll, beforeAll, describe, expect, inject, it, vi } from 'vitest';
import { createActivities } from '../../src/activities/index.js';
import { createLogger } from '../../src/config/logger.js';
import { probePath } from '../../src/sandbox/sandbox.js';
import { activitySettingsOf } from '../../src/worker/start-worker.js';
import { ensureReconcilerSchedule, reconcilerScheduleId } from '../../src/worker/reconciler-schedule.js';
import { call, startAppUnderTest, waitForState, type AppUnderTest } from '../support/app-under-test.js';
import { createBareRepo, createRepoWithHeavyHistory } from '../support/git-repos.js';

const stack = inject('stack');
let app: AppUnderTest;
let projectId: string;
let smallRepo: string;
let slowRepo: string;

/** Short periods, so one pass of the reconciler and of the sweep fits in a test. */
const RECONCILE_SECONDS = 2;
const SWEEP_SECONDS = 1;
const SETTLED_WITHIN = { timeout: 30_000, interval: 200 };

beforeAll(async () => {
  app = await startAppUnderTest(stack, {
    SANDBOX_TTL_SECONDS: '3600',
    RECONCILE_INTERVAL_SECONDS: String(RECONCILE_SECONDS),
    SANDBOX_SWEEP_INTERVAL_SECONDS: String(SWEEP_SECONDS),
  });
  projectId = (await call(app, 'POST', '/api/v1/projects', { name: 'terminal states' })).body.id;
  smallRepo = `small-${randomUUID().slice(0, 8)}`;
  await createBareRepo(stack.gitRoot, smallRepo, { 'README.md': 'settle me\n', 'data.bin': randomBytes(50_000) });
  // A light tip over a heavy history: admitted at once, then a clone that takes ~10 s at the pace below.
  slowRepo = `slow-${randomUUID().slice(0, 8)}`;
  await createRepoWithHeavyHistory(
    stack.gitRoot,
    slowRepo,
    { 'old.bin': randomBytes(2_000_000) },
    { 'README.md': 'tip\n' },
  );
});

afterAll(async () => {
  await app?.stop();
});

const connect = async (repo: string, pace?: number) => {
  const res = await call(app, 'POST', '/api/v1/code/connect', {
    git_url: pace ? `${stack.gitUrl}/slow/${pace}/${repo}.git` : `${stack.gitUrl}/${repo}.git`,
    access_token: stack.gitToken,
    project_id: projectId,
    request_id: randomUUID(),
  });
  expect(res.status).toBe(201);
  return {
    repoId: res.body.repo_id as string,
    workflowId: res.body.workflow_id as string,
    sandbox: path.join(app.config.SANDBOX_BASE_PATH, projectId, res.body.repo_id),
  };
};

const rowOf = async (repoId: string) =>
  (await app.sql`select clone_status, error_code, sandbox_path, token_kid from code_repos where id = ${repoId}`)[0]!;

const transitionsOf = async (repoId: string) =>
  (
    await app.sql`select from_state, to_state, user_id, metadata from audit_log where repo_id = ${repoId} and to_state is not null order by id`
  ).map((t) => `${t.fromState ?? ''}->${t.toState}`);

const cloningStarted = (workflowId: string) =>
  waitForState(app, workflowId, (s) => s.stage === 'cloning' && (s.bytesReceived ?? 0) > 0);

describe('every row reaches a terminal state', () => {
  it('the clone activity run again after its commit returns the recorded result: one row, one sandbox', async () => {
    const { repoId, workflowId, sandbox } = await connect(smallRepo);
    const done = await waitForState(app, workflowId, (s) => s.cloneStatus === 'COMPLETED');
    const [row] = await app.sql`select token_ciphertext, token_kid, request_id from code_repos where id = ${repoId}`;
    const before = await transitionsOf(repoId);
    const activities = createActivities({
      sql: app.sql,
      keys: app.keys,
      logger: createLogger({ level: 'silent' }),
      settings: { ...activitySettingsOf(app.config), hostTaskQueue: 'another-host' },
    });
    const again = await new MockActivityEnvironment({ attempt: 2 }).run(activities.cloneRepository, {
      tokenCiphertext: Buffer.from(row!.tokenCiphertext).toString('base64'),
      tokenKid: row!.tokenKid,
      repoId,
      projectId,
      gitUrl: `${stack.gitUrl}/${smallRepo}.git`,
      audit: { correlationId: 'rerun', requestId: row!.requestId, userId: 'test' },
    });
    // The files stay where they are, on the host that made them, whoever runs the activity again.
    expect(again).toMatchObject({
      sandboxPath: done.sandboxPath,
      repositorySizeMb: done.repositorySizeMb,
      hostTaskQueue: app.worker!.hostTaskQueue,
    });
    expect((await rowOf(repoId)).cloneStatus).toBe('COMPLETED');
    expect(await transitionsOf(repoId)).toEqual(before);
    expect(await readdir(path.dirname(sandbox))).toEqual([repoId]);
  });

  it('an ignored signal recorded twice (its activity retried after the first commit) leaves one audit row', async () => {
    const activities = createActivities({
      sql: app.sql,
      keys: app.keys,
      logger: createLogger({ level: 'silent' }),
      settings: activitySettingsOf(app.config),
    });
    const requestId = randomUUID();
    const info = { activityId: '7', workflowExecution: { workflowId: 'wf-twice', runId: randomUUID() } };
    const input = {
      repoId: null,
      signal: 'retry',
      stage: 'cloning',
      audit: { correlationId: 'twice', requestId, userId: 'test' },
    };
    await new MockActivityEnvironment({ ...info, attempt: 1 }).run(activities.recordIgnoredSignal, input);
    await new MockActivityEnvironment({ ...info, attempt: 2 }).run(activities.recordIgnoredSignal, input);
    const rows = await app.sql`select action from audit_log where request_id = ${requestId}`;
    expect(rows.map((r) => r.action)).toEqual(['signal.retry.ignored']);
  });

  it('a workflow cancelled mid-clone removes what it made and ends CLEANED', async () => {
    const { repoId, workflowId, sandbox } = await connect(slowRepo, 200_000);
    await cloningStarted(workflowId);
    const handle = app.temporal.workflow.getHandle(workflowId);
    await handle.cancel();
    await vi.waitFor(async () => expect((await handle.describe()).status.name).toBe('CANCELLED'), SETTLED_WITHIN);
    expect((await rowOf(repoId)).cloneStatus).toBe('CLEANED');
    expect(existsSync(sandbox)).toBe(false);
    expect(await transitionsOf(repoId)).toEqual([
      '->PENDING',
      'PENDING->CLONING',
      'CLONING->CLEANING',
      'CLEANING->CLEANED',
    ]);
  });

  it('a workflow terminated mid-clone: the reconciler fails the row as workflow_lost, the sweep removes its files', async () => {
    const { repoId, workflowId, sandbox } = await connect(slowRepo, 200_000);
    await cloningStarted(workflowId);
    await app.temporal.workflow.getHandle(workflowId).terminate('operator pressed Terminate');
    await vi.waitFor(
      async () =>
        expect(await rowOf(repoId)).toMatchObject({
          cloneStatus: 'FAILED',
          errorCode: 'workflow_lost',
          sandboxPath: null,
        }),
      SETTLED_WITHIN,
    );
    await vi.waitFor(() => expect(existsSync(sandbox)).toBe(false), SETTLED_WITHIN);
    const [audit] =
      await app.sql`select user_id, metadata from audit_log where repo_id = ${repoId} and to_state = 'FAILED'`;
    expect(audit).toMatchObject({
      userId: 'system:reconciler',
      metadata: { reason: 'reconciler', workflow_status: 'TERMINATED' },
    });
  });

  it('a COMPLETED clone whose workflow was terminated is cleaned: row CLEANED, files gone', async () => {
    const { repoId, workflowId, sandbox } = await connect(smallRepo);
    await waitForState(app, workflowId, (s) => s.cloneStatus === 'COMPLETED');
    expect(existsSync(sandbox)).toBe(true);
    await app.temporal.workflow.getHandle(workflowId).terminate('lost');
    await vi.waitFor(async () => expect((await rowOf(repoId)).cloneStatus).toBe('CLEANED'), SETTLED_WITHIN);
    await vi.waitFor(() => expect(existsSync(sandbox)).toBe(false), SETTLED_WITHIN);
    expect((await transitionsOf(repoId)).slice(-2)).toEqual(['COMPLETED->CLEANING', 'CLEANING->CLEANED']);
  });

  it('a directory under the sandbox root that no row owns is swept', async () => {
    const planted = path.join(app.config.SANDBOX_BASE_PATH, randomUUID(), randomUUID(), 'repository');
    await mkdir(planted, { recursive: true });
    await writeFile(path.join(planted, 'left-behind.txt'), 'nobody owns me\n');
    await vi.waitFor(() => expect(existsSync(path.dirname(planted))).toBe(false), SETTLED_WITHIN);
  });

  it('a size probe under way, which no row owns yet, is not taken for an orphan', async () => {
    const probe = probePath(app.config.SANDBOX_BASE_PATH, randomUUID());
    await mkdir(probe, { recursive: true });
    const planted = path.join(app.config.SANDBOX_BASE_PATH, randomUUID(), randomUUID(), 'repository');
    await mkdir(planted, { recursive: true });
    // The sweep that removes the orphan has looked at the probe too.
    await vi.waitFor(() => expect(existsSync(path.dirname(planted))).toBe(false), SETTLED_WITHIN);
    expect(existsSync(probe)).toBe(true);
  });

  it('the reconciler runs on a Temporal Schedule created at start-up, idempotently', async () => {
    const handle = app.temporal.schedule.getHandle(reconcilerScheduleId(app.config.TEMPORAL_TASK_QUEUE));
    const every = async () => (await handle.describe()).spec.intervals?.map((i) => i.every);
    expect(await every()).toEqual([RECONCILE_SECONDS * 1000]);
    expect((await handle.describe()).action).toMatchObject({
      type: 'startWorkflow',
      workflowType: 'reconcileRepositories',
      taskQueue: app.config.TEMPORAL_TASK_QUEUE,
    });
    // What a second worker (or a restart with another setting) does at start-up: the one schedule is brought up to date.
    const settings = { taskQueue: app.config.TEMPORAL_TASK_QUEUE, intervalSeconds: RECONCILE_SECONDS };
    await ensureReconcilerSchedule(app.temporal, { ...settings, intervalSeconds: 7 });
    expect(await every()).toEqual([7000]);
    await ensureReconcilerSchedule(app.temporal, settings);
    expect(await every()).toEqual([RECONCILE_SECONDS * 1000]);
  });
});
