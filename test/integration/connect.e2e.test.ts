import { randomUUID } from 'node:crypto';
import { readFile, stat } from 'node:fs/promises';
import path from 'node:path';
import { WorkflowFailedError } from '@temporalio/client';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { createBareRepo } from '../support/git-repos.js';
import { call, startAppUnderTest, type AppUnderTest } from '../support/app-under-test.js';

const stack = inject('stack');
let app: AppUnderTest;
let projectId: string;
let repoUrl: string;

beforeAll(async () => {
  app = await startAppUnderTest(stack);
  await createBareRepo(stack.gitRoot, 'hello', {
    'README.md': '# hello\n',
    'src/main.ts': 'export const answer = 42;\n',
  });
  repoUrl = `${stack.gitUrl}/hello.git`;
  const created = await call(app.api, 'POST', '/api/v1/projects', { name: 'e2e' });
  expect(created.status).toBe(201);
  projectId = created.body.id;
});

async function countRepos(requestId: string): Promise<number> {
  const [row] = await app.sql<{ count: number }[]>`select count(*)::int as count from code_repos where request_id = ${requestId}`;
  return row!.count;
}

afterAll(async () => {
  await app?.stop();
});

describe('POST /api/v1/code/connect, end to end', () => {
  it('clones the repository into the sandbox and reaches COMPLETED', async () => {
    const requestId = randomUUID();
    const res = await call(app.api, 'POST', '/api/v1/code/connect', {
      git_url: repoUrl,
      access_token: stack.gitToken,
      project_id: projectId,
      request_id: requestId,
    });
    expect(res.status).toBe(201);
    expect(res.body).toMatchObject({ git_url: repoUrl, connected: true, clone_status: 'PENDING' });
    const repoId: string = res.body.repo_id;

    await app.temporal.workflow.getHandle(res.body.workflow_id).result();

    const repo = await call(app.api, 'GET', `/api/v1/code/repos/${repoId}`);
    const expectedPath = path.join(app.config.SANDBOX_BASE_PATH, projectId, repoId, 'repository');
    expect(repo.body).toMatchObject({ id: repoId, project_id: projectId, clone_status: 'COMPLETED', sandbox_path: expectedPath });
    expect(repo.body.repository_size_mb).toBeGreaterThan(0);

    expect(await readFile(path.join(expectedPath, 'src/main.ts'), 'utf8')).toBe('export const answer = 42;\n');
    expect((await stat(path.join(expectedPath, 'README.md'))).mode & 0o222).toBe(0);
    const gitConfig = await readFile(path.join(expectedPath, '.git/config'), 'utf8');
    expect(gitConfig).not.toContain(stack.gitToken);
    expect(gitConfig).toContain(repoUrl);

    const [row] = await app.sql`select token_ciphertext, request_id from code_repos where id = ${repoId}`;
    expect(row!.request_id).toBe(requestId);
    expect(Buffer.from(row!.token_ciphertext).includes(Buffer.from(stack.gitToken))).toBe(false);

    const audit = await app.sql`select from_state, to_state from audit_log where repo_id = ${repoId} order by id`;
    expect(audit.map((a) => `${a.from_state ?? ''}->${a.to_state}`)).toEqual(['->PENDING', 'PENDING->CLONING', 'CLONING->COMPLETED']);
  });

  it('answers a repeated request_id with the same repository instead of a second one', async () => {
    const body = { git_url: repoUrl, access_token: stack.gitToken, project_id: projectId, request_id: randomUUID() };
    const first = await call(app.api, 'POST', '/api/v1/code/connect', body);
    expect(first.status).toBe(201);
    await app.temporal.workflow.getHandle(first.body.workflow_id).result();

    const again = await call(app.api, 'POST', '/api/v1/code/connect', body);
    expect(again.status).toBe(200);
    expect(again.body.repo_id).toBe(first.body.repo_id);
    expect(await countRepos(body.request_id)).toBe(1);
  });

  it('marks the repository FAILED with invalid_credentials when the Git server rejects the token', async () => {
    const res = await call(app.api, 'POST', '/api/v1/code/connect', {
      git_url: repoUrl,
      access_token: 'wrong-token-0123456789',
      project_id: projectId,
      request_id: randomUUID(),
    });
    expect(res.status).toBe(201);
    const failure = await app.temporal.workflow.getHandle(res.body.workflow_id).result().catch((e: unknown) => e);
    expect(failure).toBeInstanceOf(WorkflowFailedError);

    const status = await call(app.api, 'GET', `/api/v1/code/repos/${res.body.repo_id}/status`);
    expect(status.body).toMatchObject({ clone_status: 'FAILED', sandbox_path: null });
    expect(status.body.error_message).toMatch(/access token was rejected/);
    const [row] = await app.sql`select error_code from code_repos where id = ${res.body.repo_id}`;
    expect(row!.error_code).toBe('invalid_credentials');
  });

  it('rejects an unknown project with 404 and starts nothing', async () => {
    const requestId = randomUUID();
    const res = await call(app.api, 'POST', '/api/v1/code/connect', {
      git_url: repoUrl,
      access_token: stack.gitToken,
      project_id: randomUUID(),
      request_id: requestId,
    });
    expect(res.status).toBe(404);
    expect(res.body.detail.error).toBe('project_not_found');
    expect(await countRepos(requestId)).toBe(0);
  });
});
