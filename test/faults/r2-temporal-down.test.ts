import { randomBytes, randomUUID } from 'node:crypto';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it, vi } from 'vitest';
import { createLogger } from '../../src/config/logger.js';
import { freePort } from '../../src/runtime/ports.js';
import type { TemporalDevServer, TemporalDevServerOptions } from '../../src/dev-stack/temporal-dev-server.js';
import { startTemporalWithRetry } from '../support/start-stack.js';
import { call, startAppUnderTest, waitForState, type AppUnderTest } from '../support/app-under-test.js';
import { createRepoWithHeavyHistory } from '../support/git-repos.js';
import { checkInvariants, cleanUpAll } from './invariants.js';

const RUNS = 20;
const stack = inject('stack');
let serverOptions: TemporalDevServerOptions;
let temporal: TemporalDevServer | undefined;
let app: AppUnderTest;
let projectId: string;
let repo: string;

beforeAll(async () => {
  // A Temporal server of this file's own, on a file that outlives it, so it can be stopped and started again.
  const logger = createLogger({ level: 'warn', pretty: false });
  const dbFilename = path.join(stack.workDir, `r2-${randomUUID()}`, 'temporal.db');
  ({ server: temporal, options: serverOptions } = await startTemporalWithRetry(
    async () => ({
      cliPath: stack.temporalCliPath,
      port: await freePort(),
      uiPort: await freePort(),
      namespace: 'default',
      headless: true,
      dbFilename,
      logger,
    }),
    logger,
  ));
  // One clone at a time (three slots on the probe's host): most runs wait between admission and clone.
  app = await startAppUnderTest(stack, {
    TEMPORAL_ADDRESS: temporal.address,
    SANDBOX_TTL_SECONDS: '3600',
    WORKER_CONCURRENCY: '1',
  });
  projectId = (await call(app, 'POST', '/api/v1/projects', { name: 'r2' })).body.id;
  repo = `r2-${randomUUID().slice(0, 8)}`;
  await createRepoWithHeavyHistory(stack.gitRoot, repo, { 'old.bin': randomBytes(1_000_000) }, { 'README.md': 'r2\n' });
});

afterAll(async () => {
  await app?.stop();
  await temporal?.stop();
});

const connect = () =>
  call(app, 'POST', '/api/v1/code/connect', {
    git_url: `${stack.gitUrl}/slow/250000/${repo}.git`,
    access_token: stack.gitToken,
    project_id: projectId,
    request_id: randomUUID(),
  });

describe('R2: the Temporal server stopped while 20 runs wait between admission and clone', () => {
  it('loses none; the API answers 502 upstream_unavailable meanwhile and recovers without a restart', async () => {
    const admitted = await Promise.all(
      Array.from({ length: RUNS }, async () => {
        const res = await connect();
        expect(res.status).toBe(201);
        return res.body as { repo_id: string; workflow_id: string };
      }),
    );
    const [waiting] = await app.sql<
      { n: number }[]
    >`select count(*)::int as n from code_repos where project_id = ${projectId} and clone_status = 'PENDING'`;
    expect(waiting!.n).toBeGreaterThan(10);

    await temporal!.stop();
    temporal = undefined;
    const refused = await connect();
    expect(refused.status).toBe(502);
    expect(refused.body.detail.error).toBe('upstream_unavailable');
    const ready = await fetch(`${app.api.url}/readyz`);
    expect(ready.status).toBe(503);
    expect(await ready.json()).toMatchObject({
      detail: { error: 'not_ready', checks: { database: 'up', temporal: 'down' } },
    });

    // The same ports: the API's connection knows only this address.
    temporal = (await startTemporalWithRetry(async () => serverOptions, serverOptions.logger)).server;
    // Ready again without a restart, once the API's connection has found the server back.
    await vi.waitFor(async () => expect((await fetch(`${app.api.url}/readyz`)).status).toBe(200), {
      timeout: 30_000,
      interval: 200,
    });
    await Promise.all(
      admitted.map((a) => waitForState(app, a.workflow_id, (s) => s.cloneStatus === 'COMPLETED', 120_000)),
    );
    const after = await connect();
    expect(after.status).toBe(201);
    admitted.push(after.body);
    await waitForState(app, after.body.workflow_id, (s) => s.cloneStatus === 'COMPLETED', 60_000);
    const [rows] = await app.sql<
      { n: number }[]
    >`select count(*)::int as n from code_repos where project_id = ${projectId}`;
    expect(rows!.n).toBe(RUNS + 1);
    console.log(`R2 invariants: ${await checkInvariants(app, [projectId])}`);

    await cleanUpAll(
      app,
      admitted.map((a) => a.workflow_id),
    );
  }, 300_000);
});
