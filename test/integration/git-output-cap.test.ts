import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { createBareRepo, createRepoWithManyRefs } from '../support/git-repos.js';
import { call, captureLogs, startAppUnderTest, waitForState, type AppUnderTest } from '../support/app-under-test.js';

const stack = inject('stack');
const logs = captureLogs();
let app: AppUnderTest;
let projectId: string;

/** ~105 kB: far above an ordinary repository's ref and tree listings, far below 4000 refs' (~250 kB). */
const CAP_MB = '0.1';
const REFS = 4000;

beforeAll(async () => {
  app = await startAppUnderTest(
    stack,
    { GIT_MAX_OUTPUT_MB: CAP_MB, SANDBOX_TTL_SECONDS: '3600' },
    { logger: logs.logger },
  );
  projectId = (await call(app, 'POST', '/api/v1/projects', { name: 'output-cap' })).body.id;
});

afterAll(async () => {
  await app?.stop();
});

const connect = (gitUrl: string) =>
  call(app, 'POST', '/api/v1/code/connect', {
    git_url: gitUrl,
    access_token: stack.gitToken,
    project_id: projectId,
    request_id: randomUUID(),
  });

describe('git output read into memory is capped (GIT_MAX_OUTPUT_MB)', () => {
  it(`a ref listing past the cap (${REFS} refs) kills git: 502 git_failed, not retried, and the worker carries on`, async () => {
    const name = `many-refs-${randomUUID().slice(0, 8)}`;
    await createRepoWithManyRefs(stack.gitRoot, name, REFS);
    const res = await connect(`${stack.gitUrl}/${name}.git`);
    expect(res.status).toBe(502);
    expect(res.body.detail).toMatchObject({
      error: 'git_failed',
      message: 'The repository lists more refs or files than this service reads (GIT_MAX_OUTPUT_MB)',
    });
    // Killed at the cap by us, once: a non-retryable failure is not asked again.
    const failures = logs.lines().filter((l) => l.msg === 'git failed');
    expect(failures.map((l) => [l.gitReason, l.code])).toEqual([['output', 'git_failed']]);

    // The same worker still clones an ordinary repository, under the same cap.
    const small = `small-${randomUUID().slice(0, 8)}`;
    await createBareRepo(stack.gitRoot, small, { 'README.md': 'fine\n' });
    const ok = await connect(`${stack.gitUrl}/${small}.git`);
    expect(ok.status).toBe(201);
    await waitForState(app, ok.body.workflow_id, (s) => s.cloneStatus === 'COMPLETED');
  });
});
