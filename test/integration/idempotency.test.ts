import { createHash, randomBytes, randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { cleanupSignal } from '../../src/shared/connect-repository.js';
import { call, startAppUnderTest, waitForState, type AppUnderTest } from '../support/app-under-test.js';
import { createBareRepo } from '../support/git-repos.js';

const stack = inject('stack');
let app: AppUnderTest;
let projectId: string;
let repo: string;

beforeAll(async () => {
  app = await startAppUnderTest(stack, { SANDBOX_TTL_SECONDS: '3600' });
  projectId = (await call(app, 'POST', '/api/v1/projects', { name: 'idempotency' })).body.id;
  repo = `idem-${randomUUID().slice(0, 8)}`;
  await createBareRepo(stack.gitRoot, repo, { 'README.md': 'once\n', 'data.bin': randomBytes(100_000) });
});

afterAll(async () => {
  await app?.stop();
});

/** The connect call as a client sees it on the wire: status, replay header and the body's exact bytes. */
async function connectRaw(body: Record<string, unknown>, as?: string) {
  const res = await fetch(`${app.api.url}/api/v1/code/connect`, {
    method: 'POST',
    headers: { authorization: `Bearer ${await app.tokenFor(as)}`, 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  return { status: res.status, replayed: res.headers.get('idempotent-replayed'), text: await res.text() };
}

const request = (overrides: Record<string, unknown> = {}) => ({
  git_url: `${stack.gitUrl}/${repo}.git`,
  access_token: stack.gitToken,
  project_id: projectId,
  request_id: randomUUID(),
  ...overrides,
});

describe('idempotency as clients expect', () => {
  it('a repeat after the workflow has closed gets the first 201 answer, byte for byte, marked as replayed', async () => {
    const body = request();
    const first = await connectRaw(body);
    expect(first).toMatchObject({ status: 201, replayed: null });
    const { workflow_id: workflowId, task_id: taskId, estimated_size_mb: estimate } = JSON.parse(first.text);
    expect(taskId).toEqual(expect.any(String));
    expect(estimate).toBeGreaterThan(0);
    await waitForState(app, workflowId, (s) => s.cloneStatus === 'COMPLETED');
    const handle = app.temporal.workflow.getHandle(workflowId);
    await handle.signal(cleanupSignal);
    await handle.result();

    const again = await connectRaw(body);
    expect(again).toEqual({ status: 201, replayed: 'true', text: first.text });
  });

  it('after a 502 the same key is evaluated afresh and admitted once the Git server answers', async () => {
    const key = randomUUID();
    // The size check's three attempts all meet a 503; the next request finds the server well.
    const body = request({ git_url: `${stack.gitUrl}/flaky/${key}/0/3/${repo}.git` });
    const failed = await connectRaw(body);
    expect(failed.status).toBe(502);
    expect(JSON.parse(failed.text).detail.error).toBe('upstream_unavailable');
    const admitted = await connectRaw(body);
    expect(admitted).toMatchObject({ status: 201, replayed: null });
    expect((await app.sql`select count(*)::int as n from code_repos where request_id = ${body.request_id}`)[0]!.n).toBe(
      1,
    );
  });

  it('the same key with another access token is a 409, and the token is never what is kept to compare', async () => {
    const body = request();
    const first = await connectRaw(body);
    expect(first.status).toBe(201);
    const other = await connectRaw({ ...body, access_token: `${stack.gitToken}-other` });
    expect(other.status).toBe(409);
    expect(JSON.parse(other.text).detail.error).toBe('idempotency_key_reused');
    const [row] = await app.sql`select request_fingerprint from code_repos where request_id = ${body.request_id}`;
    expect(row!.requestFingerprint).toMatch(/^hmac1:[\w-]{43}$/);
    expect(row!.requestFingerprint).not.toContain(stack.gitToken);
    // Keyed: the same inputs hashed without the service's key do not give it.
    const unkeyed = createHash('sha256')
      .update(JSON.stringify([JSON.parse(first.text).workflow_id, projectId, body.git_url, stack.gitToken]))
      .digest('base64url');
    expect(row!.requestFingerprint).not.toContain(unkeyed);
    // The key itself is stored only wrapped, under this deployment's key.
    const stored =
      await app.sql`select wrapped_key from service_keys where name = 'request-fingerprint' and key_id = ${app.keys.keyId}`;
    expect(stored).toHaveLength(1);
  });

  it('another user with the same key gets a request of their own', async () => {
    const body = request();
    const mine = await connectRaw(body);
    expect(mine.status).toBe(201);
    const theirProject = (await call(app, 'POST', '/api/v1/projects', { name: 'someone else' }, 'another-user')).body
      .id;
    const theirs = await connectRaw({ ...body, project_id: theirProject }, 'another-user');
    expect(theirs).toMatchObject({ status: 201, replayed: null });
    expect(JSON.parse(theirs.text).repo_id).not.toBe(JSON.parse(mine.text).repo_id);
    expect(JSON.parse(theirs.text).workflow_id).not.toBe(JSON.parse(mine.text).workflow_id);
  });
});
