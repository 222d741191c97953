import { randomBytes, randomUUID } from 'node:crypto';
import { Client, Connection } from '@temporalio/client';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { createLogger } from '../../src/config/logger.js';
import { createSql } from '../../src/db/client.js';
import { createBareRepo } from '../support/git-repos.js';
import { honoFor, startAppUnderTest, waitForState, type AppUnderTest } from '../support/app-under-test.js';

const stack = inject('stack');
const silent = createLogger({ level: 'silent' });
let app: AppUnderTest;
let hono: ReturnType<typeof honoFor>;
/** As deployed: loopback Git URLs refused (the tests' own Git server is on loopback, so `hono` allows it). */
let strict: ReturnType<typeof honoFor>;
let auth: Record<string, string>;
let projectId: string;
let smallRepo: string;

beforeAll(async () => {
  app = await startAppUnderTest(stack, { MAX_REPO_SIZE_MB: '1', SANDBOX_TTL_SECONDS: '3600' });
  hono = honoFor(app, silent);
  strict = honoFor(app, silent, { allowLoopback: false });
  auth = { authorization: `Bearer ${await app.tokenFor()}` };
  projectId = ((await (await post('/api/v1/projects', { name: 'errors' })).json()) as { id: string }).id;
  const name = `small-${randomUUID().slice(0, 8)}`;
  await createBareRepo(stack.gitRoot, name, { 'a.txt': 'a\n' });
  smallRepo = `${stack.gitUrl}/${name}.git`;
});

afterAll(async () => {
  await app?.stop();
});

function post(path: string, body: unknown, headers: Record<string, string> = {}, on = hono) {
  return on.request(path, {
    method: 'POST',
    body: typeof body === 'string' ? body : JSON.stringify(body),
    headers: { 'content-type': 'application/json', ...auth, ...headers },
  });
}
const get = (path: string, on = hono) => on.request(path, { headers: auth });
const detail = async (res: Response) => ((await res.json()) as { detail: Record<string, any> }).detail;
const connectBody = (overrides: Record<string, unknown> = {}) => ({
  git_url: smallRepo,
  access_token: stack.gitToken,
  project_id: projectId,
  request_id: randomUUID(),
  ...overrides,
});

describe('every error answers in the one envelope, with the right code', () => {
  it("422 validation_error names every invalid field, with the design's message for a bad URL", async () => {
    const res = await post('/api/v1/code/connect', {
      git_url: 'ssh://example.com/r.git',
      access_token: 'x',
      project_id: 'nope',
      extra: 1,
    });
    expect(res.status).toBe(422);
    const d = await detail(res);
    expect(d.error).toBe('validation_error');
    const paths = d.issues.map((i: { path: string }) => i.path);
    expect(paths).toEqual(expect.arrayContaining(['git_url', 'access_token', 'project_id']));
    expect(d.issues.find((i: { path: string }) => i.path === 'git_url').message).toBe(
      'Invalid Git repository URL format: not an http(s) URL',
    );
    expect(d.issues.some((i: { message: string }) => /extra/.test(i.message))).toBe(true);
  });

  it.each([
    ['http to a public host', 'http://github.com/a/b.git'],
    ['userinfo', 'https://user:pass@github.com/a/b.git'],
    ['a query', 'https://github.com/a/b.git?x=1'],
    ['a fragment', 'https://github.com/a/b.git#main'],
    ['loopback (not allowed here)', 'https://127.0.0.1/r.git'],
    ['decimal loopback', 'https://2130706433/r.git'],
    ['octal loopback', 'https://0177.0.0.1/r.git'],
    ['hex private', 'https://0x0a.0.0.1/r.git'],
    ['IPv4-mapped metadata', 'https://[::ffff:169.254.169.254]/r.git'],
    ['CGNAT', 'https://100.64.1.1/r.git'],
    ['a private IPv6', 'https://[fd00::1]/r.git'],
    ['file://', 'file:///etc/passwd'],
    ['git://', 'git://github.com/a/b.git'],
    ['ext::', 'ext::sh -c touch /tmp/x'],
    ['a bare path', '/srv/repos/r.git'],
    ['an option', '-uhttps://github.com/a/b'],
    ['whitespace', 'https://github.com/a b.git'],
    ['no path', 'https://github.com'],
  ])('422 for a git_url with %s', async (_label, gitUrl) => {
    const res = await post('/api/v1/code/connect', connectBody({ git_url: gitUrl }), {}, strict);
    expect(res.status).toBe(422);
    expect((await detail(res)).issues[0].path).toBe('git_url');
  });

  it.each([
    ['too short', 'short'],
    ['inner whitespace', 'abc def ghi jkl'],
    ['control characters', 'abcdefghij\u0007'],
  ])('422 for an access_token with %s', async (_label, token) => {
    expect((await post('/api/v1/code/connect', connectBody({ access_token: token }))).status).toBe(422);
  });

  it('422 when request_id and the Idempotency-Key header differ', async () => {
    const res = await post('/api/v1/code/connect', connectBody(), { 'idempotency-key': randomUUID() });
    expect(res.status).toBe(422);
    expect((await detail(res)).error).toBe('validation_error');
  });

  it('400 bad_request for malformed JSON, never a 500', async () => {
    const res = await post('/api/v1/code/connect', '{"git_url": ');
    expect(res.status).toBe(400);
    expect((await detail(res)).error).toBe('bad_request');
  });

  it('413 payload_too_large for a body over 64 KiB', async () => {
    const res = await post('/api/v1/projects', { name: 'x'.repeat(70 * 1024) });
    expect(res.status).toBe(413);
    expect((await detail(res)).error).toBe('payload_too_large');
  });

  it('401 unauthorized (the JWT) is told apart from 401 invalid_credentials (the Git token)', async () => {
    const noJwt = await hono.request('/api/v1/projects', {
      method: 'POST',
      body: '{}',
      headers: { 'content-type': 'application/json' },
    });
    expect(noJwt.status).toBe(401);
    expect(noJwt.headers.get('www-authenticate')).toBe('Bearer');
    expect(await detail(noJwt)).toMatchObject({
      error: 'unauthorized',
      message: expect.stringMatching(/bearer token \(JWT\)/),
    });

    const badGitToken = await post('/api/v1/code/connect', connectBody({ access_token: 'wrong-token-0123456789' }));
    expect(badGitToken.status).toBe(401);
    expect(await detail(badGitToken)).toMatchObject({
      error: 'invalid_credentials',
      message: expect.stringMatching(/Git server/),
    });
  });

  it('404 repository_not_found, project_not_found and not_found', async () => {
    const missingRepo = await post(
      '/api/v1/code/connect',
      connectBody({ git_url: `${stack.gitUrl}/no-such-${randomUUID()}.git` }),
    );
    expect(missingRepo.status).toBe(404);
    expect((await detail(missingRepo)).error).toBe('repository_not_found');

    const missingProject = await post('/api/v1/code/connect', connectBody({ project_id: randomUUID() }));
    expect(missingProject.status).toBe(404);
    expect((await detail(missingProject)).error).toBe('project_not_found');

    for (const path of [
      `/api/v1/code/repos/${randomUUID()}`,
      `/api/v1/code/repos/${randomUUID()}/status`,
      `/api/v1/code/repos/${randomUUID()}/events`,
    ]) {
      const res = await get(path);
      expect(res.status).toBe(404);
      expect((await detail(res)).error).toBe('not_found');
    }
    expect((await get('/api/v1/nothing-here')).status).toBe(404);
  });

  it('409 idempotency_key_reused for a request_id reused with another URL', async () => {
    const request = connectBody();
    expect((await post('/api/v1/code/connect', request)).status).toBe(201);
    const res = await post('/api/v1/code/connect', { ...request, git_url: `${smallRepo.slice(0, -4)}-other.git` });
    expect(res.status).toBe(409);
    expect((await detail(res)).error).toBe('idempotency_key_reused');
  });

  it('409 invalid_state for a retry of a repository that has not failed, and a second cleanup', async () => {
    const res = await post('/api/v1/code/connect', connectBody());
    const { repo_id: repoId, workflow_id: workflowId } = (await res.json()) as { repo_id: string; workflow_id: string };
    await waitForState(app, workflowId, (s) => s.cloneStatus === 'COMPLETED');
    const retry = await post(`/api/v1/code/repos/${repoId}/retry`, {});
    expect(retry.status).toBe(409);
    expect((await detail(retry)).error).toBe('invalid_state');
    expect((await post(`/api/v1/code/repos/${repoId}/cleanup`, {})).status).toBe(202);
    await app.temporal.workflow.getHandle(workflowId).result();
    const again = await post(`/api/v1/code/repos/${repoId}/cleanup`, {});
    expect(again.status).toBe(409);
    expect((await detail(again)).error).toBe('invalid_state');
  });

  it("413 repository_too_large with the design's body", async () => {
    const name = `big-${randomUUID().slice(0, 8)}`;
    await createBareRepo(stack.gitRoot, name, { 'big.bin': randomBytes(1_500_000) });
    const res = await post('/api/v1/code/connect', connectBody({ git_url: `${stack.gitUrl}/${name}.git` }));
    expect(res.status).toBe(413);
    expect(Object.keys(await detail(res)).sort()).toEqual([
      'budget',
      'error',
      'estimated_size_mb',
      'limit',
      'limit_mb',
      'measured',
      'message',
    ]);
  });

  it("429 rate_limited with Retry-After once a user's bucket is empty", async () => {
    // Buckets live in the run's one database: users of their own, so no other test's bucket is touched.
    const limited = honoFor(app, silent, { rateLimit: { burst: 2, perMinute: 6 } });
    const as = async (user: string) => ({ authorization: `Bearer ${await app.tokenFor(user)}` });
    const user = await as(`limited-${randomUUID()}`);
    expect((await post('/api/v1/projects', { name: 'one' }, user, limited)).status).toBe(201);
    expect((await post('/api/v1/projects', { name: 'two' }, user, limited)).status).toBe(201);
    const third = await post('/api/v1/projects', { name: 'three' }, user, limited);
    expect(third.status).toBe(429);
    expect((await detail(third)).error).toBe('rate_limited');
    expect(Number(third.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
    // Another user has a bucket of their own; GETs are not limited.
    expect((await post('/api/v1/projects', { name: 'other' }, await as(`other-${randomUUID()}`), limited)).status).toBe(
      201,
    );
    expect((await get(`/api/v1/projects/${projectId}`, limited)).status).toBe(200);
  });

  it('429 for exactly the requests past the burst when they arrive at once', async () => {
    const limited = honoFor(app, silent, { rateLimit: { burst: 5, perMinute: 1 } });
    const user = { authorization: `Bearer ${await app.tokenFor(`burst-${randomUUID()}`)}` };
    const statuses = await Promise.all(
      Array.from({ length: 12 }, (_, i) =>
        (async () => (await post('/api/v1/projects', { name: `p${i}` }, user, limited)).status)(),
      ),
    );
    expect(statuses.filter((s) => s === 201)).toHaveLength(5);
    expect(statuses.filter((s) => s === 429)).toHaveLength(7);
  });

  it('502 upstream_unavailable when the Git server cannot be reached', async () => {
    // Nothing listens on the discard port: every attempt fails to connect, and is retried first.
    const unreachable = await post('/api/v1/code/connect', connectBody({ git_url: 'http://127.0.0.1:9/nothing.git' }));
    expect(unreachable.status).toBe(502);
    expect((await detail(unreachable)).error).toBe('upstream_unavailable');
  }, 60_000);

  it('502 upstream_unavailable when Temporal cannot be reached', async () => {
    const connection = Connection.lazy({ address: '127.0.0.1:9', connectTimeout: 500 });
    const noTemporal = honoFor(app, silent, {}, { temporal: new Client({ connection }) });
    const res = await post('/api/v1/code/connect', connectBody(), {}, noTemporal);
    expect(res.status).toBe(502);
    expect((await detail(res)).error).toBe('upstream_unavailable');
    await connection.close().catch(() => {});
  });

  it('507 insufficient_storage when the sandbox disk cannot hold a clone', async () => {
    const cramped = await startAppUnderTest(stack, { SANDBOX_MIN_FREE_MB: String(1024 ** 3) });
    try {
      const token = { authorization: `Bearer ${await cramped.tokenFor()}` };
      const res = await post('/api/v1/code/connect', connectBody(), token, honoFor(cramped, silent));
      expect(res.status).toBe(507);
      expect((await detail(res)).error).toBe('insufficient_storage');
    } finally {
      await cramped.stop();
    }
  });

  it('500 internal_error carries a request id to quote, and no stack or secret', async () => {
    const closed = createSql(stack.databaseUrl, { max: 1 });
    await closed.end();
    const broken = honoFor(app, silent, {}, { sql: closed });
    const res = await broken.request(`/api/v1/projects/${projectId}`, {
      headers: { ...auth, 'x-request-id': 'quote-me-123' },
    });
    expect(res.status).toBe(500);
    const body = await res.text();
    expect(JSON.parse(body).detail).toEqual({
      error: 'internal_error',
      message: 'Internal error; quote request id quote-me-123',
      request_id: 'quote-me-123',
    });
    expect(body).not.toMatch(/at .*\.(ts|js):\d+|postgres:\/\//);
  });
});
