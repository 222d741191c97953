import { execFile } from 'node:child_process';
import { randomBytes, randomUUID } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { cleanupSignal } from '../../src/shared/connect-repository.js';
import { call, startAppUnderTest, waitForState, type AppUnderTest } from '../support/app-under-test.js';
import { createBareRepo, pushCommit } from '../support/git-repos.js';

const stack = inject('stack');
const run = promisify(execFile);
let app: AppUnderTest;
let projectId: string;
let repo: string;

beforeAll(async () => {
  app = await startAppUnderTest(stack, { SANDBOX_TTL_SECONDS: '3600' });
  projectId = (await call(app, 'POST', '/api/v1/projects', { name: 'one download' })).body.id;
  // History worth fetching, a tip worth probing, and a second branch and a tag a full clone brings too.
  repo = `history-${randomUUID().slice(0, 8)}`;
  const bare = await createBareRepo(stack.gitRoot, repo, { 'first.bin': randomBytes(600_000) });
  await pushCommit(bare, { 'second.bin': randomBytes(600_000) });
  await pushCommit(bare, { 'tip.bin': randomBytes(300_000), 'README.md': 'tip\n' });
  await run('git', ['--git-dir', bare, 'branch', 'feature', 'HEAD~1']);
  await run('git', ['--git-dir', bare, 'tag', 'v1', 'HEAD~2']);
});

afterAll(async () => {
  await app?.stop();
});

const bytesSent = async (key: string): Promise<number> =>
  (await (await fetch(`${stack.gitUrl}/_bytes/${key}`)).json()) as number;

describe('one download per connect', () => {
  it('the clone deepens what the size probe fetched: the Git server sends at most 1.05 × one plain clone', async () => {
    const key = randomUUID();
    const res = await call(app, 'POST', '/api/v1/code/connect', {
      git_url: `${stack.gitUrl}/count/${key}/${repo}.git`,
      access_token: stack.gitToken,
      project_id: projectId,
      request_id: randomUUID(),
    });
    expect(res.status).toBe(201);
    const state = await waitForState(app, res.body.workflow_id, (s) => s.cloneStatus === 'COMPLETED');
    const service = await bytesSent(key);

    const plainKey = randomUUID();
    const plain = await mkdtemp(path.join(tmpdir(), 'rc-plain-'));
    try {
      const url = new URL(`${stack.gitUrl}/count/${plainKey}/${repo}.git`);
      url.username = 'x';
      url.password = stack.gitToken;
      await run('git', ['clone', '--quiet', '--no-checkout', url.href, path.join(plain, 'clone')]);
    } finally {
      await rm(plain, { recursive: true, force: true });
    }
    const raw = await bytesSent(plainKey);
    expect(raw).toBeGreaterThan(1_400_000);
    expect(service).toBeLessThanOrEqual(1.05 * raw);

    // What a full clone holds: the whole history, every branch and tag, nothing shallow.
    const repoDir = state.sandboxPath!;
    expect(existsSync(path.join(repoDir, '.git', 'shallow'))).toBe(false);
    const git = (...args: string[]) => run('git', ['-C', repoDir, ...args]).then((r) => r.stdout.trim());
    expect(await git('rev-list', '--count', 'HEAD')).toBe('3');
    expect(await git('for-each-ref', '--format=%(refname)', 'refs/heads', 'refs/tags')).toBe(
      'refs/heads/feature\nrefs/heads/main\nrefs/tags/v1',
    );
    await app.temporal.workflow.getHandle(res.body.workflow_id).signal(cleanupSignal);
  });
});
