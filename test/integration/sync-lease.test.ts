import { randomBytes, randomUUID } from 'node:crypto';
import { MockActivityEnvironment } from '@temporalio/testing';
import { afterAll, beforeAll, describe, expect, inject, it, vi } from 'vitest';
import { createActivities } from '../../src/activities/index.js';
import { createLogger } from '../../src/config/logger.js';
import { releaseSyncLease, renewSyncLease, takeSyncLease } from '../../src/db/sync-lease.js';
import { gitProcessesIn } from '../../src/git/processes.js';
import { cleanupSignal } from '../../src/shared/connect-repository.js';
import { activitySettingsOf } from '../../src/worker/start-worker.js';
import { call, startAppUnderTest, waitForState, type AppUnderTest } from '../support/app-under-test.js';
import { createBareRepo, pushCommit, revParse } from '../support/git-repos.js';

const stack = inject('stack');
let app: AppUnderTest;
let projectId: string;

beforeAll(async () => {
  app = await startAppUnderTest(stack);
  projectId = (await call(app, 'POST', '/api/v1/projects', { name: 'sync-lease' })).body.id;
});

afterAll(async () => {
  await app?.stop();
});

const leaseOf = async (repoId: string) =>
  (
    await app.sql<
      { current: boolean }[]
    >`select coalesce(sync_lease_until > now(), false) as current from code_repos where id = ${repoId}`
  )[0]!;
const leaseRow = async (repoId: string) =>
  (await app.sql`select sync_lease_until, sync_lease_owner from code_repos where id = ${repoId}`)[0];

/** A repository connected and cloned from `gitUrl`. */
async function connected(gitUrl: string) {
  const res = await call(app, 'POST', '/api/v1/code/connect', {
    git_url: gitUrl,
    access_token: stack.gitToken,
    project_id: projectId,
  });
  expect(res.status).toBe(201);
  const { repo_id: repoId, workflow_id: workflowId } = res.body as { repo_id: string; workflow_id: string };
  const state = await waitForState(app, workflowId, (s) => s.cloneStatus === 'COMPLETED');
  return { repoId, workflowId, sandbox: state.sandboxPath! };
}

describe('the sync lease has an owner', () => {
  it("attempt 2 takes over from attempt 1; attempt 1's renew and release then change nothing, and it cannot take the lease back", async () => {
    const name = `owner-${randomUUID().slice(0, 8)}`;
    await createBareRepo(stack.gitRoot, name, { 'README.md': 'one\n' });
    const { repoId, workflowId } = await connected(`${stack.gitUrl}/${name}.git`);
    const [first, second] = [
      { activity: 'wf/run/7', attempt: 1 },
      { activity: 'wf/run/7', attempt: 2 },
    ];
    const other = { activity: 'wf/run/8', attempt: 1 };
    expect(await takeSyncLease(app.sql, repoId, first, 60)).toBe('held');
    // Held and current: another activity waits for it; a newer attempt of the same one takes it at once.
    expect(await takeSyncLease(app.sql, repoId, other, 60)).toBe('busy');
    expect(await takeSyncLease(app.sql, repoId, second, 60)).toBe('held');
    const held = await leaseRow(repoId);
    expect(held).toMatchObject({ syncLeaseOwner: 'wf/run/7:2' });

    expect(await renewSyncLease(app.sql, repoId, first, 600)).toBe(false);
    await releaseSyncLease(app.sql, repoId, first);
    expect(await takeSyncLease(app.sql, repoId, first, 60)).toBe('busy');
    expect(await leaseRow(repoId)).toEqual(held);
    expect(await leaseOf(repoId)).toEqual({ current: true });

    // Ended by its owner: lapsed, still never the older attempt's again; any other may take it.
    await releaseSyncLease(app.sql, repoId, second);
    expect(await leaseOf(repoId)).toEqual({ current: false });
    expect(await takeSyncLease(app.sql, repoId, first, 60)).toBe('busy');
    expect(await renewSyncLease(app.sql, repoId, first, 60)).toBe(false);
    expect(await takeSyncLease(app.sql, repoId, other, 60)).toBe('held');
    await app.temporal.workflow.getHandle(workflowId).signal(cleanupSignal);
  });

  it("an attempt whose git a newer attempt ended leaves that attempt's clone, git and lease alone: the newer attempt syncs", async () => {
    const name = `lease-${randomUUID().slice(0, 8)}`;
    const bare = await createBareRepo(stack.gitRoot, name, { 'README.md': 'one\n' });
    // Served at 60 KB/s: each attempt's fetch of the push below takes seconds.
    const gitUrl = `${stack.gitUrl}/count/${randomUUID()}/slow/60000/${name}.git`;
    const { repoId, workflowId, sandbox } = await connected(gitUrl);
    await pushCommit(bare, { 'data.bin': randomBytes(600_000) });

    const activities = createActivities({
      sql: app.sql,
      keys: app.keys,
      logger: createLogger({ level: 'silent' }),
      settings: activitySettingsOf(app.config),
    });
    const input = {
      repoId,
      projectId,
      gitUrl,
      audit: { correlationId: randomUUID(), requestId: randomUUID(), userId: 'test' },
    };
    // Two attempts of one activity: the first's heartbeat timed out while its fetch still runs, so Temporal started the second.
    // A workflow id of their own: the attempts' progress signals reach no workflow.
    const run = { workflowId: `lease-${randomUUID()}`, runId: 'run-1' };
    const attempt = (n: number) =>
      new MockActivityEnvironment(
        { activityId: 'sync-1', attempt: n, workflowExecution: run },
        { client: app.temporal },
      ).run(activities.syncRepository, input);
    const first = attempt(1).then(
      () => 'resolved',
      () => 'rejected',
    );
    await vi.waitFor(async () => expect((await gitProcessesIn(sandbox)).length).toBeGreaterThan(0), {
      timeout: 20_000,
      interval: 50,
    });
    const second = attempt(2);
    // The second's restore ends the first's git; the first then fails without touching the clone.
    expect(await first).toBe('rejected');
    expect(await leaseOf(repoId)).toEqual({ current: true });
    await expect(second).resolves.toMatchObject({ headCommit: await revParse(bare, 'refs/heads/main'), changed: true });
    expect(await leaseOf(repoId)).toEqual({ current: false });
    await app.temporal.workflow.getHandle(workflowId).signal(cleanupSignal);
  });
});
