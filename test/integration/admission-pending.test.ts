import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { createLogger } from '../../src/config/logger.js';
import { startWorkerService, type WorkerService } from '../../src/worker/start-worker.js';
import { createBareRepo } from '../support/git-repos.js';
import { startAppUnderTest, waitForState, type AppUnderTest } from '../support/app-under-test.js';

const stack = inject('stack');
/** Far above ADMISSION_WAIT_SECONDS (1): a request still unanswered by then hangs. */
const ANSWER_BOUND_MS = 15_000;
/** Above what Temporal lets wait on one run at once (10 updates in flight by default). */
const REPEATS = 14;
let app: AppUnderTest;
let worker: WorkerService | undefined;
let token: string;
let projectId: string;
let repo: string;

beforeAll(async () => {
  // No worker yet: nothing admits, every connect outlasts the wait.
  app = await startAppUnderTest(stack, { ADMISSION_WAIT_SECONDS: '1', SANDBOX_TTL_SECONDS: '3600' }, { worker: false });
  token = await app.tokenFor();
  repo = `pending-${randomUUID().slice(0, 8)}`;
  await createBareRepo(stack.gitRoot, repo, { 'README.md': 'admitted at last\n' });
  projectId = (await send('/api/v1/projects', { name: 'pending admission' })).body.id;
});

afterAll(async () => {
  await worker?.stop();
  await app?.stop();
});

async function send(route: string, body: unknown) {
  const res = await fetch(`${app.api.url}${route}`, {
    method: 'POST',
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
    body: JSON.stringify(body),
    signal: AbortSignal.timeout(ANSWER_BOUND_MS),
  });
  return {
    status: res.status,
    body: (await res.json()) as Record<string, string> & { id: string; repo_id: string; workflow_id: string },
    headers: res.headers,
  };
}

describe('a request sent again while no worker admits it (the documented answer to a 202)', () => {
  const request = () => ({
    git_url: `${stack.gitUrl}/${repo}.git`,
    access_token: stack.gitToken,
    project_id: projectId,
    request_id: requestId,
  });
  const requestId = randomUUID();

  it(`is answered 202 each time, ${REPEATS} times in a row, never left hanging`, async () => {
    for (let i = 0; i < REPEATS; i++) {
      const res = await send('/api/v1/code/connect', request());
      expect({ attempt: i, status: res.status }).toEqual({ attempt: i, status: 202 });
      expect(res.headers.get('retry-after')).toMatch(/^\d+$/);
    }
  });

  it(`answers in time even when the same request_id comes with ${REPEATS} other tokens (each its own update, past what Temporal holds)`, async () => {
    const other = randomUUID();
    for (let i = 0; i < REPEATS; i++) {
      const res = await send('/api/v1/code/connect', {
        ...request(),
        request_id: other,
        access_token: `${stack.gitToken}-${i}`,
      });
      expect({ attempt: i, status: res.status }).toEqual({ attempt: i, status: 202 });
    }
  });

  it('and, once a worker runs, the same request is admitted: one workflow, one repository', async () => {
    worker = await startWorkerService(app.config, createLogger({ level: 'silent' }));
    const res = await send('/api/v1/code/connect', request());
    expect(res.status).toBe(201);
    await waitForState(app, res.body.workflow_id, (s) => s.cloneStatus === 'COMPLETED');
    const rows = await app.sql`select id from code_repos where project_id = ${projectId}`;
    expect(rows.map((r) => r.id)).toEqual([res.body.repo_id]);
    expect((await send('/api/v1/code/connect', request())).body.repo_id).toBe(res.body.repo_id);
  });
});
