import { randomUUID } from 'node:crypto';
import { MockActivityEnvironment } from '@temporalio/testing';
import { afterAll, beforeAll, describe, expect, inject, it, vi } from 'vitest';
import { createActivities } from '../../src/activities/index.js';
import type { OrphanedRepo } from '../../src/activities/reconcile.js';
import type { RetentionResult } from '../../src/activities/retention.js';
import { createLogger } from '../../src/config/logger.js';
import { recordSync } from '../../src/db/repo-sync.js';
import { cleanupSignal } from '../../src/shared/connect-repository.js';
import { activitySettingsOf } from '../../src/worker/start-worker.js';
import { retentionScheduleId } from '../../src/worker/retention-schedule.js';
import { call, startAppUnderTest, waitForState, type AppUnderTest } from '../support/app-under-test.js';
import { createBareRepo, pushCommit, revParse } from '../support/git-repos.js';

const stack = inject('stack');
let app: AppUnderTest;
let projectId: string;
/** Rows this file writes straight into code_repos (disconnected, so no token): removed at the end. */
const planted: string[] = [];
const workflows: string[] = [];

beforeAll(async () => {
  app = await startAppUnderTest(stack, { SANDBOX_TTL_SECONDS: '3600' });
  projectId = (await call(app, 'POST', '/api/v1/projects', { name: 'retention' })).body.id;
});

afterAll(async () => {
  if (!app) return;
  if (planted.length > 0) await app.sql`delete from code_repos where id in ${app.sql(planted)}`;
  for (const id of workflows)
    await app.temporal.workflow
      .getHandle(id)
      .terminate()
      .catch(() => {});
  await app.stop();
});

const activitiesWith = (settings: Partial<ReturnType<typeof activitySettingsOf>>) =>
  createActivities({
    sql: app.sql,
    keys: app.keys,
    logger: createLogger({ level: 'silent' }),
    settings: { ...activitySettingsOf(app.config), ...settings },
  });

/** A disconnected row still being removed (unsettled, so the reconciler judges it), owned by `workflowId`. */
async function plantRow(id: string, workflowId: string | null): Promise<string> {
  await app.sql`insert into code_repos (id, project_id, git_url, clone_status, request_id, workflow_id, disconnected_at)
    values (${id}, ${projectId}, 'https://example.test/r.git', 'CLEANING', ${randomUUID()}, ${workflowId}, now())`;
  planted.push(id);
  return id;
}

/** Audit rows of `marker` written `daysAgo` days ago. */
async function backdatedAudit(marker: string, count: number, daysAgo: number): Promise<void> {
  for (let i = 0; i < count; i++) {
    await app.sql`insert into audit_log (correlation_id, action, metadata, created_at)
      values (${marker}, 'test.backdated', ${app.sql.json({ days_ago: daysAgo })}, now() - make_interval(days => ${daysAgo}))`;
  }
}

const auditDaysOf = async (marker: string) =>
  (
    await app.sql<
      { days: number }[]
    >`select (metadata->>'days_ago')::int as days from audit_log where correlation_id = ${marker} order by id`
  ).map((r) => r.days);

describe('retention', () => {
  it('deletes audit rows and webhook deliveries past their retention, in batches with a heartbeat each; newer ones stay', async () => {
    const marker = `retention-${randomUUID()}`;
    await backdatedAudit(marker, 5, 401);
    await backdatedAudit(marker, 3, 399);
    const repoId = await plantRow(randomUUID(), null);
    await app.sql`insert into webhook_deliveries (repo_id, delivery_id, received_at) values
      (${repoId}, 'old-1', now() - interval '8 days'), (${repoId}, 'old-2', now() - interval '9 days'), (${repoId}, 'recent', now() - interval '6 days')`;

    const activities = activitiesWith({ retention: { auditDays: 400, webhookDeliveryDays: 7, batchSize: 2 } });
    const env = new MockActivityEnvironment();
    const heartbeats: unknown[] = [];
    env.on('heartbeat', (d: unknown) => heartbeats.push(d));
    const result: RetentionResult = await env.run(activities.deleteExpiredRecords);

    expect(await auditDaysOf(marker)).toEqual([399, 399, 399]);
    expect(await app.sql`select delivery_id from webhook_deliveries where repo_id = ${repoId}`).toEqual([
      { deliveryId: 'recent' },
    ]);
    // Five old rows at two a batch: at least three batches (other files' rows may add to them), each heartbeating.
    expect(result.auditLog.rows).toBeGreaterThanOrEqual(5);
    expect(result.auditLog.batches).toBeGreaterThanOrEqual(3);
    expect(result.webhookDeliveries.batches).toBeGreaterThanOrEqual(2);
    expect(heartbeats.length).toBe(result.auditLog.batches + result.webhookDeliveries.batches);

    // Run again: nothing left to delete, nothing else touched.
    const again: RetentionResult = await new MockActivityEnvironment().run(activities.deleteExpiredRecords);
    expect(again.auditLog.batches).toBe(1);
    expect(await auditDaysOf(marker)).toEqual([399, 399, 399]);
  });

  it('runs on its own Temporal Schedule, created at worker start: a triggered run deletes what is past the retention', async () => {
    const handle = app.temporal.schedule.getHandle(retentionScheduleId(app.config.TEMPORAL_TASK_QUEUE));
    expect((await handle.describe()).action).toMatchObject({
      type: 'startWorkflow',
      workflowType: 'enforceRetention',
      taskQueue: app.config.TEMPORAL_TASK_QUEUE,
    });
    const marker = `scheduled-${randomUUID()}`;
    await backdatedAudit(marker, 2, app.config.AUDIT_RETENTION_DAYS + 1);
    await backdatedAudit(marker, 1, 1);
    await handle.trigger();
    await vi.waitFor(async () => expect(await auditDaysOf(marker)).toEqual([1]), { timeout: 30_000, interval: 200 });
  });
});

describe('ignored signals', () => {
  it('repeated for one repository, signal and stage: one audit row an hour, not one each', async () => {
    const repoId = await plantRow(randomUUID(), null);
    const activities = activitiesWith({});
    const audit = { correlationId: 'ignored', requestId: randomUUID(), userId: 'test' };
    // Each its own activity (a once key of its own), as the workflow records every signal it ignores.
    const ignore = (n: number, stage: string) =>
      new MockActivityEnvironment({
        activityId: String(n),
        workflowExecution: { workflowId: 'wf-ignored', runId: randomUUID() },
      }).run(activities.recordIgnoredSignal, { repoId, signal: 'sync', stage, audit });
    for (let n = 0; n < 20; n++) await ignore(n, 'failed');
    await ignore(20, 'waiting_for_retry');
    const rows =
      await app.sql`select action, metadata->>'stage' as stage from audit_log where repo_id = ${repoId} and action like 'signal.%' order by id`;
    expect(rows).toEqual([
      { action: 'signal.sync.ignored', stage: 'failed' },
      { action: 'signal.sync.ignored', stage: 'waiting_for_retry' },
    ]);
  });
});

describe('up-to-date syncs', () => {
  it('are counted on the row and shown by GET, not audited; a sync with a new commit is', async () => {
    const name = `uptodate-${randomUUID().slice(0, 8)}`;
    const bare = await createBareRepo(stack.gitRoot, name, { 'README.md': 'one\n' });
    const res = await call(app, 'POST', '/api/v1/code/connect', {
      git_url: `${stack.gitUrl}/${name}.git`,
      access_token: stack.gitToken,
      project_id: projectId,
    });
    expect(res.status).toBe(201);
    const repoId = res.body.repo_id as string;
    const workflowId = res.body.workflow_id as string;
    await waitForState(app, workflowId, (s) => s.cloneStatus === 'COMPLETED');
    const before = (await call(app, 'GET', `/api/v1/code/repos/${repoId}`)).body;
    expect(before).toMatchObject({ up_to_date_syncs: 0, last_checked_at: null });
    const audited = async () =>
      (await app.sql`select count(*)::int as n from audit_log where repo_id = ${repoId}`)[0]!.n as number;
    const auditBefore = await audited();

    // Three real syncs through the running workflow, each finding the commit already checked out.
    for (let n = 1; n <= 3; n++) {
      expect((await call(app, 'POST', `/api/v1/code/repos/${repoId}/sync`)).status).toBe(202);
      await vi.waitFor(
        async () => expect((await call(app, 'GET', `/api/v1/code/repos/${repoId}`)).body.up_to_date_syncs).toBe(n),
        { timeout: 45_000, interval: 100 },
      );
    }
    const checked = (await call(app, 'GET', `/api/v1/code/repos/${repoId}`)).body;
    expect(checked).toMatchObject({
      head_commit: before.head_commit,
      synced_at: before.synced_at,
      up_to_date_syncs: 3,
    });
    expect(Date.parse(checked.last_checked_at)).toBeGreaterThan(Date.parse(before.synced_at));
    expect(await audited()).toBe(auditBefore);

    // 1,000 more through the database function the sync activity calls: the counter moves, the log does not.
    const row = (await app.sql`select request_id from code_repos where id = ${repoId}`)[0]!;
    const audit = { correlationId: `uptodate-${repoId}`, requestId: row.requestId as string, userId: 'test' };
    for (let i = 0; i < 1000; i++) {
      await recordSync(
        app.sql,
        {
          repoId,
          previousCommit: before.head_commit,
          headCommit: before.head_commit,
          repositorySizeMb: before.repository_size_mb,
          fileCount: 1,
          metadata: { changed: false },
        },
        audit,
      );
    }
    expect((await call(app, 'GET', `/api/v1/code/repos/${repoId}`)).body.up_to_date_syncs).toBe(1003);
    expect(await audited()).toBe(auditBefore);

    // A new commit is a change: audited, and synced_at moves.
    await pushCommit(bare, { 'README.md': 'two\n' });
    expect((await call(app, 'POST', `/api/v1/code/repos/${repoId}/sync`)).status).toBe(202);
    const head = await revParse(bare, 'refs/heads/main');
    await vi.waitFor(
      async () => expect((await call(app, 'GET', `/api/v1/code/repos/${repoId}`)).body.head_commit).toBe(head),
      { timeout: 45_000, interval: 100 },
    );
    const synced = await app.sql<
      { metadata: Record<string, unknown> }[]
    >`select metadata from audit_log where repo_id = ${repoId} and action = 'repo.synced'`;
    expect(synced.map((r) => r.metadata)).toMatchObject([
      { changed: true, previous_commit: before.head_commit, head_commit: head },
    ]);
    const after = (await call(app, 'GET', `/api/v1/code/repos/${repoId}`)).body;
    expect(Date.parse(after.synced_at)).toBeGreaterThan(Date.parse(before.synced_at));
    expect(after.up_to_date_syncs).toBe(1003);
    await app.temporal.workflow.getHandle(workflowId).signal(cleanupSignal);
  });
});

describe('the reconciler', () => {
  it('examines one page a pass and goes on from there across passes, reaching rows past the first page; a retried pass repeats its page', async () => {
    // Its own task queue (and cursor): only these passes judge the workflows started on it.
    const taskQueue = `reconcile-pages-${randomUUID()}`;
    const start = async (id: string) => {
      workflows.push(id);
      return app.temporal.workflow.start('reconcileRepositories', { taskQueue, workflowId: id });
    };
    const ended = await start(`ended-${randomUUID()}`);
    await ended.terminate();
    // Ids that sort before any random one: four live rows, then the orphan, on the third page of two.
    const idOf = (n: number) => `00000000-0000-4000-8000-${String(n).padStart(12, '0')}`;
    // No worker polls the queue: their workflows stay RUNNING, so the rows are live.
    for (let n = 1; n <= 4; n++) await plantRow(idOf(n), (await start(`live-${randomUUID()}`)).workflowId);
    const orphanId = await plantRow(idOf(5), ended.workflowId);

    const activities = activitiesWith({ taskQueue, reconcilePageSize: 2 });
    const pass = (runId: string): Promise<OrphanedRepo[]> =>
      new MockActivityEnvironment(
        { workflowExecution: { workflowId: 'reconcile-test', runId } },
        { client: app.temporal },
      ).run(activities.findOrphanedRepositories);
    const mine = new Set([1, 2, 3, 4, 5].map(idOf));
    const orphansOf = (found: { id: string }[]) => found.map((o) => o.id).filter((id) => mine.has(id));

    expect(orphansOf(await pass('run-1'))).toEqual([]);
    expect(orphansOf(await pass('run-2'))).toEqual([]);
    // The same pass retried (its first attempt saved the cursor): the same page, not the next.
    expect(orphansOf(await pass('run-2'))).toEqual([]);
    const third = await pass('run-3');
    expect(orphansOf(third)).toEqual([orphanId]);
    expect(third.find((o) => o.id === orphanId)).toMatchObject({
      workflowStatus: 'TERMINATED',
      cloneStatus: 'CLEANING',
    });
    expect(orphansOf(await pass('run-3'))).toEqual([orphanId]);
    const [cursor] = await app.sql`select from_id, after_id from reconciler_cursors where task_queue = ${taskQueue}`;
    expect(cursor!.fromId).toBe(idOf(4));
  });
});
