import { randomBytes, randomUUID } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { checkoutHead } from '../../src/git/checkout.js';
import { fetchRepository, type RemoteAccess } from '../../src/git/operations.js';
import { pinRemote } from '../../src/git/remote-guard.js';
import type { RepoError } from '../../src/shared/errors.js';
import type { GitProcessError } from '../../src/git/run-git.js';
import { createBareRepo } from '../support/git-repos.js';

const stack = inject('stack');
const MIB = 1024 * 1024;
let workDir: string;
let access: RemoteAccess;

// A 3 MB file of random bytes: neither its pack nor its checkout can stay under a 1 MB cap.
beforeAll(async () => {
  const name = `capped-${randomUUID().slice(0, 8)}`;
  await createBareRepo(stack.gitRoot, name, { 'big.bin': randomBytes(3_000_000) });
  workDir = await mkdtemp(path.join(stack.workDir, 'cap-'));
  access = {
    remote: await pinRemote(`${stack.gitUrl}/${name}.git`, { allowLoopback: true, allowedPorts: [443] }),
    token: stack.gitToken,
    allowHttp: true,
    idleTimeoutMs: 30_000,
  };
});

afterAll(async () => {
  await rm(workDir, { recursive: true, force: true });
});

/** The size watch sees nothing, so only the kernel's per-file cap can stop git. */
const blindWatch = { measure: async () => ({ bytes: 0, inodes: 0 }), limitInodes: Number.MAX_SAFE_INTEGER };
const failureOf = (work: Promise<unknown>) =>
  work.then(
    () => expect.unreachable('git should have been stopped'),
    (err: unknown) => err as RepoError,
  );

describe('the per-file size cap (prlimit --fsize), proven without the size watch', () => {
  it('a fetch whose pack reaches the cap is repository_too_large, and git said why', async () => {
    const err = await failureOf(
      fetchRepository({
        ...access,
        ...blindWatch,
        targetDir: path.join(workDir, 'fetch'),
        shallow: false,
        limitBytes: MIB,
      }),
    );
    expect(err.code).toBe('repository_too_large');
    expect((err.cause as GitProcessError).stderr).toMatch(/File too large/);
  });

  it('a checkout that writes past the cap is repository_too_large (git killed by SIGXFSZ)', async () => {
    const repoDir = path.join(workDir, 'checkout');
    await fetchRepository({ ...access, ...blindWatch, targetDir: repoDir, shallow: false, limitBytes: 10 * MIB });
    const err = await failureOf(checkoutHead(repoDir, { ...blindWatch, idleTimeoutMs: 30_000, limitBytes: MIB }));
    expect(err.code).toBe('repository_too_large');
    expect((err.cause as GitProcessError).signal).toBe('SIGXFSZ');
  });
});
