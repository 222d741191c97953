import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { call, startAppUnderTest, type AppUnderTest } from '../support/app-under-test.js';

const stack = inject('stack');
const READ_BURST = 4;
let app: AppUnderTest;

beforeAll(async () => {
  // One read a minute refilled: within the test, a bucket emptied stays empty.
  app = await startAppUnderTest(
    stack,
    { READ_RATE_LIMIT_BURST: String(READ_BURST), READ_RATE_LIMIT_PER_MINUTE: '1' },
    { worker: false },
  );
});

afterAll(async () => {
  await app?.stop();
});

describe('reads are rate-limited per user, in buckets apart from writes', () => {
  it('a user polling past the read burst gets 429 with Retry-After; writes and other users are not affected', async () => {
    const user = `reader-${randomUUID()}`;
    const project = await call(app, 'POST', '/api/v1/projects', { name: 'reads' }, user);
    expect(project.status).toBe(201);
    const status = `/api/v1/code/repos/${randomUUID()}/status`;
    const answers = [];
    for (let i = 0; i < READ_BURST + 1; i += 1) answers.push(await call(app, 'GET', status, undefined, user));
    expect(answers.slice(0, READ_BURST).map((a) => a.status)).toEqual(Array(READ_BURST).fill(404));
    const refused = answers[READ_BURST]!;
    expect(refused.status).toBe(429);
    expect(refused.body.detail).toMatchObject({ error: 'rate_limited' });
    expect(Number(refused.headers.get('retry-after'))).toBeGreaterThan(0);
    // Every read endpoint draws from the same bucket.
    expect((await call(app, 'GET', `/api/v1/projects/${project.body.id}`, undefined, user)).status).toBe(429);
    expect((await call(app, 'POST', '/api/v1/projects', { name: 'still writes' }, user)).status).toBe(201);
    expect(
      (await call(app, 'GET', `/api/v1/projects/${project.body.id}`, undefined, `other-${randomUUID()}`)).status,
    ).toBe(404);
  });

  it("no user id reaches into another kind's bucket: a user named read:<id> writes from a bucket of its own", async () => {
    const user = `reader-${randomUUID()}`;
    const status = `/api/v1/code/repos/${randomUUID()}/status`;
    for (let i = 0; i < READ_BURST; i += 1) await call(app, 'GET', status, undefined, user);
    expect((await call(app, 'GET', status, undefined, user)).status).toBe(429);
    expect((await call(app, 'POST', '/api/v1/projects', { name: 'own bucket' }, `read:${user}`)).status).toBe(201);
  });
});
