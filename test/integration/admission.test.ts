import { randomBytes, randomUUID } from 'node:crypto';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { cleanupSignal } from '../../src/shared/connect-repository.js';
import { createBareRepo } from '../support/git-repos.js';
import { call, DEFAULT_USER, startAppUnderTest, waitForState, type AppUnderTest } from '../support/app-under-test.js';
import { workflowIdFor } from '../../src/api/admission.js';

const stack = inject('stack');
let app: AppUnderTest;
let projectId: string;
const name = (label: string) => `${label}-${randomUUID().slice(0, 8)}`;

// A 1 MB budget keeps the repositories small; the factor makes a 0.4 MB tip "estimate" 1.4 MB.
beforeAll(async () => {
  app = await startAppUnderTest(stack, {
    MAX_REPO_SIZE_MB: '1',
    SIZE_ESTIMATE_FACTOR: '3.5',
    SANDBOX_TTL_SECONDS: '3600',
  });
  projectId = (await call(app, 'POST', '/api/v1/projects', { name: 'admission' })).body.id;
});

afterAll(async () => {
  await app?.stop();
});

const body = (gitUrl: string, overrides: Record<string, unknown> = {}) => ({
  git_url: gitUrl,
  access_token: stack.gitToken,
  project_id: projectId,
  request_id: randomUUID(),
  ...overrides,
});
const connect = (b: Record<string, unknown>) => call(app, 'POST', '/api/v1/code/connect', b);

async function rowCount(requestId: unknown): Promise<number> {
  const [row] = await app.sql<
    { n: number }[]
  >`select count(*)::int as n from code_repos where request_id = ${requestId as string}`;
  return row!.n;
}

/** How many times the workflow's activity of this type was started, read from its history. */
async function attemptsOf(workflowId: string, activityType: string): Promise<number> {
  const history = await app.temporal.workflow.getHandle(workflowId).fetchHistory();
  const scheduled = new Map<string, string>();
  let attempts = 0;
  for (const event of history.events ?? []) {
    if (event.activityTaskScheduledEventAttributes) {
      scheduled.set(String(event.eventId), event.activityTaskScheduledEventAttributes.activityType?.name ?? '');
    }
    const started = event.activityTaskStartedEventAttributes;
    if (started && scheduled.get(String(started.scheduledEventId)) === activityType) attempts += started.attempt ?? 1;
  }
  return attempts;
}

describe('admission (the API answers once the workflow admits or rejects)', () => {
  it('rejects a wrong token with 401 at once: no retry, nothing persisted', async () => {
    const repo = name('auth');
    await createBareRepo(stack.gitRoot, repo, { 'a.txt': 'a\n' });
    const request = body(`${stack.gitUrl}/${repo}.git`, { access_token: 'wrong-token-0123456789' });
    const res = await connect(request);
    expect(res.status).toBe(401);
    expect(res.body.detail).toMatchObject({ error: 'invalid_credentials' });
    expect(await rowCount(request.request_id)).toBe(0);
    expect(await attemptsOf(workflowIdFor(DEFAULT_USER, request.request_id), 'checkRepositorySize')).toBe(1);
  });

  it('rejects a missing repository with 404', async () => {
    const request = body(`${stack.gitUrl}/${name('missing')}.git`);
    const res = await connect(request);
    expect(res.status).toBe(404);
    expect(res.body.detail.error).toBe('repository_not_found');
    expect(await rowCount(request.request_id)).toBe(0);
  });

  it("rejects a repository whose tip alone is over the limit with the design's 413 body, persisting and cloning nothing", async () => {
    const repo = name('huge-tip');
    await createBareRepo(stack.gitRoot, repo, { 'big.bin': randomBytes(1_500_000) });
    const request = body(`${stack.gitUrl}/${repo}.git`);
    const res = await connect(request);
    expect(res.status).toBe(413);
    expect(res.body).toEqual({
      detail: {
        error: 'repository_too_large',
        message: expect.stringMatching(/^Repository size exceeds 1MB limit: it needs [\d.]+MB of disk$/),
        estimated_size_mb: expect.any(Number),
        limit_mb: 1,
        // Which budget it passed, the design's fields beside: disk blocks, here, in MB.
        budget: 'disk',
        measured: expect.any(Number),
        limit: 1,
      },
    });
    // The probe is killed the moment it passes the limit, so what it reports is a lower bound.
    expect(res.body.detail.estimated_size_mb).toBeGreaterThanOrEqual(1);
    expect(await rowCount(request.request_id)).toBe(0);
    expect(existsSync(path.join(app.config.SANDBOX_BASE_PATH, projectId))).toBe(false);
  });

  it('admits a repository whose estimate is over the limit but whose real size is not, and completes it', async () => {
    const repo = name('estimate-over');
    await createBareRepo(stack.gitRoot, repo, { 'half.bin': randomBytes(400_000) });
    const res = await connect(body(`${stack.gitUrl}/${repo}.git`));
    expect(res.status).toBe(201);
    expect(res.body.estimated_size_mb).toBeGreaterThan(1);
    const state = await waitForState(app, res.body.workflow_id, (s) => s.cloneStatus === 'COMPLETED');
    expect(state.repositorySizeMb).toBeLessThanOrEqual(1);
    await app.temporal.workflow.getHandle(res.body.workflow_id).signal(cleanupSignal);
  });
});

describe('idempotency by request_id', () => {
  let repoUrl: string;
  beforeAll(async () => {
    const repo = name('idem');
    await createBareRepo(stack.gitRoot, repo, { 'a.txt': 'a\n' });
    repoUrl = `${stack.gitUrl}/${repo}.git`;
  });

  it('answers the same request again with the same repository', async () => {
    const request = body(repoUrl);
    const first = await connect(request);
    expect(first.status).toBe(201);
    const again = await connect(request);
    expect([200, 201]).toContain(again.status);
    expect(again.body.repo_id).toBe(first.body.repo_id);
    expect(await rowCount(request.request_id)).toBe(1);
  });

  it('refuses the same request_id with different parameters (409)', async () => {
    const request = body(repoUrl);
    expect((await connect(request)).status).toBe(201);
    const other = await connect({ ...request, git_url: `${repoUrl.slice(0, -4)}-other.git` });
    expect(other.status).toBe(409);
    expect(other.body.detail.error).toBe('idempotency_key_reused');
  });

  it('turns 20 concurrent starts with one request_id into one workflow and one row', async () => {
    const request = body(repoUrl);
    const responses = await Promise.all(Array.from({ length: 20 }, () => connect(request)));
    // One first answer, the others the same answer again: all 201, byte for byte the same.
    for (const r of responses) expect(r.status).toBe(201);
    expect(new Set(responses.map((r) => JSON.stringify(r.body))).size).toBe(1);
    // One of them is the first answer; every other is that answer again, and says so.
    expect(responses.filter((r) => r.headers.get('idempotent-replayed') !== 'true')).toHaveLength(1);
    expect(new Set(responses.map((r) => r.body.repo_id)).size).toBe(1);
    expect(await rowCount(request.request_id)).toBe(1);
    const runs = app.temporal.workflow.list({
      query: `WorkflowId = "${workflowIdFor(DEFAULT_USER, request.request_id)}"`,
    });
    let count = 0;
    for await (const _ of runs) count += 1;
    expect(count).toBe(1);
  });
});
