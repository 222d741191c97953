import { randomBytes, randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, inject, it, vi } from 'vitest';
import { cleanupSignal, getStateQuery } from '../../src/shared/connect-repository.js';
import { call, startAppUnderTest, waitForState, type AppUnderTest } from '../support/app-under-test.js';
import { createBareRepo, pushCommit } from '../support/git-repos.js';

const stack = inject('stack');
let app: AppUnderTest;
let projectId: string;

beforeAll(async () => {
  // One clone slot, so the host's own queue has 3 (1 + 2 for cleanups and sweeps); 2 sync slots of their own.
  app = await startAppUnderTest(stack, { WORKER_CONCURRENCY: '1', SYNC_CONCURRENCY: '2', SANDBOX_TTL_SECONDS: '3600' });
  projectId = (await call(app, 'POST', '/api/v1/projects', { name: 'sync-slots' })).body.id;
});

afterAll(async () => {
  await app?.stop();
});

async function connected(behaviour = '') {
  const name = `slots-${randomUUID().slice(0, 8)}`;
  const bare = await createBareRepo(stack.gitRoot, name, { 'README.md': 'one\n' });
  const res = await call(app, 'POST', '/api/v1/code/connect', {
    git_url: `${stack.gitUrl}${behaviour}/${name}.git`,
    access_token: stack.gitToken,
    project_id: projectId,
  });
  expect(res.status).toBe(201);
  await waitForState(app, res.body.workflow_id, (s) => s.cloneStatus === 'COMPLETED', 90_000);
  return { bare, repoId: res.body.repo_id as string, workflowId: res.body.workflow_id as string };
}

const stateOf = (workflowId: string) => app.temporal.workflow.getHandle(workflowId).query(getStateQuery);

describe('sync slots', () => {
  it('a cleanup on a host whose every slot a flood of slow syncs holds runs while those syncs still run', async () => {
    // Served at 4 KB/s: each 400 KB push takes minutes to fetch.
    const flood = await Promise.all([1, 2, 3].map(() => connected('/slow/4000')));
    const target = await connected();
    for (const repo of flood) {
      await pushCommit(repo.bare, { 'data.bin': randomBytes(400_000) });
      expect((await call(app, 'POST', `/api/v1/code/repos/${repo.repoId}/sync`)).status).toBe(202);
    }
    // Every sync slot busy fetching (and, were syncs on the host's queue, every one of its slots).
    await vi.waitFor(
      async () => {
        const states = await Promise.all(flood.map((r) => stateOf(r.workflowId)));
        expect(states.every((s) => s.stage === 'syncing')).toBe(true);
        expect(states.filter((s) => (s.bytesReceived ?? 0) > 0).length).toBeGreaterThanOrEqual(2);
      },
      { timeout: 60_000, interval: 200 },
    );

    await app.temporal.workflow.getHandle(target.workflowId).signal(cleanupSignal);
    await waitForState(app, target.workflowId, (s) => s.cloneStatus === 'CLEANED', 30_000);
    // The flood is still under way: the cleanup did not wait for a slot one of them gave up.
    expect((await Promise.all(flood.map((r) => stateOf(r.workflowId)))).map((s) => s.stage)).toEqual([
      'syncing',
      'syncing',
      'syncing',
    ]);
    expect((await call(app, 'GET', `/api/v1/code/repos/${target.repoId}`)).body.clone_status).toBe('CLEANED');

    for (const repo of flood) await app.temporal.workflow.getHandle(repo.workflowId).signal(cleanupSignal);
    for (const repo of flood) await waitForState(app, repo.workflowId, (s) => s.cloneStatus === 'CLEANED', 60_000);
  }, 240_000);
});
