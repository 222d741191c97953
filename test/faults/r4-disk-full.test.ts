import { execFile } from 'node:child_process';
import { randomBytes, randomUUID } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, statfs } from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { call, startAppUnderTest, waitForState, type AppUnderTest } from '../support/app-under-test.js';
import { createBareRepo, createRepoWithHeavyHistory } from '../support/git-repos.js';
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
  if (process.getuid?.() !== 0) throw new Error('R4 mounts a small filesystem (tmpfs) for the sandbox root: it needs root');
  // The sandbox root on a filesystem of its own, small enough to fill.
  mountPoint = path.join(stack.workDir, `r4-${randomUUID()}`);
  await mkdir(mountPoint);
  await run('mount', ['-t', 'tmpfs', '-o', 'size=16m,mode=0750', 'tmpfs', mountPoint]);
  app = await startAppUnderTest(stack, { SANDBOX_BASE_PATH: mountPoint, MAX_REPO_SIZE_MB: String(LIMIT_MB), SANDBOX_TTL_SECONDS: '3600' });
  projectId = (await call(app, 'POST', '/api/v1/projects', { name: 'r4' })).body.id;
});

afterAll(async () => {
  try {
    await app?.stop();
  } finally {
    if (mountPoint && existsSync(mountPoint)) await run('umount', ['-l', mountPoint]).catch(() => undefined);
  }
});

const connect = (repo: string) => call(app, 'POST', '/api/v1/code/connect', {
  git_url: `${stack.gitUrl}/${repo}.git`, access_token: stack.gitToken, project_id: projectId, request_id: randomUUID(),
});

describe('R4: the sandbox disk full', () => {
  it('507 at admission; a clone that runs out of disk sweeps its host\'s expired sandboxes and tries once more', async () => {
    const kept = `r4-kept-${randomUUID().slice(0, 8)}`;
    await createBareRepo(stack.gitRoot, kept, { 'data.bin': randomBytes(700_000) });
    // A light tip (kept by admission's probe, ~200 KB) over more history: the clone needs room the probe did not.
    const next = `r4-next-${randomUUID().slice(0, 8)}`;
    await createRepoWithHeavyHistory(stack.gitRoot, next, { 'old.bin': randomBytes(300_000) }, { 'tip.bin': randomBytes(200_000) });

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
    const done = await waitForState(app, admitted.body.workflow_id, (s) => s.cloneStatus === 'COMPLETED' || s.cloneStatus === 'FAILED', 60_000);
    expect(done).toMatchObject({ cloneStatus: 'COMPLETED', cloneAttempts: 2 });
    // The expired sandbox made the room: swept, its row left for its workflow to settle.
    expect(existsSync(path.join(mountPoint, projectId, first.body.repo_id))).toBe(false);
    const [row] = await app.sql<{ clone_status: string }[]>`select clone_status from code_repos where id = ${admitted.body.repo_id}`;
    expect(row!.clone_status).toBe('COMPLETED');
    console.log(`R4 invariants: ${await checkInvariants(app, [projectId])}`);
    await cleanUpAll(app, [first.body.workflow_id, admitted.body.workflow_id]);
  }, 120_000);
});
