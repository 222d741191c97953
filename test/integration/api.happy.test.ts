import { randomBytes, randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { createBareRepo } from '../support/git-repos.js';
import { call, startAppUnderTest, waitForState, type AppUnderTest } from '../support/app-under-test.js';

const stack = inject('stack');
let app: AppUnderTest;
let projectId: string;

beforeAll(async () => {
  app = await startAppUnderTest(stack, { MAX_REPO_SIZE_MB: '1', SANDBOX_TTL_SECONDS: '3600' });
  projectId = (await call(app, 'POST', '/api/v1/projects', { name: 'design examples' })).body.id;
});

afterAll(async () => {
  await app?.stop();
});

const keys = (o: object) => Object.keys(o).sort();
const ISO = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$/;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

// The design's curl section (examples 1–5), replayed over HTTP against the running API, worker,
// Temporal and PostgreSQL, with its repositories replaced by ones on the test Git server.
describe("the design's example requests", () => {
  let repoId: string;
  let smallRepo: string;

  it('1. connect a repository: 201 with the documented fields', async () => {
    const name = `small-repo-${randomUUID().slice(0, 8)}`;
    await createBareRepo(stack.gitRoot, name, { 'README.md': '# small\n', 'lib.bin': randomBytes(50_000) });
    smallRepo = `${stack.gitUrl}/${name}.git`;
    const res = await call(app, 'POST', '/api/v1/code/connect', {
      git_url: smallRepo,
      access_token: stack.gitToken,
      project_id: projectId,
    });
    expect(res.status).toBe(201);
    expect(keys(res.body)).toEqual([
      'clone_status',
      'connected',
      'created_at',
      'estimated_size_mb',
      'git_url',
      'repo_id',
      'task_id',
      'webhook_secret',
      'webhook_url',
      'workflow_id',
    ]);
    expect(res.body.webhook_url).toBe(`/api/v1/hooks/git/${res.body.repo_id}`);
    expect(res.body).toMatchObject({ git_url: smallRepo, connected: true, clone_status: 'PENDING' });
    expect(res.body.repo_id).toMatch(UUID);
    expect(res.body.task_id).toMatch(UUID);
    expect(res.body.created_at).toMatch(ISO);
    expect(typeof res.body.estimated_size_mb).toBe('number');
    repoId = res.body.repo_id;
    await waitForState(app, res.body.workflow_id, (s) => s.cloneStatus === 'COMPLETED');
  });

  it('2. connect a repository that is too large: 413 with the documented body', async () => {
    const name = `tensorflow-${randomUUID().slice(0, 8)}`;
    await createBareRepo(stack.gitRoot, name, { 'model.bin': randomBytes(1_300_000) });
    const res = await call(app, 'POST', '/api/v1/code/connect', {
      git_url: `${stack.gitUrl}/${name}.git`,
      access_token: stack.gitToken,
      project_id: projectId,
    });
    expect(res.status).toBe(413);
    expect(res.body).toEqual({
      detail: {
        error: 'repository_too_large',
        message: expect.stringMatching(/exceeds.*1MB/),
        estimated_size_mb: expect.any(Number),
        limit_mb: 1,
        budget: 'disk',
        measured: expect.any(Number),
        limit: 1,
      },
    });
  });

  it('3. check repository status: 200 with the documented fields', async () => {
    const res = await call(app, 'GET', `/api/v1/code/repos/${repoId}/status`);
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ repo_id: repoId, clone_status: 'COMPLETED', error_message: null });
    expect(res.body.repository_size_mb).toBeGreaterThan(0);
    expect(res.body.sandbox_path).toBe(`${app.config.SANDBOX_BASE_PATH}/${projectId}/${repoId}/repository`);
    expect(typeof res.body.progress_message).toBe('string');
    for (const field of [
      'repo_id',
      'clone_status',
      'repository_size_mb',
      'sandbox_path',
      'progress_message',
      'error_message',
    ]) {
      expect(res.body).toHaveProperty(field);
    }
  });

  it('4. get repository details: 200 with exactly the documented fields', async () => {
    const res = await call(app, 'GET', `/api/v1/code/repos/${repoId}`);
    expect(res.status).toBe(200);
    expect(keys(res.body)).toEqual([
      'clone_status',
      'created_at',
      'git_url',
      'head_commit',
      'id',
      'last_checked_at',
      'needs_attention',
      'project_id',
      'ref',
      'repository_size_mb',
      'sandbox_path',
      'sync_interval_seconds',
      'synced_at',
      'up_to_date_syncs',
      'updated_at',
    ]);
    expect(res.body).toMatchObject({
      id: repoId,
      project_id: projectId,
      git_url: smallRepo,
      clone_status: 'COMPLETED',
    });
    expect(res.body.updated_at).toMatch(ISO);
  });

  it('5. list project repositories: 200 with an array of repository details', async () => {
    const res = await call(app, 'GET', `/api/v1/code/projects/${projectId}/repos`);
    expect(res.status).toBe(200);
    expect(Array.isArray(res.body)).toBe(true);
    expect(res.body.map((r: { id: string }) => r.id)).toContain(repoId);
    expect(keys(res.body[0])).toEqual([
      'clone_status',
      'created_at',
      'git_url',
      'head_commit',
      'id',
      'last_checked_at',
      'needs_attention',
      'project_id',
      'ref',
      'repository_size_mb',
      'sandbox_path',
      'sync_interval_seconds',
      'synced_at',
      'up_to_date_syncs',
      'updated_at',
    ]);
  });
});

describe('the rest of the API', () => {
  it("lists the caller's own projects, oldest first, paged by X-Next-Cursor", async () => {
    const user = `lister-${randomUUID()}`;
    const made: string[] = [];
    for (const name of ['one', 'two', 'three'])
      made.push((await call(app, 'POST', '/api/v1/projects', { name }, user)).body.id as string);
    const first = await call(app, 'GET', '/api/v1/projects?limit=2', undefined, user);
    expect(first.status).toBe(200);
    expect(first.body.map((p: { id: string }) => p.id)).toEqual(made.slice(0, 2));
    expect(first.body[0]).toMatchObject({ name: 'one', owner_id: user });
    const cursor = first.headers.get('x-next-cursor');
    expect(cursor).toBeTruthy();
    const rest = await call(app, 'GET', `/api/v1/projects?limit=2&cursor=${cursor}`, undefined, user);
    expect(rest.body.map((p: { id: string }) => p.id)).toEqual(made.slice(2));
    expect(rest.headers.get('x-next-cursor')).toBeNull();
    const stranger = await call(app, 'GET', '/api/v1/projects', undefined, `stranger-${randomUUID()}`);
    expect(stranger.body).toEqual([]);
    expect((await call(app, 'GET', '/api/v1/projects?limit=0', undefined, user)).status).toBe(422);
  });

  it("pages through a project's repositories with limit and the X-Next-Cursor header", async () => {
    const project = (await call(app, 'POST', '/api/v1/projects', { name: 'paged' })).body.id;
    const name = `paged-${randomUUID().slice(0, 8)}`;
    await createBareRepo(stack.gitRoot, name, { 'a.txt': 'a\n' });
    const ids: string[] = [];
    for (let i = 0; i < 5; i += 1) {
      ids.push(
        (
          await call(app, 'POST', '/api/v1/code/connect', {
            git_url: `${stack.gitUrl}/${name}.git`,
            access_token: stack.gitToken,
            project_id: project,
          })
        ).body.repo_id,
      );
    }
    const seen: string[] = [];
    let cursor: string | null = null;
    do {
      const page: Awaited<ReturnType<typeof call>> = await call(
        app,
        'GET',
        `/api/v1/code/projects/${project}/repos?limit=2${cursor ? `&cursor=${cursor}` : ''}`,
      );
      expect(page.status).toBe(200);
      expect(page.body.length).toBeLessThanOrEqual(2);
      seen.push(...page.body.map((r: { id: string }) => r.id));
      cursor = page.headers.get('x-next-cursor');
    } while (cursor);
    expect(seen.sort()).toEqual(ids.sort());
    expect((await call(app, 'GET', `/api/v1/code/projects/${project}/repos?cursor=garbage`)).status).toBe(422);
  });

  it('retries a FAILED repository (202) and cleans up a COMPLETED one (202)', async () => {
    const name = `late-${randomUUID().slice(0, 8)}`;
    const url = `${stack.gitUrl}/flaky/${randomUUID()}/2/3/${name}.git`;
    await createBareRepo(stack.gitRoot, name, { 'a.txt': 'a\n' });
    const res = await call(app, 'POST', '/api/v1/code/connect', {
      git_url: url,
      access_token: stack.gitToken,
      project_id: projectId,
    });
    expect(res.status).toBe(201);
    await waitForState(app, res.body.workflow_id, (s) => s.cloneStatus === 'FAILED');
    const retry = await call(app, 'POST', `/api/v1/code/repos/${res.body.repo_id}/retry`, {
      access_token: stack.gitToken,
    });
    expect(retry.status).toBe(202);
    expect(retry.body).toMatchObject({
      repo_id: res.body.repo_id,
      clone_status: 'FAILED',
      workflow_id: res.body.workflow_id,
    });
    await waitForState(app, res.body.workflow_id, (s) => s.cloneStatus === 'COMPLETED');
    expect((await call(app, 'POST', `/api/v1/code/repos/${res.body.repo_id}/cleanup`, {})).status).toBe(202);
    await app.temporal.workflow.getHandle(res.body.workflow_id).result();
    expect((await call(app, 'GET', `/api/v1/code/repos/${res.body.repo_id}`)).body.clone_status).toBe('CLEANED');
  });

  it("serves the design's metrics", async () => {
    const text = await (await fetch(`${app.api.url}/metrics`)).text();
    for (const name of [
      'repo_connections_total',
      'repo_clone_duration_seconds',
      'git_size_check_duration_seconds',
      'oversized_repo_rejections_total',
      'encryption_operations_total',
    ]) {
      expect(text).toContain(`# TYPE ${name}`);
    }
    expect(text).toMatch(/repo_connections_total\{status="admitted"\} [1-9]/);
    expect(text).toMatch(/oversized_repo_rejections_total\{stage="size_check"\} [1-9]/);
    expect(text).toMatch(/encryption_operations_total\{operation="encrypt",key_id="[^"]+",outcome="ok"\} [1-9]/);
  });
});
