import { execFile } from 'node:child_process';
import { randomBytes, randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { lstat, readdir, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, inject, it, vi } from 'vitest';
import { recordPacksBefore } from '../../src/activities/sync-recovery.js';
import { recordSyncFailure } from '../../src/db/repo-sync.js';
import { makeReadOnly, makeWritable } from '../../src/sandbox/sandbox.js';
import { cleanupSignal } from '../../src/shared/connect-repository.js';
import { call, startAppUnderTest, waitForState, type AppUnderTest } from '../support/app-under-test.js';
import { createBareRepo, pushCommit, revParse } from '../support/git-repos.js';

const stack = inject('stack');
const run = promisify(execFile);
let app: AppUnderTest;
let projectId: string;

beforeAll(async () => {
  // 1 MB: room for the repositories below and their small pushes, not for a pushed 1.5 MB blob.
  app = await startAppUnderTest(stack, { MAX_REPO_SIZE_MB: '1', SANDBOX_TTL_SECONDS: '3600' });
  projectId = (await call(app, 'POST', '/api/v1/projects', { name: 'sync' })).body.id;
});

afterAll(async () => {
  await app?.stop();
});

const gitIn = async (dir: string, ...args: string[]) => (await run('git', ['-C', dir, ...args])).stdout.trim();

const bytesSent = async (key: string): Promise<number> =>
  (await (await fetch(`${stack.gitUrl}/_bytes/${key}`)).json()) as number;

/** A served repository (its bytes counted under its own key), connected and cloned. */
async function connected(files: Record<string, string | Buffer>, behaviour = '') {
  const name = `sync-${randomUUID().slice(0, 8)}`;
  const key = randomUUID();
  const bare = await createBareRepo(stack.gitRoot, name, files);
  const res = await call(app, 'POST', '/api/v1/code/connect', {
    git_url: `${stack.gitUrl}/count/${key}${behaviour}/${name}.git`,
    access_token: stack.gitToken,
    project_id: projectId,
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

const auditOf = (repoId: string, action: string) =>
  app.sql<
    { metadata: Record<string, unknown> }[]
  >`select metadata from audit_log where repo_id = ${repoId} and action = ${action} order by id`;

/** Waits until the workflow has run `count` syncs to their end (recorded either way) and is waiting again. */
async function syncsSettled(
  repo: { repoId: string; workflowId: string },
  action: 'repo.synced' | 'repo.sync_failed',
  count = 1,
) {
  await vi.waitFor(async () => expect((await auditOf(repo.repoId, action)).length).toBeGreaterThanOrEqual(count), {
    timeout: 45_000,
    interval: 100,
  });
  return waitForState(app, repo.workflowId, (s) => s.stage === 'ready');
}

/** Every file and directory of the clone, .git too, with any write bit set. */
async function writable(dir: string): Promise<string[]> {
  const found: string[] = [];
  for (const entry of await readdir(dir)) {
    const full = path.join(dir, entry);
    const stats = await lstat(full);
    if (stats.mode & 0o222) found.push(full);
    if (stats.isDirectory()) found.push(...(await writable(full)));
  }
  return found;
}

describe('sync on demand', () => {
  it('two pushed commits: head_commit moves, only the new objects are fetched, files read-only, audited', async () => {
    const repo = await connected({ 'big.bin': randomBytes(300_000), 'README.md': 'one\n' });
    const cloneBytes = await bytesSent(repo.key);
    const before = (await call(app, 'GET', `/api/v1/code/repos/${repo.repoId}`)).body;
    await pushCommit(repo.bare, { 'README.md': 'two\n' }, 'second');
    await pushCommit(repo.bare, { 'docs/added.md': 'three\n' }, 'third');
    const expected = await revParse(repo.bare, 'refs/heads/main');

    const res = await call(app, 'POST', `/api/v1/code/repos/${repo.repoId}/sync`);
    expect(res.status).toBe(202);
    expect(res.body).toEqual({ repo_id: repo.repoId, clone_status: 'COMPLETED', workflow_id: repo.workflowId });
    await syncsSettled(repo, 'repo.synced');

    const after = (await call(app, 'GET', `/api/v1/code/repos/${repo.repoId}`)).body;
    expect(after.head_commit).toBe(expected);
    expect(after.head_commit).not.toBe(before.head_commit);
    expect(Date.parse(after.synced_at)).toBeGreaterThan(Date.parse(before.synced_at));
    expect(after.clone_status).toBe('COMPLETED');
    const status = (await call(app, 'GET', `/api/v1/code/repos/${repo.repoId}/status`)).body;
    expect(status).toMatchObject({ clone_status: 'COMPLETED', head_commit: expected, error_code: null });
    // Incremental: two small commits, not the 300 KB blob again.
    const syncBytes = (await bytesSent(repo.key)) - cloneBytes;
    expect(cloneBytes).toBeGreaterThan(300_000);
    expect(syncBytes).toBeLessThan(cloneBytes / 10);
    expect(readFileSync(path.join(repo.sandbox, 'README.md'), 'utf8')).toBe('two\n');
    expect(readFileSync(path.join(repo.sandbox, 'docs', 'added.md'), 'utf8')).toBe('three\n');
    expect(await writable(repo.sandbox)).toEqual([]);
    const [synced] = await auditOf(repo.repoId, 'repo.synced');
    expect(synced!.metadata).toMatchObject({
      changed: true,
      previous_commit: before.head_commit,
      head_commit: expected,
    });
    await app.temporal.workflow.getHandle(repo.workflowId).signal(cleanupSignal);
  });

  it('three concurrent requests coalesce: one fetch of the new commit', async () => {
    const repo = await connected({ 'README.md': 'one\n' });
    const cloneBytes = await bytesSent(repo.key);
    // Incompressible: the byte log tells one download of it from two.
    await pushCommit(repo.bare, { 'data.bin': randomBytes(200_000) });
    const responses = await Promise.all(
      [1, 2, 3].map(() => call(app, 'POST', `/api/v1/code/repos/${repo.repoId}/sync`)),
    );
    expect(responses.map((r) => r.status)).toEqual([202, 202, 202]);
    await syncsSettled(repo, 'repo.synced');
    // Requests that came while the first ran coalesce into at most one more, which finds nothing new.
    const runs = await auditOf(repo.repoId, 'repo.synced');
    expect(runs.length).toBeLessThanOrEqual(2);
    expect(runs.filter((r) => r.metadata.changed === true)).toHaveLength(1);
    const syncBytes = (await bytesSent(repo.key)) - cloneBytes;
    expect(syncBytes).toBeGreaterThan(200_000);
    expect(syncBytes).toBeLessThan(400_000);
    expect((await call(app, 'GET', `/api/v1/code/repos/${repo.repoId}`)).body.head_commit).toBe(
      await revParse(repo.bare, 'refs/heads/main'),
    );
    await app.temporal.workflow.getHandle(repo.workflowId).signal(cleanupSignal);
  });

  it('a push over the budget: the sync fails as too large, the previous checkout intact, and it can sync again', async () => {
    const repo = await connected({ 'README.md': 'one\n', 'src/a.txt': 'a\n' });
    const before = (await call(app, 'GET', `/api/v1/code/repos/${repo.repoId}`)).body;
    const packsBefore = await readdir(path.join(repo.sandbox, '.git', 'objects', 'pack'));
    await pushCommit(repo.bare, { 'huge.bin': randomBytes(1_500_000), 'README.md': 'two\n' });

    expect((await call(app, 'POST', `/api/v1/code/repos/${repo.repoId}/sync`)).status).toBe(202);
    const state = await syncsSettled(repo, 'repo.sync_failed');
    expect(state.error).toMatchObject({
      code: 'repository_too_large',
      message: expect.stringMatching(/^Repository size exceeds 1MB limit: it needs [\d.]+MB of disk$/),
    });

    const after = (await call(app, 'GET', `/api/v1/code/repos/${repo.repoId}/status`)).body;
    expect(after).toMatchObject({
      clone_status: 'COMPLETED',
      head_commit: before.head_commit,
      error_code: 'repository_too_large',
      error_message: expect.stringMatching(/^Repository size exceeds 1MB limit/),
    });
    expect(readFileSync(path.join(repo.sandbox, 'README.md'), 'utf8')).toBe('one\n');
    expect(readFileSync(path.join(repo.sandbox, 'src', 'a.txt'), 'utf8')).toBe('a\n');
    expect((await readdir(repo.sandbox)).sort()).toEqual(['.git', 'README.md', 'src']);
    expect(await writable(repo.sandbox)).toEqual([]);
    // Nothing the failed fetch wrote is kept.
    expect(await readdir(path.join(repo.sandbox, '.git', 'objects', 'pack'))).toEqual(packsBefore);

    // Still usable: the push is undone upstream (force-pushed away), and the next sync succeeds and clears the failure.
    await run('git', ['--git-dir', repo.bare, 'update-ref', 'refs/heads/main', before.head_commit]);
    await pushCommit(repo.bare, { 'README.md': 'three\n' });
    expect((await call(app, 'POST', `/api/v1/code/repos/${repo.repoId}/sync`)).status).toBe(202);
    await vi.waitFor(
      async () =>
        expect((await call(app, 'GET', `/api/v1/code/repos/${repo.repoId}`)).body.head_commit).toBe(
          await revParse(repo.bare, 'refs/heads/main'),
        ),
      { timeout: 45_000, interval: 100 },
    );
    await waitForState(app, repo.workflowId, (s) => s.stage === 'ready');
    expect((await call(app, 'GET', `/api/v1/code/repos/${repo.repoId}/status`)).body).toMatchObject({
      clone_status: 'COMPLETED',
      error_code: null,
    });
    await app.temporal.workflow.getHandle(repo.workflowId).signal(cleanupSignal);
  });

  it('a push small to fetch whose checkout would pass the limit: refused before writing, the fetched objects dropped', async () => {
    const repo = await connected({ 'README.md': 'one\n' });
    const before = (await call(app, 'GET', `/api/v1/code/repos/${repo.repoId}`)).body;
    const packsBefore = await readdir(path.join(repo.sandbox, '.git', 'objects', 'pack'));
    // 2 MB of zeros: a pack of a few KB, a working tree twice the limit.
    await pushCommit(repo.bare, { 'zeros.bin': Buffer.alloc(2_000_000) });
    expect((await call(app, 'POST', `/api/v1/code/repos/${repo.repoId}/sync`)).status).toBe(202);
    const state = await syncsSettled(repo, 'repo.sync_failed');
    expect(state.error).toMatchObject({
      code: 'repository_too_large',
      message: expect.stringMatching(/^Repository size exceeds 1MB limit: it needs [\d.]+MB of disk$/),
    });
    expect((await call(app, 'GET', `/api/v1/code/repos/${repo.repoId}`)).body).toMatchObject({
      clone_status: 'COMPLETED',
      head_commit: before.head_commit,
    });
    expect((await readdir(repo.sandbox)).sort()).toEqual(['.git', 'README.md']);
    expect(await readdir(path.join(repo.sandbox, '.git', 'objects', 'pack'))).toEqual(packsBefore);
    expect(await writable(repo.sandbox)).toEqual([]);

    // A failure of the service's own is audited, not shown as the repository's.
    await recordSyncFailure(
      app.sql,
      { repoId: repo.repoId, errorCode: 'kms_unavailable', errorMessage: 'KMS down' },
      { correlationId: randomUUID(), requestId: randomUUID(), userId: 'test' },
    );
    expect(await auditOf(repo.repoId, 'repo.sync_failed')).toHaveLength(2);
    expect((await call(app, 'GET', `/api/v1/code/repos/${repo.repoId}/status`)).body).toMatchObject({
      error_code: 'repository_too_large',
    });
    // The failure was the kept clone's: it goes with it.
    await app.temporal.workflow.getHandle(repo.workflowId).signal(cleanupSignal);
    await waitForState(app, repo.workflowId, (s) => s.cloneStatus === 'CLEANED');
    expect(
      await app.sql`select clone_status, error_code, error_message from code_repos where id = ${repo.repoId}`,
    ).toEqual([{ cloneStatus: 'CLEANED', errorCode: null, errorMessage: null }]);
  });

  it('while it runs, /status shows SYNCING with progress; the row stays COMPLETED', async () => {
    // Served at 60 KB/s: a 300 KB push takes seconds to fetch.
    const repo = await connected({ 'README.md': 'one\n' }, '/slow/60000');
    await pushCommit(repo.bare, { 'data.bin': randomBytes(300_000) });
    expect((await call(app, 'POST', `/api/v1/code/repos/${repo.repoId}/sync`)).status).toBe(202);
    const syncing = await vi.waitFor(
      async () => {
        const body = (await call(app, 'GET', `/api/v1/code/repos/${repo.repoId}/status`)).body;
        expect(body).toMatchObject({ clone_status: 'SYNCING', stage: 'syncing' });
        expect(body.bytes_received).toBeGreaterThan(0);
        return body;
      },
      { timeout: 45_000, interval: 100 },
    );
    expect(syncing.progress_message).toMatch(/^Syncing/);
    expect((await call(app, 'GET', `/api/v1/code/repos/${repo.repoId}`)).body.clone_status).toBe('COMPLETED');
    await syncsSettled(repo, 'repo.synced');
    expect((await call(app, 'GET', `/api/v1/code/repos/${repo.repoId}/status`)).body).toMatchObject({
      clone_status: 'COMPLETED',
      progress_percent: 100,
      head_commit: await revParse(repo.bare, 'refs/heads/main'),
    });
    await app.temporal.workflow.getHandle(repo.workflowId).signal(cleanupSignal);
  });

  it('a git killed mid-sync left lock files and half-written files: the next sync clears them and succeeds', async () => {
    const repo = await connected({ 'README.md': 'one\n' });
    await pushCommit(repo.bare, { 'README.md': 'two\n' });
    // As a reset killed mid-checkout leaves the clone: its attempt's marker, git's locks, a file half-rewritten.
    await makeWritable(repo.sandbox);
    await recordPacksBefore(repo.sandbox);
    for (const lock of ['index.lock', 'HEAD.lock', 'refs/heads/main.lock'])
      await writeFile(path.join(repo.sandbox, '.git', lock), 'half');
    await writeFile(path.join(repo.sandbox, 'README.md'), 'tw');
    await makeReadOnly(repo.sandbox);

    expect((await call(app, 'POST', `/api/v1/code/repos/${repo.repoId}/sync`)).status).toBe(202);
    const state = await syncsSettled(repo, 'repo.synced');
    expect(state.error).toBeNull();
    const expected = await revParse(repo.bare, 'refs/heads/main');
    expect((await call(app, 'GET', `/api/v1/code/repos/${repo.repoId}/status`)).body).toMatchObject({
      clone_status: 'COMPLETED',
      head_commit: expected,
      error_code: null,
    });
    expect(await gitIn(repo.sandbox, 'rev-parse', 'HEAD')).toBe(expected);
    expect(readFileSync(path.join(repo.sandbox, 'README.md'), 'utf8')).toBe('two\n');
    expect(await gitIn(repo.sandbox, '--no-optional-locks', 'status', '--porcelain')).toBe('');
    expect(
      (await readdir(path.join(repo.sandbox, '.git'), { recursive: true })).filter(
        (f) => f.endsWith('.lock') || f.startsWith('connector-sync'),
      ),
    ).toEqual([]);
    expect(await writable(repo.sandbox)).toEqual([]);
    await app.temporal.workflow.getHandle(repo.workflowId).signal(cleanupSignal);
  });

  it("an attempt that died after moving the checkout: the next one puts back the row's commit, not the disk's, and its pack", async () => {
    const repo = await connected({ 'README.md': 'one\n' });
    const recorded = (await call(app, 'GET', `/api/v1/code/repos/${repo.repoId}`)).body.head_commit as string;
    const packsBefore = await readdir(path.join(repo.sandbox, '.git', 'objects', 'pack'));
    await pushCommit(repo.bare, { 'README.md': 'two\n' });
    const moved = await revParse(repo.bare, 'refs/heads/main');
    // The dead attempt: marker written, a pack fetched, the checkout moved to its commit; the row never heard of it.
    await makeWritable(repo.sandbox);
    await recordPacksBefore(repo.sandbox);
    await gitIn(
      repo.sandbox,
      '-c',
      'transfer.unpackLimit=1',
      'fetch',
      '--quiet',
      repo.bare,
      'refs/heads/main:refs/connector/sync',
    );
    await gitIn(repo.sandbox, 'reset', '--quiet', '--hard', moved);
    await makeReadOnly(repo.sandbox);
    expect((await readdir(path.join(repo.sandbox, '.git', 'objects', 'pack'))).length).toBeGreaterThan(
      packsBefore.length,
    );
    // This sync fails (too large): the clone must be put back to what the row says.
    await pushCommit(repo.bare, { 'huge.bin': randomBytes(1_500_000) });

    expect((await call(app, 'POST', `/api/v1/code/repos/${repo.repoId}/sync`)).status).toBe(202);
    const state = await syncsSettled(repo, 'repo.sync_failed');
    expect(state.error).toMatchObject({ code: 'repository_too_large' });
    expect((await call(app, 'GET', `/api/v1/code/repos/${repo.repoId}`)).body.head_commit).toBe(recorded);
    expect(await gitIn(repo.sandbox, 'rev-parse', 'HEAD')).toBe(recorded);
    expect(readFileSync(path.join(repo.sandbox, 'README.md'), 'utf8')).toBe('one\n');
    expect(await gitIn(repo.sandbox, '--no-optional-locks', 'status', '--porcelain')).toBe('');
    expect(await readdir(path.join(repo.sandbox, '.git', 'objects', 'pack'))).toEqual(packsBefore);
    expect(await writable(repo.sandbox)).toEqual([]);

    // And a sync that succeeds afterwards agrees with the row.
    await run('git', ['--git-dir', repo.bare, 'update-ref', 'refs/heads/main', moved]);
    expect((await call(app, 'POST', `/api/v1/code/repos/${repo.repoId}/sync`)).status).toBe(202);
    await syncsSettled(repo, 'repo.synced');
    expect((await call(app, 'GET', `/api/v1/code/repos/${repo.repoId}`)).body.head_commit).toBe(moved);
    expect(await gitIn(repo.sandbox, 'rev-parse', 'HEAD')).toBe(moved);
    expect(readFileSync(path.join(repo.sandbox, 'README.md'), 'utf8')).toBe('two\n');
    await app.temporal.workflow.getHandle(repo.workflowId).signal(cleanupSignal);
  });

  it('files are written verbatim whatever the pushed .gitattributes ask', async () => {
    const repo = await connected({ 'README.md': 'one\n' });
    // Even when the clone's own attributes file is gone: every checkout writes it again.
    await makeWritable(repo.sandbox);
    await rm(path.join(repo.sandbox, '.git', 'info', 'attributes'));
    await makeReadOnly(repo.sandbox);
    await pushCommit(repo.bare, { '.gitattributes': '* text eol=crlf\n', 'notes.txt': 'a\nb\n' });
    expect((await call(app, 'POST', `/api/v1/code/repos/${repo.repoId}/sync`)).status).toBe(202);
    await syncsSettled(repo, 'repo.synced');
    expect(readFileSync(path.join(repo.sandbox, 'notes.txt'), 'utf8')).toBe('a\nb\n');
    await app.temporal.workflow.getHandle(repo.workflowId).signal(cleanupSignal);
  });

  it('a name that is both a branch and a tag: the sync follows the branch, as the clone did', async () => {
    const repo = await connected({ 'README.md': 'one\n' });
    await run('git', ['--git-dir', repo.bare, 'tag', 'main', 'refs/heads/main']);
    await pushCommit(repo.bare, { 'README.md': 'two\n' });
    expect((await call(app, 'POST', `/api/v1/code/repos/${repo.repoId}/sync`)).status).toBe(202);
    await syncsSettled(repo, 'repo.synced');
    const [synced] = await auditOf(repo.repoId, 'repo.synced');
    expect(synced!.metadata).toMatchObject({ changed: true });
    expect((await call(app, 'GET', `/api/v1/code/repos/${repo.repoId}`)).body.head_commit).toBe(
      await revParse(repo.bare, 'refs/heads/main'),
    );
    expect(readFileSync(path.join(repo.sandbox, 'README.md'), 'utf8')).toBe('two\n');
    await app.temporal.workflow.getHandle(repo.workflowId).signal(cleanupSignal);
  });

  it("409 unless COMPLETED, 404 for another user's repository", async () => {
    const repo = await connected({ 'README.md': 'one\n' });
    expect((await call(app, 'POST', `/api/v1/code/repos/${repo.repoId}/sync`, undefined, 'someone-else')).status).toBe(
      404,
    );
    await app.temporal.workflow.getHandle(repo.workflowId).signal(cleanupSignal);
    await waitForState(app, repo.workflowId, (s) => s.cloneStatus === 'CLEANED');
    const res = await call(app, 'POST', `/api/v1/code/repos/${repo.repoId}/sync`);
    expect(res.status).toBe(409);
    expect(res.body).toEqual({
      detail: { error: 'invalid_state', message: 'Only a COMPLETED repository can be synced; it is CLEANED' },
    });
  });
});
