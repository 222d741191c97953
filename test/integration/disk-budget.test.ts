import { execFile, spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdir, rm, statfs } from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { createBareRepo } from '../support/git-repos.js';
import { call, startAppUnderTest, waitForState, type AppUnderTest } from '../support/app-under-test.js';

const run = promisify(execFile);
const stack = inject('stack');
const MIB = 1024 * 1024;
const LIMIT_MB = 100;
let app: AppUnderTest;
let projectId: string;
let image: string;
let mountPoint: string;

/** The sandboxes on an ext4 filesystem of their own (4 KiB blocks, as real disks have), so its blocks can be read. */
async function mountSandboxFilesystem(): Promise<void> {
  image = path.join(stack.workDir, `sandbox-${randomUUID()}.img`);
  mountPoint = path.join(stack.workDir, `sandbox-${randomUUID()}`);
  await run('truncate', ['-s', '512M', image]);
  await run('mkfs.ext4', ['-q', '-b', '4096', '-N', '300000', image]);
  await mkdir(mountPoint);
  await run('mount', ['-o', 'loop', image, mountPoint]);
}

const usedBytes = async () => {
  const fs = await statfs(mountPoint);
  return (fs.blocks - fs.bfree) * fs.bsize;
};

const git = (args: string[], input?: string) =>
  new Promise<string>((resolve, reject) => {
    const child = spawn('git', args, {
      env: {
        ...process.env,
        GIT_AUTHOR_NAME: 't',
        GIT_AUTHOR_EMAIL: 't@e',
        GIT_COMMITTER_NAME: 't',
        GIT_COMMITTER_EMAIL: 't@e',
      },
      stdio: [input === undefined ? 'ignore' : 'pipe', 'pipe', 'ignore'],
    });
    let out = '';
    child.stdout!.on('data', (c: Buffer) => (out += c.toString()));
    child.on('error', reject);
    child.on('close', (code) =>
      code === 0 ? resolve(out.trim()) : reject(new Error(`git ${args[0]} exited ${code}`)),
    );
    child.stdin?.end(input);
  });

/**
 * A bare repository whose tip holds `count` top-level directories, each the same subtree `chain`
 * deep ending in `file`: identical objects, so it packs to a few MB however much it checks out to.
 */
async function createWideRepo(name: string, count: number, chain: number, file: string): Promise<void> {
  const bare = path.join(stack.gitRoot, `${name}.git`);
  await git(['init', '--quiet', '--bare', bare]);
  const at = ['--git-dir', bare];
  let tree = await git(
    [...at, 'mktree'],
    `100644 blob ${await git([...at, 'hash-object', '-w', '--stdin'], file)}\tf\n`,
  );
  for (let i = 1; i < chain; i += 1) tree = await git([...at, 'mktree'], `040000 tree ${tree}\td\n`);
  const root = await git(
    [...at, 'mktree'],
    Array.from({ length: count }, (_, i) => `040000 tree ${tree}\tdir${i}\n`).join(''),
  );
  const commit = await git([...at, 'commit-tree', root, '-m', 'wide']);
  await git([...at, 'update-ref', 'refs/heads/main', commit]);
  await git([...at, 'symbolic-ref', 'HEAD', 'refs/heads/main']);
}

/** Connects, reading the sandbox filesystem's blocks every 20 ms until the outcome is known. */
async function connectSampled(name: string) {
  const baseline = await usedBytes();
  let largest = 0;
  let samples = 0;
  const sampler = setInterval(() => {
    void usedBytes().then((used) => {
      samples += 1;
      largest = Math.max(largest, used - baseline);
    });
  }, 20);
  try {
    const res = await call(app, 'POST', '/api/v1/code/connect', {
      git_url: `${stack.gitUrl}/${name}.git`,
      access_token: stack.gitToken,
      project_id: projectId,
      request_id: randomUUID(),
    });
    const outcome =
      res.status === 201
        ? (
            await waitForState(
              app,
              res.body.workflow_id,
              (s) => s.cloneStatus === 'FAILED' || s.cloneStatus === 'COMPLETED',
              120_000,
            )
          ).error
        : res.body.detail;
    largest = Math.max(largest, (await usedBytes()) - baseline);
    return { res, outcome, largest, samples };
  } finally {
    clearInterval(sampler);
  }
}

beforeAll(async () => {
  await mountSandboxFilesystem();
  app = await startAppUnderTest(stack, {
    SANDBOX_BASE_PATH: mountPoint,
    MAX_REPO_SIZE_MB: String(LIMIT_MB),
    SANDBOX_TTL_SECONDS: '3600',
  });
  projectId = (await call(app, 'POST', '/api/v1/projects', { name: 'disk-budget' })).body.id;
}, 180_000);

afterAll(async () => {
  await app?.stop();
  if (mountPoint) await run('umount', [mountPoint]).catch(() => {});
  if (image) await rm(image, { force: true });
});

describe('the budget counts blocks and inodes, not file lengths', () => {
  it('refuses 100 000 one-byte files, each in its own chain of 10 directories, without the disk ever holding more than the limit + 5 %', async () => {
    const name = `deep-files-${randomUUID().slice(0, 8)}`;
    await createWideRepo(name, 100_000, 10, 'x');
    const { res, largest, samples } = await connectSampled(name);
    expect(res.status).toBe(413);
    expect(res.body.detail).toMatchObject({
      error: 'repository_too_large',
      budget: 'disk',
      limit: LIMIT_MB,
      limit_mb: LIMIT_MB,
    });
    expect(res.body.detail.measured).toBeGreaterThan(LIMIT_MB);
    expect(res.body.detail.message).toMatch(new RegExp(`exceeds ${LIMIT_MB}MB limit: it needs [\\d.]+MB of disk`));
    expect(samples).toBeGreaterThan(0);
    expect(largest).toBeLessThanOrEqual(1.05 * LIMIT_MB * MIB);
  });

  it('refuses 60 000 directories each holding one empty file, within the limit + 5 % at every sample', async () => {
    const name = `empty-dirs-${randomUUID().slice(0, 8)}`;
    await createWideRepo(name, 60_000, 1, '');
    const { res, largest, samples } = await connectSampled(name);
    expect(res.status).toBe(413);
    expect(res.body.detail).toMatchObject({ error: 'repository_too_large', budget: 'disk', limit_mb: LIMIT_MB });
    expect(samples).toBeGreaterThan(0);
    expect(largest).toBeLessThanOrEqual(1.05 * LIMIT_MB * MIB);
  });

  it('still connects an ordinary repository, and reports the blocks it takes as its size', async () => {
    const name = `ordinary-${randomUUID().slice(0, 8)}`;
    await createBareRepo(
      stack.gitRoot,
      name,
      Object.fromEntries(
        Array.from({ length: 50 }, (_, i) => [`src/m${i % 5}/f${i}.ts`, `export const v${i} = ${i};\n`]),
      ),
    );
    const { res, outcome } = await connectSampled(name);
    expect(res.status).toBe(201);
    expect(outcome).toBeNull();
    const status = await call(app, 'GET', `/api/v1/code/repos/${res.body.repo_id}/status`);
    expect(status.body.clone_status).toBe('COMPLETED');
    // 50 files and 6 directories of 4 KiB blocks at least: far more than their 1.4 kB of contents.
    expect(status.body.repository_size_mb).toBeGreaterThan((56 * 4096) / MIB);
  });
});
