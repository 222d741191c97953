import { randomBytes, randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, inject, it, vi } from 'vitest';
import { createLogger } from '../../src/config/logger.js';
import { cleanupSignal, getStateQuery } from '../../src/shared/connect-repository.js';
import { call, honoFor, startAppUnderTest, waitForState, type AppUnderTest } from '../support/app-under-test.js';
import { createBareRepo, createRepoWithHeavyHistory } from '../support/git-repos.js';

const stack = inject('stack');
let app: AppUnderTest;
let projectId: string;
let tinyRepo: string;
let slowRepo: string;

beforeAll(async () => {
  // One clone slot: a second clone has to wait for it; admission must not.
  app = await startAppUnderTest(stack, { WORKER_CONCURRENCY: '1', SANDBOX_TTL_SECONDS: '3600' });
  projectId = (await call(app, 'POST', '/api/v1/projects', { name: 'admission isolation' })).body.id;
  tinyRepo = `tiny-${randomUUID().slice(0, 8)}`;
  await createBareRepo(stack.gitRoot, tinyRepo, { 'README.md': 'tiny\n' });
  slowRepo = `slow-${randomUUID().slice(0, 8)}`;
  await createRepoWithHeavyHistory(
    stack.gitRoot,
    slowRepo,
    { 'old.bin': randomBytes(2_000_000) },
    { 'README.md': 'tip\n', 'tip.bin': randomBytes(300_000) },
  );
});

afterAll(async () => {
  await app?.stop();
});

const request = (gitUrl: string) => ({
  git_url: gitUrl,
  access_token: stack.gitToken,
  project_id: projectId,
  request_id: randomUUID(),
});

describe('admission never waits behind clones', () => {
  it('admits a new request at once while the only clone slot is busy with a long clone', async () => {
    const long = await call(
      app,
      'POST',
      '/api/v1/code/connect',
      request(`${stack.gitUrl}/slow/200000/${slowRepo}.git`),
    );
    expect(long.status).toBe(201);
    await waitForState(app, long.body.workflow_id, (s) => s.stage === 'cloning' && (s.bytesReceived ?? 0) > 0);

    const next = await call(app, 'POST', '/api/v1/code/connect', request(`${stack.gitUrl}/${tinyRepo}.git`));
    expect(next.status).toBe(201);
    // Admitted while the long clone still holds the slot.
    const longHandle = app.temporal.workflow.getHandle(long.body.workflow_id);
    expect(await longHandle.query(getStateQuery)).toMatchObject({ stage: 'cloning', cloneStatus: 'CLONING' });
    expect((await app.temporal.workflow.getHandle(next.body.workflow_id).query(getStateQuery)).cloneStatus).not.toBe(
      'COMPLETED',
    );

    await longHandle.signal(cleanupSignal);
    await waitForState(app, next.body.workflow_id, (s) => s.cloneStatus === 'COMPLETED');
  });

  it('answers 202 when admission outlasts ADMISSION_WAIT_SECONDS, and the same request later gets the outcome', async () => {
    const hono = honoFor(app, createLogger({ level: 'silent' }), { admissionWaitSeconds: 1 });
    // The size probe fetches the 300 kB tip at 100 kB/s: about three seconds.
    const body = request(`${stack.gitUrl}/slow/100000/${slowRepo}.git`);
    const send = async () => {
      const res = await hono.request('/api/v1/code/connect', {
        method: 'POST',
        headers: { authorization: `Bearer ${await app.tokenFor()}`, 'content-type': 'application/json' },
        body: JSON.stringify(body),
      });
      return { status: res.status, headers: res.headers, body: (await res.json()) as Record<string, unknown> };
    };
    const first = await send();
    expect(first).toMatchObject({ status: 202, body: { status: 'admission_pending', request_id: body.request_id } });
    expect(first.headers.get('retry-after')).toBe('2');
    const outcome = await vi.waitFor(
      async () => {
        const again = await send();
        if (again.status === 202) throw new Error('still pending');
        return again;
      },
      { timeout: 30_000, interval: 500 },
    );
    expect(outcome).toMatchObject({ status: 201, body: { workflow_id: first.body.workflow_id, connected: true } });
    await app.temporal.workflow.getHandle(first.body.workflow_id as string).signal(cleanupSignal);
  });
});
