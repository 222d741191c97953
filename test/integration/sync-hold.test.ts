import { execFile, spawn } from 'node:child_process';
import { randomBytes, randomUUID } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { mkdtemp, readdir, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, inject, it, vi } from 'vitest';
import { createCleanupActivities } from '../../src/activities/cleanup.js';
import { recordPacksBefore } from '../../src/activities/sync-recovery.js';
import { createLogger } from '../../src/config/logger.js';
import { makeReadOnly, makeWritable } from '../../src/sandbox/sandbox.js';
import { cleanupSignal } from '../../src/shared/connect-repository.js';
import { activitySettingsOf } from '../../src/worker/start-worker.js';
import { call, startAppUnderTest, waitForState, type AppUnderTest } from '../support/app-under-test.js';
import { createBareRepo, pushCommit, revParse } from '../support/git-repos.js';

const stack = inject('stack');
const run = promisify(execFile);
const TTL_SECONDS = 60;
let app: AppUnderTest;
let projectId: string;

beforeAll(async () => {
  // Syncs as often as the TTL allows (both at the minimum); room for twenty rewrites kept unmaintained.
  app = await startAppUnderTest(stack, { SANDBOX_TTL_SECONDS: String(TTL_SECONDS), MAX_REPO_SIZE_MB: '40' });
  projectId = (await call(app, 'POST', '/api/v1/projects', { name: 'sync-hold' })).body.id;
});

afterAll(async () => {
  await app?.stop();
});

/** A served repository, connected and cloned; `behaviour` is a Git server path prefix such as `/slow/60000`. */
async function connected(bare: string, name: string, o: { behaviour?: string; syncIntervalSeconds?: number } = {}) {
  const res = await call(app, 'POST', '/api/v1/code/connect', {
    git_url: `${stack.gitUrl}/count/${randomUUID()}${o.behaviour ?? ''}/${name}.git`,
    access_token: stack.gitToken,
    project_id: projectId,
    ...(o.syncIntervalSeconds ? { sync_interval_seconds: o.syncIntervalSeconds } : {}),
  });
  expect(res.status).toBe(201);
  const state = await waitForState(app, res.body.workflow_id, (s) => s.cloneStatus === 'COMPLETED');
  return {
    repoId: res.body.repo_id as string,
    workflowId: res.body.workflow_id as string,
    sandbox: state.sandboxPath!,
  };
}

const syncedCount = async (repoId: string) =>
  (
    await app.sql`select 1 from audit_log where repo_id = ${repoId} and action = 'repo.synced' and (metadata->>'changed')::boolean`
  ).length;

async function syncOnce(repo: { repoId: string; workflowId: string }, count: number) {
  expect((await call(app, 'POST', `/api/v1/code/repos/${repo.repoId}/sync`)).status).toBe(202);
  await vi.waitFor(async () => expect(await syncedCount(repo.repoId)).toBeGreaterThanOrEqual(count), {
    timeout: 45_000,
    interval: 100,
  });
  await waitForState(app, repo.workflowId, (s) => s.stage === 'ready');
}

/** What the filesystem allocates for the directory (blocks, not file lengths). */
const diskUse = async (dir: string) => Number((await run('du', ['-sB1', dir])).stdout.split('\t')[0]);

describe('a sync holds its clone', () => {
  it("a disk shortage's sweep of expired sandboxes during a slow sync, the row past its TTL: the sync completes and the clone stays", async () => {
    const name = `hold-${randomUUID().slice(0, 8)}`;
    const bare = await createBareRepo(stack.gitRoot, name, { 'README.md': 'one\n' });
    // Served at 60 KB/s: the push below takes seconds to fetch.
    const repo = await connected(bare, name, { behaviour: '/slow/60000', syncIntervalSeconds: TTL_SECONDS });
    await pushCommit(bare, { 'data.bin': randomBytes(600_000) });
    expect((await call(app, 'POST', `/api/v1/code/repos/${repo.repoId}/sync`)).status).toBe(202);
    await vi.waitFor(
      async () => {
        expect((await call(app, 'GET', `/api/v1/code/repos/${repo.repoId}/status`)).body).toMatchObject({
          clone_status: 'SYNCING',
          bytes_received: expect.any(Number),
        });
      },
      { timeout: 30_000, interval: 100 },
    );
    // As a scheduled sync starts with sync_interval_seconds == SANDBOX_TTL_SECONDS: the row's last change a TTL ago.
    await app.sql`update code_repos set updated_at = now() - make_interval(secs => ${TTL_SECONDS * 2}) where id = ${repo.repoId}`;

    // The host's sweep, as a clone elsewhere on it that ran out of disk runs it.
    const sweep = createCleanupActivities({
      sql: app.sql,
      keys: app.keys,
      logger: createLogger({ level: 'silent' }),
      settings: activitySettingsOf(app.config),
    });
    const { removed } = await sweep.sweepSandboxes({ expired: true });
    expect(removed.filter((dir) => repo.sandbox.startsWith(dir))).toEqual([]);
    expect(existsSync(repo.sandbox)).toBe(true);

    await vi.waitFor(async () => expect(await syncedCount(repo.repoId)).toBe(1), { timeout: 45_000, interval: 100 });
    await waitForState(app, repo.workflowId, (s) => s.stage === 'ready');
    expect((await call(app, 'GET', `/api/v1/code/repos/${repo.repoId}/status`)).body).toMatchObject({
      clone_status: 'COMPLETED',
      head_commit: await revParse(bare, 'refs/heads/main'),
      error_code: null,
    });
    expect(readFileSync(path.join(repo.sandbox, 'data.bin')).length).toBe(600_000);
    await app.temporal.workflow.getHandle(repo.workflowId).signal(cleanupSignal);
  });

  it("the retry's restore leaves an earlier attempt's index.lock and tmp pack alone until that attempt's git is gone", async () => {
    const name = `stale-${randomUUID().slice(0, 8)}`;
    const bare = await createBareRepo(stack.gitRoot, name, { 'README.md': 'one\n' });
    const repo = await connected(bare, name);
    await pushCommit(bare, { 'README.md': 'two\n' });
    // What the earlier attempt is in the middle of: its marker, git's lock, a pack being received.
    await makeWritable(repo.sandbox);
    await recordPacksBefore(repo.sandbox);
    await writeFile(path.join(repo.sandbox, '.git', 'index.lock'), '');
    await writeFile(path.join(repo.sandbox, '.git', 'objects', 'pack', 'tmp_pack_earlier'), randomBytes(1000));
    await makeReadOnly(repo.sandbox);
    // The earlier attempt's git, still running in the clone: a shell under git's name that, told to stop, says what it still found.
    const bin = await mkdtemp(path.join(tmpdir(), 'rc-git-'));
    await symlink('/bin/sh', path.join(bin, 'git'));
    const seen = path.join(bin, 'seen');
    const earlier = spawn(
      path.join(bin, 'git'),
      [
        '-c',
        `trap 'ls .git/index.lock .git/objects/pack/tmp_pack_earlier > ${seen} 2>&1; exit 0' TERM; while :; do sleep 0.1; done`,
      ],
      { cwd: repo.sandbox, stdio: 'ignore' },
    );
    let ended = false;
    earlier.on('exit', () => {
      ended = true;
    });
    try {
      await syncOnce(repo, 1);
      await vi.waitFor(() => expect(ended).toBe(true), { timeout: 5000, interval: 50 });
      // Both were still there when it was told to stop; gone once it had.
      expect(readFileSync(seen, 'utf8').trim().split('\n')).toEqual([
        '.git/index.lock',
        '.git/objects/pack/tmp_pack_earlier',
      ]);
      expect(existsSync(path.join(repo.sandbox, '.git', 'index.lock'))).toBe(false);
      expect(
        (await readdir(path.join(repo.sandbox, '.git', 'objects', 'pack'))).filter((f) => f.startsWith('tmp_')),
      ).toEqual([]);
      expect((await call(app, 'GET', `/api/v1/code/repos/${repo.repoId}`)).body.head_commit).toBe(
        await revParse(bare, 'refs/heads/main'),
      );
      expect(readFileSync(path.join(repo.sandbox, 'README.md'), 'utf8')).toBe('two\n');
    } finally {
      earlier.kill('SIGKILL');
      await rm(bin, { recursive: true, force: true });
      await app.temporal.workflow.getHandle(repo.workflowId).signal(cleanupSignal);
    }
  });
});

describe('maintenance of kept clones', () => {
  it('twenty force-pushed rewrites, a sync each: the clone takes no more disk than a fresh clone of the same commit (+10 %)', async () => {
    const name = `rewrite-${randomUUID().slice(0, 8)}`;
    const bare = await createBareRepo(stack.gitRoot, name, { 'README.md': 'one\n' });
    // Other branches and tags the clone fetched: only the followed one is kept.
    await run('git', ['--git-dir', bare, 'branch', 'other', 'main']);
    await run('git', ['--git-dir', bare, 'tag', 'v1', 'main']);
    const repo = await connected(bare, name);
    const work = await mkdtemp(path.join(tmpdir(), 'rc-rewrite-'));
    const git = (...args: string[]) =>
      run('git', ['-C', work, '-c', 'user.name=t', '-c', 'user.email=t@example.com', ...args]);
    try {
      await run('git', ['clone', '--quiet', bare, work]);
      for (let i = 1; i <= 20; i++) {
        // Each time an unrelated commit: nothing of the one before stays reachable.
        await git('checkout', '--quiet', '--orphan', `rewrite-${i}`);
        await git('rm', '-rq', '--cached', '.');
        await writeFile(path.join(work, 'blob.bin'), randomBytes(1_000_000));
        await git('add', 'blob.bin');
        await git('commit', '-qm', `rewrite ${i}`);
        await git('push', '--quiet', '--force', 'origin', 'HEAD:refs/heads/main');
        await syncOnce(repo, i);
      }
    } finally {
      await rm(work, { recursive: true, force: true });
    }
    const head = await revParse(bare, 'refs/heads/main');
    expect((await call(app, 'GET', `/api/v1/code/repos/${repo.repoId}`)).body.head_commit).toBe(head);

    // A fresh clone of the same commit, without the other branch and tag, made by the service the same way.
    await run('git', ['--git-dir', bare, 'branch', '-D', 'other']);
    await run('git', ['--git-dir', bare, 'tag', '-d', 'v1']);
    const fresh = await connected(bare, name);
    const [kept, baseline] = [await diskUse(repo.sandbox), await diskUse(fresh.sandbox)];
    expect(baseline).toBeGreaterThan(1_000_000);
    expect(kept).toBeLessThanOrEqual(baseline * 1.1);
    expect((await run('git', ['-C', repo.sandbox, 'for-each-ref', '--format=%(refname)'])).stdout.trim()).toBe(
      'refs/heads/main',
    );
    await app.temporal.workflow.getHandle(repo.workflowId).signal(cleanupSignal);
    await app.temporal.workflow.getHandle(fresh.workflowId).signal(cleanupSignal);
    // Twenty pushes and syncs in a row: ~22 s alone, three times that beside the rest of the suite on 2 cores.
  }, 180_000);
});
