import { existsSync } from 'node:fs';
import type { ChildProcess } from 'node:child_process';
import { randomBytes, randomUUID } from 'node:crypto';
import { readdir } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it, vi } from 'vitest';
import { exited } from '../../src/dev-stack/child-process.js';
import { freePort } from '../../src/runtime/ports.js';
import { cleanupSignal } from '../../src/shared/connect-repository.js';
import { createRepoWithHeavyHistory } from '../support/git-repos.js';
import { call, configEnv, startAppUnderTest, waitForState, type AppUnderTest } from '../support/app-under-test.js';
import { killAll, processesMentioning, startEntryPoint } from '../support/processes.js';

const stack = inject('stack');
let app: AppUnderTest;
let projectId: string;
const workers: ChildProcess[] = [];

/** `npm run start:worker`'s program, from the sources, as its own OS process; resolves once it polls. */
async function startWorkerProcess(extraEnv: Record<string, string> = {}): Promise<ChildProcess> {
  const env = { ...configEnv(app.config), LOG_LEVEL: 'info', ...extraEnv };
  return (await startEntryPoint(workers, 'src/worker/main.ts', env, 'worker running')).child;
}

beforeAll(async () => {
  // The API runs here; the worker runs as a separate process so that it can be killed.
  app = await startAppUnderTest(stack, { SANDBOX_TTL_SECONDS: '3600' }, { worker: false });
  projectId = (await call(app, 'POST', '/api/v1/projects', { name: 'crash' })).body.id;
});

afterAll(async () => {
  await killAll(workers);
  await app?.stop();
});

describe('a worker killed mid-clone', () => {
  it('is replaced by a new one that completes the clone: one row, no orphan directory', async () => {
    const name = `crash-${randomUUID().slice(0, 8)}`;
    await createRepoWithHeavyHistory(
      stack.gitRoot,
      name,
      { 'old.bin': randomBytes(2_000_000) },
      { 'README.md': 'survivor\n' },
    );
    const first = await startWorkerProcess();
    const requestId = randomUUID();
    const res = await call(app, 'POST', '/api/v1/code/connect', {
      git_url: `${stack.gitUrl}/slow/150000/${name}.git`,
      access_token: stack.gitToken,
      project_id: projectId,
      request_id: requestId,
    });
    expect(res.status).toBe(201);
    await waitForState(app, res.body.workflow_id, (s) => s.stage === 'cloning' && (s.bytesReceived ?? 0) > 0);

    first.kill('SIGKILL');
    await exited(first);
    // git dies with its worker (setpriv --pdeathsig), so it cannot keep writing into the sandbox.
    await vi.waitFor(async () => expect(await processesMentioning(`${name}.git`)).toEqual([]), {
      timeout: 5000,
      interval: 50,
    });
    const metricsPort = await freePort();
    await startWorkerProcess({ WORKER_METRICS_PORT: String(metricsPort) });

    const state = await waitForState(app, res.body.workflow_id, (s) => s.cloneStatus === 'COMPLETED', 90_000);
    expect(state.repositorySizeMb).toBeGreaterThan(1);
    const [count] = await app.sql<
      { n: number }[]
    >`select count(*)::int as n from code_repos where request_id = ${requestId}`;
    expect(count!.n).toBe(1);
    const projectDir = path.join(app.config.SANDBOX_BASE_PATH, projectId);
    expect(await readdir(projectDir)).toEqual([res.body.repo_id]);
    expect(await readdir(path.join(projectDir, res.body.repo_id))).toEqual(['repository']);
    const probes = path.join(app.config.SANDBOX_BASE_PATH, '.probes');
    expect(existsSync(probes) ? await readdir(probes) : []).toEqual([]);

    // The worker serves its own metrics: the replacement saw one successful clone.
    const metrics = await (await fetch(`http://127.0.0.1:${metricsPort}/metrics`)).text();
    expect(metrics).toMatch(/repo_clone_duration_seconds_count\{status="ok",size_category="small"\} 1/);

    const handle = app.temporal.workflow.getHandle(res.body.workflow_id);
    await handle.signal(cleanupSignal);
    expect(await handle.result()).toMatchObject({ cloneStatus: 'CLEANED' });
  }, 150_000);
});
