import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it, vi } from 'vitest';
import { cleanupSignal, getStateQuery, type ConnectRepositoryState } from '../../src/shared/connect-repository.js';
import { call, startAppUnderTest, waitForState, type AppUnderTest } from '../support/app-under-test.js';
import { createBareRepo, pushCommit, revParse } from '../support/git-repos.js';

/**
 * Scheduled syncs and their bound, against the real stack and git server. The schedule's floor
 * (SYNC_MIN_INTERVAL_SECONDS, 60 in production) is 1 s here, so three scheduled syncs take
 * seconds; a run continues as new after 2 syncs (SYNCS_PER_RUN), so the test sees it happen.
 */
const stack = inject('stack');
let app: AppUnderTest;
let projectId: string;

beforeAll(async () => {
  app = await startAppUnderTest(stack, {
    SYNC_MIN_INTERVAL_SECONDS: '1',
    SYNCS_PER_RUN: '2',
    SYNC_FAILURE_LIMIT: '3',
    SANDBOX_TTL_SECONDS: '3600',
  });
  projectId = (await call(app, 'POST', '/api/v1/projects', { name: 'scheduled-sync' })).body.id;
});

afterAll(async () => {
  await app?.stop();
});

const auditOf = (repoId: string, action: string) =>
  app.sql<
    { userId: string; metadata: Record<string, unknown> }[]
  >`select user_id, metadata from audit_log where repo_id = ${repoId} and action = ${action} order by id`;

/** A served repository whose accepted token can be rotated (`PUT /_token/<key>`), connected with a schedule and cloned. */
async function connected(syncIntervalSeconds: number) {
  const name = `scheduled-${randomUUID().slice(0, 8)}`;
  const key = randomUUID();
  const bare = await createBareRepo(stack.gitRoot, name, { 'README.md': 'one\n' });
  const res = await call(app, 'POST', '/api/v1/code/connect', {
    git_url: `${stack.gitUrl}/token/${key}/${name}.git`,
    access_token: stack.gitToken,
    project_id: projectId,
    sync_interval_seconds: syncIntervalSeconds,
  });
  expect(res.status).toBe(201);
  const state = await waitForState(app, res.body.workflow_id, (s) => s.cloneStatus === 'COMPLETED');
  return {
    bare,
    key,
    repoId: res.body.repo_id as string,
    workflowId: res.body.workflow_id as string,
    sandbox: state.sandboxPath!,
  };
}

/** Waits (bounded) until the row's head_commit is `commit`, which only a sync can have checked out. */
const headBecomes = (repoId: string, commit: string) =>
  vi.waitFor(
    async () => expect((await call(app, 'GET', `/api/v1/code/repos/${repoId}`)).body.head_commit).toBe(commit),
    { timeout: 45_000, interval: 100 },
  );

/** What a run's state must carry on to the next one; timestamps of the moment and the sync counters move on their own. */
const carried = ({
  updatedAt: _u,
  syncs: _s,
  progressMessage: _m,
  bytesReceived: _b,
  ...rest
}: ConnectRepositoryState) => rest;

describe('scheduled sync', () => {
  it('syncs by a durable timer three times, continuing as new with its state intact; a cleanup still ends it', async () => {
    const repo = await connected(1);
    const firstRun = (await app.temporal.workflow.getHandle(repo.workflowId).describe()).runId;
    const listed = (await call(app, 'GET', `/api/v1/code/repos/${repo.repoId}`)).body;
    expect(listed).toMatchObject({ sync_interval_seconds: 1, needs_attention: false });

    // Each push is picked up by the schedule alone: nobody calls sync.
    await pushCommit(repo.bare, { 'README.md': 'two\n' }, 'second');
    await headBecomes(repo.repoId, await revParse(repo.bare, 'refs/heads/main'));
    // Between syncs, /status names the next one (during one it is null: the time that fired is past).
    await vi.waitFor(
      async () => {
        const status = (await call(app, 'GET', `/api/v1/code/repos/${repo.repoId}/status`)).body;
        expect(status).toMatchObject({ clone_status: 'COMPLETED', consecutive_sync_failures: 0 });
        expect(Date.parse(status.next_sync_at)).toBeGreaterThan(Date.parse(status.synced_at));
      },
      { timeout: 45_000, interval: 50 },
    );

    await pushCommit(repo.bare, { 'README.md': 'three\n' }, 'third');
    await headBecomes(repo.repoId, await revParse(repo.bare, 'refs/heads/main'));
    await pushCommit(repo.bare, { 'docs/four.md': 'four\n' }, 'fourth');
    const fourth = await revParse(repo.bare, 'refs/heads/main');
    await headBecomes(repo.repoId, fourth);
    expect(readFileSync(path.join(repo.sandbox, 'docs', 'four.md'), 'utf8')).toBe('four\n');

    const synced = await auditOf(repo.repoId, 'repo.synced');
    expect(synced.filter((r) => r.metadata.changed === true)).toHaveLength(3);
    expect(synced.every((r) => r.metadata.trigger === 'schedule' && r.userId === 'system:schedule')).toBe(true);

    // At 2 syncs a run (SYNCS_PER_RUN), the first run has continued as new: its last state (queried on that run)
    // is what the latest run answers with, one continuation on.
    const first = app.temporal.workflow.getHandle(repo.workflowId, firstRun);
    await vi.waitFor(async () => expect((await first.describe()).status.name).toBe('CONTINUED_AS_NEW'), {
      timeout: 45_000,
      interval: 100,
    });
    const before = await first.query(getStateQuery);
    expect(before.syncs).toMatchObject({ count: 2, continuedAsNew: 0, intervalSeconds: 1, needsAttention: false });
    const after = await waitForState(
      app,
      repo.workflowId,
      (s) => s.stage === 'ready' && (s.syncs?.continuedAsNew ?? 0) >= 1,
    );
    expect(after.syncs!.count).toBeGreaterThanOrEqual(before.syncs!.count);
    const latest = await app.temporal.workflow.getHandle(repo.workflowId).describe();
    expect(latest.runId).not.toBe(firstRun);
    expect(latest.status.name).toBe('RUNNING');
    expect(carried(after)).toEqual({ ...carried(before), repositorySizeMb: after.repositorySizeMb });
    expect(after).toMatchObject({
      repoId: repo.repoId,
      cloneStatus: 'COMPLETED',
      sandboxPath: repo.sandbox,
      startedAt: before.startedAt,
      cloneAttempts: 1,
    });
    expect(after.syncs!.count).toBeGreaterThanOrEqual(synced.length);
    // The continued run is still the repository's: found by its search attributes, and it answers the API.
    const found = [];
    for await (const w of app.temporal.workflow.list({
      query: `RepoId = "${repo.repoId}" AND ExecutionStatus = "Running"`,
    }))
      found.push(w.runId);
    expect(found).toEqual([latest.runId]);

    expect((await call(app, 'POST', `/api/v1/code/repos/${repo.repoId}/cleanup`)).status).toBe(202);
    await vi.waitFor(
      async () =>
        expect((await call(app, 'GET', `/api/v1/code/repos/${repo.repoId}`)).body.clone_status).toBe('CLEANED'),
      { timeout: 45_000, interval: 100 },
    );
    const result = await app.temporal.workflow.getHandle(repo.workflowId).result();
    expect(result).toMatchObject({ repoId: repo.repoId, cloneStatus: 'CLEANED' });
  });

  it('a token the Git server refuses stops the syncs at once; a retry with the new token syncs and resumes the schedule', async () => {
    const repo = await connected(1);
    const rotated = `rotated-${randomUUID()}`;
    // The user rotates the token at the Git host: the one stored no longer works.
    expect((await fetch(`${stack.gitUrl}/_token/${repo.key}`, { method: 'PUT', body: rotated })).status).toBe(204);
    await pushCommit(repo.bare, { 'README.md': 'two\n' }, 'second');

    // The row needs attention a moment before the run's state (which /status also reads) says so: wait for both.
    const status = await vi.waitFor(
      async () => {
        const body = (await call(app, 'GET', `/api/v1/code/repos/${repo.repoId}/status`)).body;
        expect(body).toMatchObject({
          clone_status: 'COMPLETED',
          needs_attention: true,
          error_code: 'invalid_credentials',
          next_sync_at: null,
          consecutive_sync_failures: 1,
          stage: 'ready',
        });
        return body;
      },
      { timeout: 45_000, interval: 100 },
    );
    expect(status.error_message).toMatch(
      /Syncs are paused: send a new access token with POST \/api\/v1\/code\/repos\/[0-9a-f-]+\/retry/,
    );
    const failed = await auditOf(repo.repoId, 'repo.sync_failed');
    expect(failed).toHaveLength(1);
    expect(failed[0]!.metadata).toMatchObject({
      error_code: 'invalid_credentials',
      needs_attention: true,
      trigger: 'schedule',
    });

    // Paused: no next sync is scheduled (that the pause holds over time is the workflow test's, on a skipping clock).
    const paused = await waitForState(
      app,
      repo.workflowId,
      (s) => s.syncs?.needsAttention === true && s.stage === 'ready',
    );
    expect(paused.syncs).toMatchObject({ nextSyncAt: null, consecutiveFailures: 1 });

    const retried = await call(app, 'POST', `/api/v1/code/repos/${repo.repoId}/retry`, { access_token: rotated });
    expect(retried.status).toBe(202);
    await headBecomes(repo.repoId, await revParse(repo.bare, 'refs/heads/main'));
    await vi.waitFor(
      async () => {
        const resumed = (await call(app, 'GET', `/api/v1/code/repos/${repo.repoId}/status`)).body;
        expect(resumed).toMatchObject({ needs_attention: false, error_code: null, consecutive_sync_failures: 0 });
        expect(resumed.next_sync_at).not.toBeNull();
      },
      { timeout: 45_000, interval: 50 },
    );
    expect(await auditOf(repo.repoId, 'repo.sync_resumed')).toMatchObject([{ metadata: { new_token: true } }]);
    // Still only the one failure: the schedule (1 s) made no attempt between the pause and the retry.
    expect(await auditOf(repo.repoId, 'repo.sync_failed')).toHaveLength(1);
    // And a retry while syncs run is refused.
    expect((await call(app, 'POST', `/api/v1/code/repos/${repo.repoId}/retry`, {})).status).toBe(409);
    await app.temporal.workflow.getHandle(repo.workflowId).signal(cleanupSignal);
  });

  it('refuses an interval under SYNC_MIN_INTERVAL_SECONDS or over the sandbox TTL, naming the field', async () => {
    for (const sync_interval_seconds of [0, 3601, 1.5, '60']) {
      const res = await call(app, 'POST', '/api/v1/code/connect', {
        git_url: `${stack.gitUrl}/x.git`,
        access_token: stack.gitToken,
        project_id: projectId,
        sync_interval_seconds,
      });
      expect(res.status).toBe(422);
      expect(JSON.stringify(res.body)).toContain('sync_interval_seconds');
    }
  });
});
