import type { ChildProcess } from 'node:child_process';
import { randomBytes, randomUUID } from 'node:crypto';
import { readdir } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it, vi } from 'vitest';
import { exited } from '../../src/dev-stack/child-process.js';
import { call, configEnv, startAppUnderTest, waitForState, type AppUnderTest } from '../support/app-under-test.js';
import { createRepoWithHeavyHistory } from '../support/git-repos.js';
import { killAll, processesMentioning, startEntryPoint } from '../support/processes.js';
import { checkInvariants, cleanUpAll } from './invariants.js';

const CLONES = 20;
const stack = inject('stack');
let app: AppUnderTest;
let projectId: string;
const workers: ChildProcess[] = [];

const startWorker = async () =>
  (
    await startEntryPoint(
      workers,
      'src/worker/main.ts',
      { ...configEnv(app.config), LOG_LEVEL: 'info' },
      'worker running',
    )
  ).child;

beforeAll(async () => {
  // The API here; the worker its own process, to be killed. Room for all 20 clones at once.
  app = await startAppUnderTest(
    stack,
    { SANDBOX_TTL_SECONDS: '3600', WORKER_CONCURRENCY: String(CLONES) },
    { worker: false },
  );
  projectId = (await call(app, 'POST', '/api/v1/projects', { name: 'r1' })).body.id;
});

afterAll(async () => {
  await killAll(workers);
  await app?.stop();
});

describe('R1: the worker process SIGKILLed while 20 clones are in flight', () => {
  it('a new worker completes all 20: one row each, no orphan directory, no git left', async () => {
    const name = `r1-${randomUUID().slice(0, 8)}`;
    await createRepoWithHeavyHistory(
      stack.gitRoot,
      name,
      { 'old.bin': randomBytes(2_000_000) },
      { 'README.md': 'r1\n' },
    );
    const first = await startWorker();
    const admitted = await Promise.all(
      Array.from({ length: CLONES }, async () => {
        const requestId = randomUUID();
        const res = await call(app, 'POST', '/api/v1/code/connect', {
          git_url: `${stack.gitUrl}/slow/300000/${name}.git`,
          access_token: stack.gitToken,
          project_id: projectId,
          request_id: requestId,
        });
        expect(res.status).toBe(201);
        return { requestId, repoId: res.body.repo_id as string, workflowId: res.body.workflow_id as string };
      }),
    );
    await Promise.all(
      admitted.map((a) => waitForState(app, a.workflowId, (s) => s.stage === 'cloning' && (s.bytesReceived ?? 0) > 0)),
    );

    first.kill('SIGKILL');
    await exited(first);
    // Every git dies with its worker (setpriv --pdeathsig): nothing keeps writing into the sandboxes.
    await vi.waitFor(async () => expect(await processesMentioning(app.config.SANDBOX_BASE_PATH)).toEqual([]), {
      timeout: 5000,
      interval: 50,
    });
    await startWorker();

    await Promise.all(
      admitted.map((a) => waitForState(app, a.workflowId, (s) => s.cloneStatus === 'COMPLETED', 120_000)),
    );
    const rows = await app.sql<
      { requestId: string }[]
    >`select request_id from code_repos where project_id = ${projectId}`;
    expect(rows.map((r) => r.requestId).sort()).toEqual(admitted.map((a) => a.requestId).sort());
    expect((await readdir(path.join(app.config.SANDBOX_BASE_PATH, projectId))).sort()).toEqual(
      admitted.map((a) => a.repoId).sort(),
    );
    console.log(`R1 invariants: ${await checkInvariants(app, [projectId])}`);

    await cleanUpAll(
      app,
      admitted.map((a) => a.workflowId),
    );
    console.log(`R1 invariants after cleanup: ${await checkInvariants(app, [projectId])}`);
  }, 240_000);
});
