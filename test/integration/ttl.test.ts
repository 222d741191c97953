import { randomUUID } from 'node:crypto';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { createBareRepo } from '../support/git-repos.js';
import { call, startAppUnderTest, type AppUnderTest } from '../support/app-under-test.js';

const stack = inject('stack');
let app: AppUnderTest;

beforeAll(async () => {
  app = await startAppUnderTest(stack, { SANDBOX_TTL_SECONDS: '2' });
});

afterAll(async () => {
  await app?.stop();
});

describe('the sandbox TTL', () => {
  it('cleans the sandbox up by itself once the durable timer fires', async () => {
    const projectId = (await call(app, 'POST', '/api/v1/projects', { name: 'ttl' })).body.id;
    const name = `ttl-${randomUUID().slice(0, 8)}`;
    await createBareRepo(stack.gitRoot, name, { 'README.md': 'short-lived\n' });
    const res = await call(app, 'POST', '/api/v1/code/connect', {
      git_url: `${stack.gitUrl}/${name}.git`,
      access_token: stack.gitToken,
      project_id: projectId,
    });
    expect(res.status).toBe(201);

    expect(await app.temporal.workflow.getHandle(res.body.workflow_id).result()).toMatchObject({
      cloneStatus: 'CLEANED',
    });
    expect(existsSync(path.join(app.config.SANDBOX_BASE_PATH, projectId, res.body.repo_id))).toBe(false);
    const reasons =
      await app.sql`select metadata->>'reason' as reason from audit_log where repo_id = ${res.body.repo_id} and to_state = 'CLEANED'`;
    expect(reasons.map((r) => r.reason)).toEqual(['ttl']);
  });
});
