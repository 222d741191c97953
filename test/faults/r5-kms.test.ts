import { randomBytes, randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, inject, it, vi } from 'vitest';
import { createLogger } from '../../src/config/logger.js';
import { cleanupSignal } from '../../src/shared/connect-repository.js';
import { call, startAppUnderTest, waitForState, type AppUnderTest } from '../support/app-under-test.js';
import { createBareRepo } from '../support/git-repos.js';
import { createKmsKey, kmsClient, kmsEnv } from '../support/kms.js';
import { startMotoServer, type MotoServer } from '../support/moto-server.js';
import { checkInvariants } from './invariants.js';
import { switchableProxy, type SwitchableProxy } from './switchable-proxy.js';

const stack = inject('stack');
let moto: MotoServer;
let otherKms: MotoServer | undefined;
let kms: SwitchableProxy;
let keyId: string;
let app: AppUnderTest;
let projectId: string;
let repo: string;

beforeAll(async () => {
  // A KMS of this file's own (moto, keeping its keys) behind a front this test can take down.
  moto = await startMotoServer(createLogger({ level: 'warn', pretty: false }));
  kms = await switchableProxy(new URL(moto.endpoint));
  keyId = await createKmsKey(kmsClient(moto.endpoint));
  // The AWS SDK reads its endpoint from the environment; this file runs in a process of its own.
  Object.assign(process.env, kmsEnv(kms.url));
  app = await startAppUnderTest(stack, { KMS_KEY_ID: keyId, SANDBOX_TTL_SECONDS: '3600' });
  projectId = (await call(app, 'POST', '/api/v1/projects', { name: 'r5' })).body.id;
  repo = `r5-${randomUUID().slice(0, 8)}`;
  await createBareRepo(stack.gitRoot, repo, { 'README.md': 'kms\n', 'data.bin': randomBytes(100_000) });
});

afterAll(async () => {
  await app?.stop();
  await kms?.down();
  await moto?.stop();
  await otherKms?.stop();
});

/** When the Git server saw each `info/refs` request under `key`. */
const requestsSeen = async (key: string) =>
  ((await (await fetch(`${stack.gitUrl}/_requests/${key}`)).json()) as number[]).length;

/**
 * A connect whose clone's first fetch gets a 503 (the probe's two requests pass): its retry
 * waits 2 s, the window in which a test changes what KMS does, before the clone opens the token again.
 */
async function connectWithFirstCloneFailing(key: string) {
  const res = await call(app, 'POST', '/api/v1/code/connect', {
    git_url: `${stack.gitUrl}/flaky/${key}/2/1/${repo}.git`,
    access_token: stack.gitToken,
    project_id: projectId,
    request_id: randomUUID(),
  });
  expect(res.status).toBe(201);
  await vi.waitFor(async () => expect(await requestsSeen(key)).toBe(3), { timeout: 20_000, interval: 50 });
  return res.body as { repo_id: string; workflow_id: string };
}

/** The clone activity's attempt number (pending activities as Temporal describes the run). */
const cloneAttempt = async (workflowId: string) =>
  (await app.temporal.workflow.getHandle(workflowId).describe()).raw.pendingActivities?.find(
    (a) => a.activityType?.name === 'cloneRepository',
  )?.attempt ?? 0;

describe('R5: the KMS endpoint', () => {
  it("down mid-run: the clone's kms_unavailable is retried, the run completes once KMS is back; the API answers 503 meanwhile", async () => {
    const key = randomUUID();
    const admitted = await connectWithFirstCloneFailing(key);
    await kms.down();
    // The second attempt cannot open the token (kms_unavailable, retryable): the attempt count moves on, git never asked.
    await vi.waitFor(async () => expect(await cloneAttempt(admitted.workflow_id)).toBe(3), {
      timeout: 20_000,
      interval: 50,
    });
    expect(await requestsSeen(key)).toBe(3);
    const refused = await call(app, 'POST', '/api/v1/code/connect', {
      git_url: `${stack.gitUrl}/${repo}.git`,
      access_token: stack.gitToken,
      project_id: projectId,
      request_id: randomUUID(),
    });
    expect(refused.status).toBe(503);
    expect(JSON.stringify(refused.body)).toContain('kms_unavailable');
    await kms.up();
    await waitForState(app, admitted.workflow_id, (s) => s.cloneStatus === 'COMPLETED', 30_000);
    console.log(`R5 (down, back) invariants: ${await checkInvariants(app, [projectId])}`);
    const handle = app.temporal.workflow.getHandle(admitted.workflow_id);
    await handle.signal(cleanupSignal);
    await handle.result();
  });

  it('a KMS that refuses the key: the clone fails at once as kms_rejected, with a message that says so', async () => {
    const key = randomUUID();
    // Started first: the switch below must fit in the clone's 2 s retry wait, also on a loaded machine.
    otherKms = await startMotoServer(createLogger({ level: 'warn', pretty: false }));
    const admitted = await connectWithFirstCloneFailing(key);
    // From now on the endpoint is a KMS that does not hold our key (another account, or the key gone).
    kms.retarget(new URL(otherKms.endpoint));
    await waitForState(app, admitted.workflow_id, (s) => s.cloneStatus === 'FAILED', 30_000);
    const status = await call(app, 'GET', `/api/v1/code/repos/${admitted.repo_id}/status`);
    expect(status.body).toMatchObject({
      clone_status: 'FAILED',
      error_code: 'kms_rejected',
      error_message: 'The key management service refused the operation (NotFoundException)',
    });
    // Not retried: the second attempt was the last, and git was never asked again.
    expect(await requestsSeen(key)).toBe(3);
    console.log(`R5 (refused) invariants: ${await checkInvariants(app, [projectId])}`);
  });
});
