import { randomBytes, randomUUID } from 'node:crypto';
import { existsSync } from 'node:fs';
import { lstat, readFile, readdir, stat } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { cleanupSignal } from '../../src/shared/connect-repository.js';
import { createBareRepo, createHostileRepo } from '../support/git-repos.js';
import { call, DEFAULT_USER, startAppUnderTest, waitForState, type AppUnderTest } from '../support/app-under-test.js';
import { workflowIdFor } from '../../src/api/admission.js';

const stack = inject('stack');
let app: AppUnderTest;
let projectId: string;
let repoUrl: string;

beforeAll(async () => {
  app = await startAppUnderTest(stack, { SANDBOX_TTL_SECONDS: '3600' });
  await createBareRepo(stack.gitRoot, 'hello', {
    'README.md': '# hello\n',
    'src/main.ts': 'export const answer = 42;\n',
    'assets/noise.bin': randomBytes(200_000),
  });
  repoUrl = `${stack.gitUrl}/hello.git`;
  const created = await call(app, 'POST', '/api/v1/projects', { name: 'e2e' });
  expect(created.status).toBe(201);
  projectId = created.body.id;
});

afterAll(async () => {
  await app?.stop();
});

const connect = (gitUrl: string, requestId = randomUUID()) =>
  call(app, 'POST', '/api/v1/code/connect', {
    git_url: gitUrl,
    access_token: stack.gitToken,
    project_id: projectId,
    request_id: requestId,
  });

describe('connectRepository, end to end', () => {
  it('admits, clones into the sandbox, reaches COMPLETED, and cleans up on the cleanup signal', async () => {
    const requestId = randomUUID();
    const res = await connect(repoUrl, requestId);
    expect(res.status).toBe(201);
    expect(res.body).toMatchObject({
      git_url: repoUrl,
      connected: true,
      clone_status: 'PENDING',
      workflow_id: workflowIdFor(DEFAULT_USER, requestId),
    });
    // Tip-only probe × SIZE_ESTIMATE_FACTOR (1.5): at least the 200 kB of incompressible noise.
    expect(res.body.estimated_size_mb).toBeGreaterThanOrEqual(0.19 * 1.5);
    const repoId: string = res.body.repo_id;

    const state = await waitForState(app, res.body.workflow_id, (s) => s.cloneStatus === 'COMPLETED');
    expect(state).toMatchObject({
      stage: 'ready',
      repoId,
      progressPercent: 100,
      cloneAttempts: 1,
      error: null,
    });

    const expectedPath = path.join(app.config.SANDBOX_BASE_PATH, projectId, repoId, 'repository');
    const repo = await call(app, 'GET', `/api/v1/code/repos/${repoId}`);
    expect(repo.body).toMatchObject({
      id: repoId,
      project_id: projectId,
      clone_status: 'COMPLETED',
      sandbox_path: expectedPath,
    });
    expect(repo.body.repository_size_mb).toBeGreaterThan(0);
    expect(await readFile(path.join(expectedPath, 'src/main.ts'), 'utf8')).toBe('export const answer = 42;\n');
    expect((await stat(path.join(expectedPath, 'README.md'))).mode & 0o222).toBe(0);
    const gitConfig = await readFile(path.join(expectedPath, '.git/config'), 'utf8');
    expect(gitConfig).not.toContain(stack.gitToken);
    expect(gitConfig).toContain(repoUrl);
    expect(existsSync(path.join(expectedPath, '.git/hooks'))).toBe(false);

    const [row] = await app.sql`select token_ciphertext, request_id from code_repos where id = ${repoId}`;
    expect(row!.requestId).toBe(requestId);
    expect(Buffer.from(row!.tokenCiphertext).includes(Buffer.from(stack.gitToken))).toBe(false);

    const handle = app.temporal.workflow.getHandle(res.body.workflow_id);
    const { searchAttributes } = await handle.describe();
    expect(searchAttributes).toMatchObject({ ProjectId: [projectId], RepoId: [repoId], CloneStatus: ['COMPLETED'] });

    await handle.signal(cleanupSignal);
    expect(await handle.result()).toMatchObject({ repoId, cloneStatus: 'CLEANED' });
    expect(existsSync(path.join(app.config.SANDBOX_BASE_PATH, projectId, repoId))).toBe(false);
    const cleaned = await call(app, 'GET', `/api/v1/code/repos/${repoId}`);
    expect(cleaned.body).toMatchObject({ clone_status: 'CLEANED', sandbox_path: null });

    const audit =
      await app.sql`select from_state, to_state from audit_log where repo_id = ${repoId} and action = 'repo.status_changed' or (repo_id = ${repoId} and action = 'repo.created') order by id`;
    expect(audit.map((a) => `${a.fromState ?? ''}->${a.toState}`)).toEqual([
      '->PENDING',
      'PENDING->CLONING',
      'CLONING->COMPLETED',
      'COMPLETED->CLEANING',
      'CLEANING->CLEANED',
    ]);
  });

  it('keeps a hostile repository inside its sandbox: symlinks become files, ext:: submodules never run', async () => {
    const marker = path.join(stack.workDir, `pwned-${randomUUID()}`);
    await createHostileRepo(stack.gitRoot, 'hostile', marker);
    const res = await connect(`${stack.gitUrl}/hostile.git`);
    expect(res.status).toBe(201);
    await waitForState(app, res.body.workflow_id, (s) => s.cloneStatus === 'COMPLETED');

    const dir = path.join(app.config.SANDBOX_BASE_PATH, projectId, res.body.repo_id, 'repository');
    const escape = await lstat(path.join(dir, 'escape'));
    expect(escape.isSymbolicLink()).toBe(false);
    expect(await readFile(path.join(dir, 'escape'), 'utf8')).toBe('/etc/passwd');
    expect(await readdir(path.join(dir, 'evil')).catch(() => [])).toEqual([]);
    expect(existsSync(marker)).toBe(false);
    await app.temporal.workflow.getHandle(res.body.workflow_id).signal(cleanupSignal);
  });
});
