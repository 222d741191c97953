import { execFile } from 'node:child_process';
import { randomBytes, randomUUID } from 'node:crypto';
import { existsSync } from 'node:fs';

import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, inject, it, vi } from 'vitest';
import { call, startAppUnderTest, waitForState, type AppUnderTest } from '../support/app-under-test.js';
import { createBareRepo, createRepoWithHeavyHistory } from '../support/git-repos.js';
import { processesMentioning } from '../support/processes.js';

const stack = inject('stack');
const run = promisify(execFile);
let app: AppUnderTest;
let projectId: string;
let smallRepo: string;
let slowRepo: string;
const SETTLED_WITHIN = { timeout: 30_000, interval: 200 };

beforeAll(async () => {
  app = await startAppUnderTest(stack, { SANDBOX_TTL_SECONDS: '3600', SANDBOX_SWEEP_INTERVAL_SECONDS: '1' });
  projectId = (await call(app, 'POST', '/api/v1/projects', { name: 'disconnect' })).body.id;
  smallRepo = `small-${randomUUID().slice(0, 8)}`;
  await createBareRepo(stack.gitRoot, smallRepo, { 'README.md': 'bye\n', 'data.bin': randomBytes(50_000) });
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

async function connect(gitUrl: string) {
  const res = await call(app, 'POST', '/api/v1/code/connect', {
    git_url: gitUrl,
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
}

/** DELETE, then everything the issue asks to be gone, gone; and the same answer again when repeated. */
async function disconnectAndCheck(repoId: string, sandbox: string): Promise<void> {
  const [before] = await app.sql`select token_ciphertext from code_repos where id = ${repoId}`;
  const ciphertextHex = Buffer.from(before!.tokenCiphertext).toString('hex');
  expect(ciphertextHex.length).toBeGreaterThan(64);

  const first = await call(app, 'DELETE', `/api/v1/code/repos/${repoId}`);
  expect(first.status).toBe(202);
  expect(first.body).toMatchObject({ repo_id: repoId, disconnected_at: expect.any(String) });

  await vi.waitFor(async () => {
    const [row] =
      await app.sql`select clone_status, sandbox_path, token_ciphertext, token_kid, disconnected_at from code_repos where id = ${repoId}`;
    expect(row).toMatchObject({ cloneStatus: 'CLEANED', sandboxPath: null, tokenCiphertext: null, tokenKid: null });
  }, SETTLED_WITHIN);
  expect(existsSync(sandbox)).toBe(false);
  expect(await processesMentioning(sandbox)).toEqual([]);
  const { stdout: dump } = await run('pg_dump', ['--no-owner', '--data-only', stack.databaseUrl], {
    maxBuffer: 256 * 1024 * 1024,
  });
  expect(dump).toContain(repoId);
  expect(dump).not.toContain(ciphertextHex);

  const again = await call(app, 'DELETE', `/api/v1/code/repos/${repoId}`);
  expect(again).toMatchObject({
    status: 202,
    body: { repo_id: repoId, clone_status: 'CLEANED', disconnected_at: first.body.disconnected_at },
  });
  const [disconnects] =
    await app.sql`select count(*)::int as n from audit_log where repo_id = ${repoId} and action = 'repo.disconnected'`;
  expect(disconnects!.n).toBe(1);
  const retry = await call(app, 'POST', `/api/v1/code/repos/${repoId}/retry`, {});
  expect(retry).toMatchObject({ status: 409, body: { detail: { error: 'disconnected' } } });
}

describe('DELETE /api/v1/code/repos/{id}: disconnect', () => {
  it('mid-clone: the clone is cancelled, no git left, no directory, the token gone from the database', async () => {
    const { repoId, workflowId, sandbox } = await connect(`${stack.gitUrl}/slow/200000/${slowRepo}.git`);
    await waitForState(app, workflowId, (s) => s.stage === 'cloning' && (s.bytesReceived ?? 0) > 0);
    expect(await processesMentioning(sandbox)).not.toEqual([]);
    await disconnectAndCheck(repoId, sandbox);
  });

  it('after COMPLETED: the sandbox is removed and the row ends CLEANED with disconnected_at', async () => {
    const { repoId, workflowId, sandbox } = await connect(`${stack.gitUrl}/${smallRepo}.git`);
    await waitForState(app, workflowId, (s) => s.cloneStatus === 'COMPLETED');
    expect(existsSync(sandbox)).toBe(true);
    await disconnectAndCheck(repoId, sandbox);
  });

  it("whose workflow has already ended: the API settles the row itself, the host's sweep removes the files", async () => {
    const { repoId, workflowId, sandbox } = await connect(`${stack.gitUrl}/${smallRepo}.git`);
    await waitForState(app, workflowId, (s) => s.cloneStatus === 'COMPLETED');
    await app.temporal.workflow.getHandle(workflowId).terminate('gone before the disconnect');
    const res = await call(app, 'DELETE', `/api/v1/code/repos/${repoId}`);
    expect(res).toMatchObject({ status: 202, body: { clone_status: 'CLEANED' } });
    await vi.waitFor(() => expect(existsSync(sandbox)).toBe(false), SETTLED_WITHIN);
  });

  it("another user's repository is a 404, and stays connected", async () => {
    const { repoId, workflowId } = await connect(`${stack.gitUrl}/${smallRepo}.git`);
    await waitForState(app, workflowId, (s) => s.cloneStatus === 'COMPLETED');
    const res = await call(app, 'DELETE', `/api/v1/code/repos/${repoId}`, undefined, 'someone-else');
    expect(res.status).toBe(404);
    const [row] =
      await app.sql`select clone_status, disconnected_at, token_ciphertext is not null as has_token from code_repos where id = ${repoId}`;
    expect(row).toEqual({ cloneStatus: 'COMPLETED', disconnectedAt: null, hasToken: true });
  });
});
