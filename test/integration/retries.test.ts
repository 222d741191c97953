import { randomBytes, randomUUID } from 'node:crypto';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { cleanupSignal, retrySignal } from '../../src/shared/connect-repository.js';
import { createBareRepo, createRepoWithHeavyHistory } from '../support/git-repos.js';
import { call, startAppUnderTest, waitForState, type AppUnderTest } from '../support/app-under-test.js';

const stack = inject('stack');
let app: AppUnderTest;
let projectId: string;
let repo: string;

beforeAll(async () => {
  app = await startAppUnderTest(stack, { SANDBOX_TTL_SECONDS: '3600' });
  projectId = (await call(app, 'POST', '/api/v1/projects', { name: 'retries' })).body.id;
  repo = `flaky-${randomUUID().slice(0, 8)}`;
  await createBareRepo(stack.gitRoot, repo, { 'README.md': 'retry me\n', 'data.bin': randomBytes(300_000) });
});

afterAll(async () => {
  await app?.stop();
});

const connect = (gitUrl: string) =>
  call(app, 'POST', '/api/v1/code/connect', {
    git_url: gitUrl,
    access_token: stack.gitToken,
    project_id: projectId,
    request_id: randomUUID(),
  });

/** When the Git server saw each `info/refs` request for this key. */
const requestTimes = async (key: string): Promise<number[]> =>
  (await fetch(`${stack.gitUrl}/_requests/${key}`)).json() as Promise<number[]>;

describe('retries', () => {
  it('retries transient 503s with growing backoff, then succeeds', async () => {
    const key = randomUUID();
    // The first two lookups fail; the size check's third attempt gets through.
    const res = await connect(`${stack.gitUrl}/flaky/${key}/0/2/${repo}.git`);
    expect(res.status).toBe(201);
    await waitForState(app, res.body.workflow_id, (s) => s.cloneStatus === 'COMPLETED');

    const times = await requestTimes(key);
    expect(times.length).toBeGreaterThanOrEqual(3);
    const firstGap = times[1]! - times[0]!;
    const secondGap = times[2]! - times[1]!;
    expect(firstGap).toBeGreaterThanOrEqual(1500); // the policy's 2 s initial interval (minus scheduling jitter)
    expect(secondGap).toBeGreaterThan(firstGap); // backoff coefficient 2
    await app.temporal.workflow.getHandle(res.body.workflow_id).signal(cleanupSignal);
  });

  it('fails after the retries are exhausted, then completes on the retry signal (with a new token)', async () => {
    const key = randomUUID();
    // Size check (two lookups) passes; all three clone attempts get 503; the next one passes.
    const res = await connect(`${stack.gitUrl}/flaky/${key}/2/3/${repo}.git`);
    expect(res.status).toBe(201);
    const failed = await waitForState(app, res.body.workflow_id, (s) => s.cloneStatus === 'FAILED');
    expect(failed).toMatchObject({ stage: 'failed', error: { code: 'upstream_unavailable' }, cloneAttempts: 1 });
    expect((await requestTimes(key)).length).toBe(5);
    const status = await call(app, 'GET', `/api/v1/code/repos/${res.body.repo_id}/status`);
    expect(status.body).toMatchObject({ clone_status: 'FAILED', error_message: 'The Git server could not be reached' });

    const handle = app.temporal.workflow.getHandle(res.body.workflow_id);
    // Through the API, which seals the new token before it enters Temporal.
    const retry = await call(app, 'POST', `/api/v1/code/repos/${res.body.repo_id}/retry`, {
      access_token: stack.gitToken,
    });
    expect(retry.status).toBe(202);
    const done = await waitForState(app, res.body.workflow_id, (s) => s.cloneStatus === 'COMPLETED');
    expect(done).toMatchObject({ cloneAttempts: 2, error: null });
    const [row] = await app.sql`select error_code, error_message from code_repos where id = ${res.body.repo_id}`;
    expect(row).toEqual({ errorCode: null, errorMessage: null });
    const transitions =
      await app.sql`select from_state, to_state from audit_log where repo_id = ${res.body.repo_id} and to_state is not null order by id`;
    expect(transitions.map((t) => `${t.fromState ?? ''}->${t.toState}`)).toEqual([
      '->PENDING',
      'PENDING->CLONING',
      'CLONING->FAILED',
      'FAILED->PENDING',
      'PENDING->CLONING',
      'CLONING->COMPLETED',
    ]);

    // A retry now makes no sense: ignored, and on the record.
    await handle.signal(retrySignal, {});
    await handle.signal(cleanupSignal);
    await handle.result();
    const [ignored] =
      await app.sql`select count(*)::int as n from audit_log where repo_id = ${res.body.repo_id} and action = 'signal.retry.ignored'`;
    expect(ignored!.n).toBe(1);
  });

  it('cleanup during a slow clone cancels it, removes the partial directory and ends CLEANED', async () => {
    // A light tip over a heavy history: the size probe is quick, the full clone takes ~10 s at this pace.
    const slowRepo = `slow-${randomUUID().slice(0, 8)}`;
    await createRepoWithHeavyHistory(
      stack.gitRoot,
      slowRepo,
      { 'old.bin': randomBytes(2_000_000) },
      { 'README.md': 'tip\n' },
    );
    const res = await connect(`${stack.gitUrl}/slow/200000/${slowRepo}.git`);
    expect(res.status).toBe(201);
    const sandbox = path.join(app.config.SANDBOX_BASE_PATH, projectId, res.body.repo_id);
    await waitForState(app, res.body.workflow_id, (s) => s.stage === 'cloning' && (s.bytesReceived ?? 0) > 0);
    const handle = app.temporal.workflow.getHandle(res.body.workflow_id);
    await handle.signal(cleanupSignal);
    expect(await handle.result()).toMatchObject({ cloneStatus: 'CLEANED' });
    expect(existsSync(sandbox)).toBe(false);
    const [row] = await app.sql`select clone_status, sandbox_path from code_repos where id = ${res.body.repo_id}`;
    expect(row).toEqual({ cloneStatus: 'CLEANED', sandboxPath: null });
    const transitions =
      await app.sql`select from_state, to_state from audit_log where repo_id = ${res.body.repo_id} and to_state is not null order by id`;
    expect(transitions.map((t) => `${t.fromState ?? ''}->${t.toState}`)).toEqual([
      '->PENDING',
      'PENDING->CLONING',
      'CLONING->CLEANING',
      'CLEANING->CLEANED',
    ]);
  });
});
