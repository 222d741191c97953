import { existsSync, readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { execFile } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { headCommit } from '../../src/git/checkout.js';
import { fetchRepository, type Budgeted, type RemoteAccess } from '../../src/git/operations.js';
import { pinRemote } from '../../src/git/remote-guard.js';
import { createRepoWithRefs, revParse } from '../support/git-repos.js';
import { call, startAppUnderTest, waitForState, type AppUnderTest } from '../support/app-under-test.js';

const stack = inject('stack');
let app: AppUnderTest;
let projectId: string;
let bare: string;
let gitUrl: string;

const SHA = /^[0-9a-f]{40}$/;

beforeAll(async () => {
  app = await startAppUnderTest(stack, { MAX_REPO_SIZE_MB: '1', SANDBOX_TTL_SECONDS: '3600' });
  projectId = (await call(app, 'POST', '/api/v1/projects', { name: 'refs' })).body.id;
  const name = `refs-${randomUUID().slice(0, 8)}`;
  bare = await createRepoWithRefs(stack.gitRoot, name);
  gitUrl = `${stack.gitUrl}/${name}.git`;
});

afterAll(async () => {
  await app?.stop();
});

/** Connects and waits for the clone; returns the repository as each read endpoint shows it. */
async function connectAndClone(ref?: string) {
  const res = await call(app, 'POST', '/api/v1/code/connect', {
    git_url: gitUrl,
    access_token: stack.gitToken,
    project_id: projectId,
    ...(ref === undefined ? {} : { ref }),
  });
  expect(res.status).toBe(201);
  await waitForState(app, res.body.workflow_id, (s) => s.cloneStatus === 'COMPLETED');
  const repoId: string = res.body.repo_id;
  const repo = (await call(app, 'GET', `/api/v1/code/repos/${repoId}`)).body;
  const status = (await call(app, 'GET', `/api/v1/code/repos/${repoId}/status`)).body;
  const listed = (await call(app, 'GET', `/api/v1/code/projects/${projectId}/repos?limit=100`)).body.find(
    (r: { id: string }) => r.id === repoId,
  );
  return { repoId, repo, status, listed };
}

const git = promisify(execFile);
const checkedOut = async (sandbox: string) => (await git('git', ['-C', sandbox, 'rev-parse', 'HEAD'])).stdout.trim();
const symbolicHead = async (sandbox: string) =>
  await git('git', ['-C', sandbox, 'symbolic-ref', '--quiet', 'HEAD']).then(
    (r) => r.stdout.trim(),
    () => null,
  );

describe('refs and commit identity', () => {
  it("without a ref: the default branch, its name recorded, head_commit = the server's rev-parse, on every read endpoint", async () => {
    const before = Date.now();
    const { repo, status, listed } = await connectAndClone();
    const expected = await revParse(bare, 'refs/heads/main');
    for (const body of [repo, status, listed]) {
      expect(body).toMatchObject({ ref: 'main', head_commit: expected });
      expect(Date.parse(body.synced_at)).toBeGreaterThanOrEqual(before - 1000);
    }
    expect(readFileSync(path.join(repo.sandbox_path, 'version.txt'), 'utf8')).toBe('v2\n');
  });

  it('ref = a branch: that branch is checked out, as a branch', async () => {
    const { repo, status, listed } = await connectAndClone('feature/x');
    const expected = await revParse(bare, 'refs/heads/feature/x');
    expect(expected).toMatch(SHA);
    for (const body of [repo, status, listed])
      expect(body).toMatchObject({ ref: 'feature/x', head_commit: expected, synced_at: expect.any(String) });
    expect(await checkedOut(repo.sandbox_path)).toBe(expected);
    expect(await symbolicHead(repo.sandbox_path)).toBe('refs/heads/feature/x');
    expect(existsSync(path.join(repo.sandbox_path, 'feature.txt'))).toBe(true);
  });

  it('ref = an (annotated) tag: its commit is checked out detached', async () => {
    const { repo, status, listed } = await connectAndClone('v1');
    const expected = await revParse(bare, 'refs/tags/v1');
    for (const body of [repo, status, listed])
      expect(body).toMatchObject({ ref: 'v1', head_commit: expected, synced_at: expect.any(String) });
    expect(await checkedOut(repo.sandbox_path)).toBe(expected);
    expect(await symbolicHead(repo.sandbox_path)).toBeNull();
    expect(readFileSync(path.join(repo.sandbox_path, 'version.txt'), 'utf8')).toBe('v1\n');
    expect(existsSync(path.join(repo.sandbox_path, 'feature.txt'))).toBe(false);
  });

  it('an unknown ref: 404 ref_not_found, and nothing is persisted', async () => {
    const requestId = randomUUID();
    const res = await call(app, 'POST', '/api/v1/code/connect', {
      git_url: gitUrl,
      access_token: stack.gitToken,
      project_id: projectId,
      request_id: requestId,
      ref: 'no-such-branch',
    });
    expect(res.status).toBe(404);
    expect(res.body).toEqual({
      detail: { error: 'ref_not_found', message: expect.stringContaining('no-such-branch') },
    });
    const [row] = await app.sql<
      { n: number }[]
    >`select count(*)::int as n from code_repos where request_id = ${requestId}`;
    expect(row!.n).toBe(0);
  });

  it('the same request_id with another ref is a 409; without one it matches a repeat without one', async () => {
    const requestId = randomUUID();
    const body = {
      git_url: gitUrl,
      access_token: stack.gitToken,
      project_id: projectId,
      request_id: requestId,
      ref: 'main',
    };
    const first = await call(app, 'POST', '/api/v1/code/connect', body);
    expect(first.status).toBe(201);
    expect((await call(app, 'POST', '/api/v1/code/connect', { ...body, ref: 'v1' })).body.detail.error).toBe(
      'idempotency_key_reused',
    );
    // `ref` absent and `ref` naming the default branch are different requests, as written.
    const { ref: _ref, ...withoutRef } = body;
    expect((await call(app, 'POST', '/api/v1/code/connect', withoutRef)).status).toBe(409);
    const again = await call(app, 'POST', '/api/v1/code/connect', body);
    expect(again.status).toBe(201);
    expect(again.headers.get('idempotent-replayed')).toBe('true');
    await waitForState(app, first.body.workflow_id, (s) => s.cloneStatus === 'COMPLETED');
  });

  it.each([
    ['--upload-pack=x'],
    ['-x'],
    ['a..b'],
    ['a b'],
    ['a\nb'],
    ['main@{1}'],
    ['x.lock'],
    ['/main'],
    ['x'.repeat(256)],
  ])('a hostile ref %j: 422 naming ref, nothing started', async (ref) => {
    const res = await call(app, 'POST', '/api/v1/code/connect', {
      git_url: gitUrl,
      access_token: stack.gitToken,
      project_id: projectId,
      ref,
    });
    expect(res.status).toBe(422);
    expect(res.body.detail.error).toBe('validation_error');
    expect(res.body.detail.issues.map((i: { path: string }) => i.path)).toEqual(['ref']);
  });
});

// A clone that does not deepen admission's probe (a retry, or a host other than the probe's) takes the row's ref itself.
describe('a full clone of a ref', () => {
  let workDir: string;
  let access: RemoteAccess & Budgeted;

  beforeAll(async () => {
    workDir = await mkdtemp(path.join(stack.workDir, 'refs-'));
    access = {
      remote: await pinRemote(gitUrl, { allowLoopback: true, allowedPorts: [443] }),
      token: stack.gitToken,
      allowHttp: true,
      idleTimeoutMs: 30_000,
      limitBytes: 10 * 1024 * 1024,
      limitInodes: 10_000,
      measure: async () => ({ bytes: 0, inodes: 0 }),
    };
  });

  afterAll(async () => {
    await rm(workDir, { recursive: true, force: true });
  });

  it.each([
    ['feature/x', 'refs/heads/feature/x'],
    ['v1', 'refs/tags/v1'],
  ])('checks out %s', async (ref, full) => {
    const targetDir = path.join(workDir, randomUUID());
    await fetchRepository({ ...access, targetDir, shallow: false, ref });
    expect(await headCommit(targetDir, 30_000)).toBe(await revParse(bare, full));
  });

  it('refuses a ref that could be read as an option before git runs', async () => {
    const targetDir = path.join(workDir, randomUUID());
    await expect(
      fetchRepository({ ...access, targetDir, shallow: false, ref: '--upload-pack=touch /tmp/x' }),
    ).rejects.toMatchObject({ code: 'ref_not_found' });
    expect(existsSync(targetDir)).toBe(false);
  });
});
