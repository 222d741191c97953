import { randomBytes, randomUUID } from 'node:crypto';
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { directorySize } from '../../src/sandbox/sandbox.js';
import {
  createBareRepo,
  createRepoWithHeavyHistory,
  createRepoWithTinyObjects,
  pushCommit,
} from '../support/git-repos.js';
import { call, startAppUnderTest, waitForState, type AppUnderTest } from '../support/app-under-test.js';

const stack = inject('stack');
let app: AppUnderTest;
let projectId: string;

beforeAll(async () => {
  app = await startAppUnderTest(stack, { MAX_REPO_SIZE_MB: '1', MAX_REPO_FILES: '20', SANDBOX_TTL_SECONDS: '3600' });
  projectId = (await call(app, 'POST', '/api/v1/projects', { name: 'budget' })).body.id;
});

afterAll(async () => {
  await app?.stop();
});

const MIB = 1024 * 1024;
/** The limit (1 MB) plus the 5 % the budget allows for git's small files. */
const CEILING = 1.05 * MIB;

/** Waits for the clone to end in `status`, sampling the sandbox's size every 20 ms meanwhile. */
async function sampledUntil(sandbox: string, workflowId: string, status: 'FAILED' | 'COMPLETED') {
  let largest = 0;
  let samples = 0;
  const sampler = setInterval(() => {
    void directorySize(sandbox).then(
      ({ bytes }) => {
        samples += 1;
        largest = Math.max(largest, bytes);
      },
      () => {},
    );
  }, 20);
  try {
    const state = await waitForState(app, workflowId, (s) => s.cloneStatus === status);
    return { state, largest, samples };
  } finally {
    clearInterval(sampler);
  }
}

/** The clone fails as too large, and the sandbox, sampled all along, never held more than the ceiling. */
async function expectTooLargeWithinCeiling(sandbox: string, workflowId: string) {
  const { state, largest, samples } = await sampledUntil(sandbox, workflowId, 'FAILED');
  expect(state.error).toMatchObject({ code: 'repository_too_large' });
  expect(samples).toBeGreaterThan(10);
  expect(largest).toBeGreaterThan(0);
  expect(largest).toBeLessThanOrEqual(CEILING);
  expect(existsSync(sandbox)).toBe(false);
}

/**
 * `objects` blobs of 8 random bytes in the history, one small file at the tip. Each blob costs
 * ~40 bytes of pack (its entry plus its line in the tree) and 28 of index: the index is large
 * next to the pack. Served at 1 MB/s, so the sampling sees the clone in progress.
 */
async function connectTinyObjects(objects: number) {
  const name = `tiny-objects-${objects}-${randomUUID().slice(0, 8)}`;
  await createRepoWithTinyObjects(stack.gitRoot, name, objects);
  const res = await call(app, 'POST', '/api/v1/code/connect', {
    git_url: `${stack.gitUrl}/slow/1000000/${name}.git`,
    access_token: stack.gitToken,
    project_id: projectId,
    request_id: randomUUID(),
  });
  expect(res.status).toBe(201);
  return { res, sandbox: path.join(app.config.SANDBOX_BASE_PATH, projectId, res.body.repo_id) };
}

describe("the clone's enforced size budget", () => {
  it('admits a light tip over a heavy history, then fails it as too large without ever holding more than the limit + 5 %', async () => {
    const name = `heavy-history-${randomUUID().slice(0, 8)}`;
    await createRepoWithHeavyHistory(
      stack.gitRoot,
      name,
      { 'old.bin': randomBytes(3_000_000) },
      { 'README.md': 'light\n' },
    );
    // Served slowly enough that the sampling below sees the clone in progress.
    const res = await call(app, 'POST', '/api/v1/code/connect', {
      git_url: `${stack.gitUrl}/slow/1000000/${name}.git`,
      access_token: stack.gitToken,
      project_id: projectId,
      request_id: randomUUID(),
    });
    expect(res.status).toBe(201);
    const sandbox = path.join(app.config.SANDBOX_BASE_PATH, projectId, res.body.repo_id);

    await expectTooLargeWithinCeiling(sandbox, res.body.workflow_id);

    const status = await call(app, 'GET', `/api/v1/code/repos/${res.body.repo_id}/status`);
    expect(status.body).toMatchObject({ clone_status: 'FAILED', sandbox_path: null });
    expect(status.body.error_message).toMatch(/exceeds 1MB limit/);
  });

  it('holds a pack under the limit whose index would take it over (18 000 tiny objects: ~0.73 MB of pack, 0.5 MB of index) to the limit, and fails it as too large', async () => {
    const { res, sandbox } = await connectTinyObjects(18_000);
    await expectTooLargeWithinCeiling(sandbox, res.body.workflow_id);
  });

  it('completes a repository of tiny objects that fits (11 000 objects: pack + index ~0.75 MB)', async () => {
    const { res, sandbox } = await connectTinyObjects(11_000);
    const { largest } = await sampledUntil(sandbox, res.body.workflow_id, 'COMPLETED');
    const status = await call(app, 'GET', `/api/v1/code/repos/${res.body.repo_id}/status`);
    expect(status.body).toMatchObject({ clone_status: 'COMPLETED', sandbox_path: path.join(sandbox, 'repository') });
    const { bytes } = await directorySize(sandbox);
    expect(bytes).toBeGreaterThan(0.6 * MIB);
    expect(bytes).toBeLessThanOrEqual(MIB);
    expect(largest).toBeLessThanOrEqual(MIB);
  });

  it('refuses a repository with more files than MAX_REPO_FILES at admission: 413, nothing stored', async () => {
    const name = `many-files-${randomUUID().slice(0, 8)}`;
    await createBareRepo(
      stack.gitRoot,
      name,
      Object.fromEntries(Array.from({ length: 30 }, (_, i) => [`f${i}.txt`, `${i}\n`])),
    );
    const requestId = randomUUID();
    const res = await call(app, 'POST', '/api/v1/code/connect', {
      git_url: `${stack.gitUrl}/${name}.git`,
      access_token: stack.gitToken,
      project_id: projectId,
      request_id: requestId,
    });
    expect(res.status).toBe(413);
    expect(res.body.detail).toMatchObject({
      error: 'repository_too_large',
      message: 'Repository has more than 20 files (30 counted)',
      budget: 'files',
      measured: 30,
      limit: 20,
      limit_mb: 1,
    });
    expect((await app.sql`select count(*)::int as n from code_repos where request_id = ${requestId}`)[0]!.n).toBe(0);
  });

  it('a too-large failure says so in /status, and its retry probes again: still over the limit is a 413 at once, nothing downloaded again', async () => {
    const name = `grown-${randomUUID().slice(0, 8)}`;
    const bare = await createRepoWithHeavyHistory(
      stack.gitRoot,
      name,
      { 'old.bin': randomBytes(2_000_000) },
      { 'README.md': 'light\n' },
    );
    const res = await call(app, 'POST', '/api/v1/code/connect', {
      git_url: `${stack.gitUrl}/${name}.git`,
      access_token: stack.gitToken,
      project_id: projectId,
      request_id: randomUUID(),
    });
    expect(res.status).toBe(201);
    await waitForState(app, res.body.workflow_id, (s) => s.cloneStatus === 'FAILED');
    const status = await call(app, 'GET', `/api/v1/code/repos/${res.body.repo_id}/status`);
    expect(status.body).toMatchObject({
      clone_status: 'FAILED',
      error_code: 'repository_too_large',
      progress_percent: 0,
    });

    // Since then its tip alone has grown over the limit: the new probe proves it.
    await pushCommit(bare, { 'big.bin': randomBytes(1_500_000) });
    const retry = await call(app, 'POST', `/api/v1/code/repos/${res.body.repo_id}/retry`, {});
    expect(retry.status).toBe(413);
    expect(retry.body.detail).toMatchObject({ error: 'repository_too_large', limit_mb: 1 });
    expect(retry.body.detail.estimated_size_mb).toBeGreaterThan(1);
    const [row] = await app.sql`select clone_status from code_repos where id = ${res.body.repo_id}`;
    expect(row!.cloneStatus).toBe('FAILED');
    const clones =
      await app.sql`select count(*)::int as n from audit_log where repo_id = ${res.body.repo_id} and to_state = 'CLONING'`;
    expect(clones[0]!.n).toBe(1);
  });

  it('checks out blobs verbatim: .gitattributes asking for CRLF cannot grow a working tree past the size read before checkout', async () => {
    const name = `crlf-${randomUUID().slice(0, 8)}`;
    // 600 kB of newlines: as CRLF it would be 1.2 MB, over the 1 MB limit.
    await createBareRepo(stack.gitRoot, name, {
      '.gitattributes': '* text eol=crlf\n',
      'lines.txt': '\n'.repeat(600_000),
    });
    const res = await call(app, 'POST', '/api/v1/code/connect', {
      git_url: `${stack.gitUrl}/${name}.git`,
      access_token: stack.gitToken,
      project_id: projectId,
      request_id: randomUUID(),
    });
    expect(res.status).toBe(201);
    const state = await waitForState(
      app,
      res.body.workflow_id,
      (s) => s.cloneStatus === 'COMPLETED' || s.cloneStatus === 'FAILED',
    );
    expect(state).toMatchObject({ cloneStatus: 'COMPLETED', error: null });
    const checkedOut = await readFile(path.join(state.sandboxPath!, 'lines.txt'));
    expect(checkedOut.length).toBe(600_000);
    expect(checkedOut.includes(13)).toBe(false);
  });
});
