import { randomBytes, randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { cleanupSignal } from '../../src/shared/connect-repository.js';
import { createBareRepo, createRepoWithHeavyHistory } from '../support/git-repos.js';
import { call, captureLogs, startAppUnderTest, waitForState, type AppUnderTest } from '../support/app-under-test.js';

const stack = inject('stack');
const logs = captureLogs();
let app: AppUnderTest;
let projectId: string;

// The budget is far above these repositories: any repository_too_large here would be a false one.
beforeAll(async () => {
  app = await startAppUnderTest(
    stack,
    { MAX_REPO_SIZE_MB: '20', SANDBOX_TTL_SECONDS: '3600' },
    { logger: logs.logger },
  );
  projectId = (await call(app, 'POST', '/api/v1/projects', { name: 'upstream-failures' })).body.id;
});

afterAll(async () => {
  await app?.stop();
});

const connect = (gitUrl: string, requestId: string) =>
  call(app, 'POST', '/api/v1/code/connect', {
    git_url: gitUrl,
    access_token: stack.gitToken,
    project_id: projectId,
    request_id: requestId,
  });

/** When the Git server cut a response under this key. */
const dropTimes = async (key: string): Promise<number[]> =>
  (await fetch(`${stack.gitUrl}/_requests/${key}`)).json() as Promise<number[]>;

const gitWarnings = (repoId: string) =>
  logs.lines().filter((l) => l.level === 40 && l.msg === 'git failed' && l.repoId === repoId);

/** Each drop was logged with git's own account of it, tied to the request, without the token. */
function expectDropsLogged(repoId: string, requestId: string, drops: number) {
  const warnings = gitWarnings(repoId);
  expect(warnings).toHaveLength(drops);
  for (const warning of warnings) {
    expect(warning).toMatchObject({ requestId, code: 'upstream_unavailable', gitReason: 'failed' });
    expect(warning.stderrTail).toMatch(/curl 18|transfer closed|early EOF/);
  }
  expect(logs.text()).not.toContain(stack.gitToken);
}

describe('a connection dropped mid-pack', () => {
  it('does not read as too large at admission: the probe is retried, the request admitted and cloned', async () => {
    const repo = `drop-probe-${randomUUID().slice(0, 8)}`;
    // Random bytes do not compress: the probe's pack is ~3 MB, so a cut at 500 kB is mid-pack.
    await createBareRepo(stack.gitRoot, repo, { 'README.md': 'drop me\n', 'data.bin': randomBytes(3_000_000) });
    const key = randomUUID();
    const requestId = randomUUID();
    const res = await connect(`${stack.gitUrl}/drop/${key}/500000/2/${repo}.git`, requestId);
    expect(res.status).toBe(201);
    expect(await dropTimes(key)).toHaveLength(2);
    await waitForState(app, res.body.workflow_id, (s) => s.cloneStatus === 'COMPLETED');
    expectDropsLogged(res.body.repo_id, requestId, 2);
    await app.temporal.workflow.getHandle(res.body.workflow_id).signal(cleanupSignal);
  });

  it('does not fail the clone as too large: the clone is retried and completes', async () => {
    const repo = `drop-clone-${randomUUID().slice(0, 8)}`;
    // A light tip (the probe's pack stays under the cut) over a heavy history (the clone's does not).
    await createRepoWithHeavyHistory(
      stack.gitRoot,
      repo,
      { 'old.bin': randomBytes(3_000_000) },
      { 'README.md': 'tip\n' },
    );
    const key = randomUUID();
    const requestId = randomUUID();
    const res = await connect(`${stack.gitUrl}/drop/${key}/500000/1/${repo}.git`, requestId);
    expect(res.status).toBe(201);
    const done = await waitForState(app, res.body.workflow_id, (s) => s.cloneStatus === 'COMPLETED');
    expect(done).toMatchObject({ error: null, cloneAttempts: 1 });
    expect(await dropTimes(key)).toHaveLength(1);
    expectDropsLogged(res.body.repo_id, requestId, 1);
    await app.temporal.workflow.getHandle(res.body.workflow_id).signal(cleanupSignal);
  });
});

describe('a Git server that rate limits', () => {
  it.each([429, 403])(
    'answers %i with rate limit text as 429 rate_limited, after the retries, not invalid_credentials',
    async (status) => {
      const repo = `throttled-${randomUUID().slice(0, 8)}`;
      await createBareRepo(stack.gitRoot, repo, { 'README.md': 'throttled\n' });
      const requestId = randomUUID();
      const res = await connect(`${stack.gitUrl}/throttle/${status}/${repo}.git`, requestId);
      expect(res.status).toBe(429);
      expect(res.body).toEqual({
        detail: { error: 'rate_limited', message: 'The Git server is rate limiting requests; try again later' },
      });
      // git never shows the server's Retry-After, so the API does not invent one.
      expect(res.headers.get('retry-after')).toBeNull();
      const warnings = logs
        .lines()
        .filter((l) => l.level === 40 && l.msg === 'git failed' && l.requestId === requestId);
      expect(warnings).toHaveLength(3);
      for (const warning of warnings) expect(warning.stderrTail).toContain(`returned error: ${status}`);
    },
  );
});
