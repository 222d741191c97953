import { execFile } from 'node:child_process';
import { randomBytes, randomUUID } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { mkdir, statfs } from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, inject, it, vi } from 'vitest';
import { call, startAppUnderTest, waitForState, type AppUnderTest } from '../support/app-under-test.js';
import { createBareRepo, createRepoWithHeavyHistory, pushCommit, revParse } from '../support/git-repos.js';
import { checkInvariants, cleanUpAll } from './invariants.js';

const run = promisify(execFile);
const LIMIT_MB = 2;
/** What a clone needs free before it starts (MAX_REPO_SIZE_MB + 5 %; SANDBOX_MIN_FREE_MB is 0). */
const REQUIRED_BYTES = LIMIT_MB * 1024 * 1024 * 1.05;
const stack = inject('stack');
let mountPoint: string;
let app: AppUnderTest;
let projectId: string;

/** The sandbox root's filesystem, resized (tmpfs keeps what it holds). */
const resize = (bytes: number) => run('mount', ['-o', `remount,size=${Math.ceil(bytes / 4096) * 4}k`, mountPoint]);
const used = async () => {
  const fs = await statfs(mountPoint);
  return (fs.blocks - fs.bfree) * fs.bsize;
};

beforeAll(async () => {
  if (process.getuid?.() !== 0)
    throw new Error('R4 mounts a small filesystem (tmpfs) for the sandbox root: it needs root');
  // The sandbox root on a filesystem of its own, small enough to fill.
  mountPoint = path.join(stack.workDir, `r4-${randomUUID()}`);
  await mkdir(mountPoint);
  await run('mount', ['-t', 'tmpfs', '-o', 'size=16m,mode=0750', 'tmpfs', mountPoint]);
  app = await startAppUnderTest(stack, {
    SANDBOX_BASE_PATH: mountPoint,
    MAX_REPO_SIZE_MB: String(LIMIT_MB),
    SANDBOX_TTL_SECONDS: '3600',
  });
  projectId = (await call(app, 'POST', '/api/v1/projects', { name: 'r4' })).body.id;
});

afterAll(async () => {
  try {
    await app?.stop();
  } finally {
    if (mountPoint && existsSync(mountPoint)) await run('umount', ['-l', mountPoint]).catch(() => undefined);
  }
});

const connect = (repo: string) =>
  call(app, 'POST', '/api/v1/code/connect', {
    git_url: `${stack.gitUrl}/${repo}.git`,
    access_token: stack.gitToken,
    project_id: projectId,
    request_id: randomUUID(),
  });

describe('R4: the sandbox disk full', () => {
  it("507 at admission; a clone that runs out of disk sweeps its host's expired sandboxes and tries once more", async () => {
    const kept = `r4-kept-${randomUUID().slice(0, 8)}`;
    await createBareRepo(stack.gitRoot, kept, { 'data.bin': randomBytes(700_000) });
    // A light tip (kept by admission's probe, ~200 KB) over more history: the clone needs room the probe did not.
    const next = `r4-next-${randomUUID().slice(0, 8)}`;
    await createRepoWithHeavyHistory(
      stack.gitRoot,
      next,
      { 'old.bin': randomBytes(300_000) },
      { 'tip.bin': randomBytes(200_000) },
    );

    // A clone kept past its TTL, whose cleanup never came (as if its workflow's timer were lost).
    const first = await connect(kept);
    expect(first.status).toBe(201);
    await waitForState(app, first.body.workflow_id, (s) => s.cloneStatus === 'COMPLETED');
    await app.sql`update code_repos set updated_at = now() - interval '2 days' where id = ${first.body.repo_id}`;

    // Not the room a clone needs: refused at admission, nothing written.
    await resize((await used()) + REQUIRED_BYTES / 2);
    const refused = await connect(next);
    expect(refused.status).toBe(507);
    expect(refused.body.detail.error).toBe('insufficient_storage');

    // Just the room a clone needs at admission; the probe it keeps then takes some: the clone finds too little.
    await resize((await used()) + REQUIRED_BYTES + 64 * 1024);
    const admitted = await connect(next);
    expect(admitted.status).toBe(201);
    const done = await waitForState(
      app,
      admitted.body.workflow_id,
      (s) => s.cloneStatus === 'COMPLETED' || s.cloneStatus === 'FAILED',
      60_000,
    );
    expect(done).toMatchObject({ cloneStatus: 'COMPLETED', cloneAttempts: 2 });
    // The expired sandbox made the room: swept, its row left for its workflow to settle.
    expect(existsSync(path.join(mountPoint, projectId, first.body.repo_id))).toBe(false);
    const [row] = await app.sql<
      { cloneStatus: string }[]
    >`select clone_status from code_repos where id = ${admitted.body.repo_id}`;
    expect(row!.cloneStatus).toBe('COMPLETED');
    console.log(`R4 invariants: ${await checkInvariants(app, [projectId])}`);
    await cleanUpAll(app, [first.body.workflow_id, admitted.body.workflow_id]);
  }, 120_000);

  it('a sync without the room its fetch may take fails before fetching, the checkout kept; with room it syncs', async () => {
    const name = `r4-sync-${randomUUID().slice(0, 8)}`;
    const bare = await createBareRepo(stack.gitRoot, name, { 'README.md': 'one\n' });
    await resize((await used()) + 4 * REQUIRED_BYTES);
    const connected = await connect(name);
    expect(connected.status).toBe(201);
    const repoId = connected.body.repo_id as string;
    const kept = await waitForState(app, connected.body.workflow_id, (s) => s.cloneStatus === 'COMPLETED');
    const before = (await call(app, 'GET', `/api/v1/code/repos/${repoId}`)).body.head_commit;
    await pushCommit(bare, { 'README.md': 'two\n' });
    const failures = () =>
      app.sql<
        { metadata: { error_code: string } }[]
      >`select metadata from audit_log where repo_id = ${repoId} and action = 'repo.sync_failed'`;

    // Less free than the pack budget (the limit less what the clone holds) + 5 %: refused before git runs.
    await resize((await used()) + REQUIRED_BYTES / 4);
    expect((await call(app, 'POST', `/api/v1/code/repos/${repoId}/sync`)).status).toBe(202);
    await vi.waitFor(
      async () => expect(await failures()).toMatchObject([{ metadata: { error_code: 'insufficient_storage' } }]),
      { timeout: 45_000, interval: 100 },
    );
    await waitForState(app, connected.body.workflow_id, (s) => s.stage === 'ready');
    expect((await call(app, 'GET', `/api/v1/code/repos/${repoId}`)).body).toMatchObject({
      clone_status: 'COMPLETED',
      head_commit: before,
    });
    expect(readFileSync(path.join(kept.sandboxPath!, 'README.md'), 'utf8')).toBe('one\n');

    await resize((await used()) + 4 * REQUIRED_BYTES);
    expect((await call(app, 'POST', `/api/v1/code/repos/${repoId}/sync`)).status).toBe(202);
    const head = await revParse(bare, 'refs/heads/main');
    await vi.waitFor(
      async () => expect((await call(app, 'GET', `/api/v1/code/repos/${repoId}`)).body.head_commit).toBe(head),
      { timeout: 45_000, interval: 100 },
    );
    expect(readFileSync(path.join(kept.sandboxPath!, 'README.md'), 'utf8')).toBe('two\n');
    await cleanUpAll(app, [connected.body.workflow_id]);
  }, 120_000);
});
