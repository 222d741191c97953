import { randomUUID } from 'node:crypto';
import { sign } from 'hono/jwt';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { createBareRepo } from '../support/git-repos.js';
import {
  captureLogs,
  honoFor,
  startAppUnderTest,
  tokenFor,
  waitForState,
  type AppUnderTest,
} from '../support/app-under-test.js';

const stack = inject('stack');
const logs = captureLogs();
let app: AppUnderTest;
let hono: ReturnType<typeof honoFor>;
let owner: string;
let projectId: string;
let repoId: string;
let gitUrl: string;

const as = async (user: string) => ({ authorization: `Bearer ${await app.tokenFor(user)}` });
const jsonHeaders = { 'content-type': 'application/json' };

beforeAll(async () => {
  app = await startAppUnderTest(stack, { SANDBOX_TTL_SECONDS: '3600' });
  hono = honoFor(app, logs.logger);
  owner = `owner-${randomUUID()}`;
  const name = `sec-${randomUUID().slice(0, 8)}`;
  await createBareRepo(stack.gitRoot, name, { 'a.txt': 'a\n' });
  gitUrl = `${stack.gitUrl}/${name}.git`;
  const project = await hono.request('/api/v1/projects', {
    method: 'POST',
    body: JSON.stringify({ name: 'mine' }),
    headers: { ...jsonHeaders, ...(await as(owner)) },
  });
  projectId = ((await project.json()) as { id: string }).id;
  const connected = await hono.request('/api/v1/code/connect', {
    method: 'POST',
    body: JSON.stringify({ git_url: gitUrl, access_token: stack.gitToken, project_id: projectId }),
    headers: { ...jsonHeaders, ...(await as(owner)) },
  });
  const body = (await connected.json()) as { repo_id: string; workflow_id: string };
  repoId = body.repo_id;
  await waitForState(app, body.workflow_id, (s) => s.cloneStatus === 'COMPLETED');
});

afterAll(async () => {
  await app?.stop();
});

/** Every authenticated endpoint, with a body that would be valid for the owner. */
const endpoints = () => [
  { method: 'POST', path: '/api/v1/projects', body: { name: 'x' }, owned: false },
  { method: 'GET', path: `/api/v1/projects/${projectId}`, owned: true },
  {
    method: 'POST',
    path: '/api/v1/code/connect',
    body: { git_url: gitUrl, access_token: stack.gitToken, project_id: projectId },
    owned: true,
  },
  { method: 'GET', path: `/api/v1/code/repos/${repoId}`, owned: true },
  { method: 'GET', path: `/api/v1/code/repos/${repoId}/status`, owned: true },
  // Refused before any stream starts: a JSON error like the others.
  { method: 'GET', path: `/api/v1/code/repos/${repoId}/events`, owned: true },
  { method: 'GET', path: `/api/v1/code/projects/${projectId}/repos`, owned: true },
  { method: 'POST', path: `/api/v1/code/repos/${repoId}/cleanup`, body: {}, owned: true },
  { method: 'POST', path: `/api/v1/code/repos/${repoId}/retry`, body: {}, owned: true },
];

async function send(e: ReturnType<typeof endpoints>[number], headers: Record<string, string>) {
  return hono.request(e.path, {
    method: e.method,
    body:
      e.body === undefined
        ? undefined
        : JSON.stringify({ ...e.body, ...(e.path.endsWith('/connect') ? { request_id: randomUUID() } : {}) }),
    headers: { ...(e.body === undefined ? {} : jsonHeaders), ...headers },
  });
}

describe('authorization matrix', () => {
  const cases: Array<[string, () => Promise<Record<string, string>>, number, string]> = [
    ['no token', async () => ({}), 401, 'unauthorized'],
    ['a malformed header', async () => ({ authorization: 'Token abc' }), 401, 'unauthorized'],
    [
      'a bad signature',
      async () => ({ authorization: `Bearer ${await tokenFor('x'.repeat(40), owner)}` }),
      401,
      'unauthorized',
    ],
    [
      'an expired token',
      async () => ({ authorization: `Bearer ${await tokenFor(app.config.JWT_SECRET!, owner, -60)}` }),
      401,
      'unauthorized',
    ],
    [
      'a token without exp',
      async () => ({ authorization: `Bearer ${await sign({ sub: owner }, app.config.JWT_SECRET!, 'HS256')}` }),
      401,
      'unauthorized',
    ],
    [
      'alg none',
      async () => ({
        authorization: `Bearer ${Buffer.from('{"alg":"none"}').toString('base64url')}.${Buffer.from(JSON.stringify({ sub: owner, exp: 9e9 })).toString('base64url')}.`,
      }),
      401,
      'unauthorized',
    ],
  ];

  for (const [label, headers, status, code] of cases) {
    it(`every endpoint answers ${status} ${code} to ${label}`, async () => {
      for (const e of endpoints()) {
        const res = await send(e, await headers());
        expect(res.status, `${e.method} ${e.path}`).toBe(status);
        expect(((await res.json()) as { detail: { error: string } }).detail.error).toBe(code);
      }
    });
  }

  it('another user gets 404 for every owned resource, never 403, and nothing changes', async () => {
    const stranger = await as(`stranger-${randomUUID()}`);
    for (const e of endpoints().filter((x) => x.owned)) {
      const res = await send(e, stranger);
      expect(res.status, `${e.method} ${e.path}`).toBe(404);
    }
    const [row] = await app.sql`select clone_status from code_repos where id = ${repoId}`;
    expect(row!.cloneStatus).toBe('COMPLETED');
  });

  it('the owner gets through', async () => {
    const res = await hono.request(`/api/v1/code/repos/${repoId}`, { headers: await as(owner) });
    expect(res.status).toBe(200);
  });

  it('health, readiness, metrics and the API document need no token', async () => {
    for (const path of ['/healthz', '/readyz', '/metrics', '/openapi.json', '/docs']) {
      expect((await hono.request(path)).status, path).toBe(200);
    }
  });
});

describe('CORS and headers', () => {
  it('allows only the configured origins', async () => {
    const allowed = await hono.request('/healthz', { headers: { origin: 'https://ui.example' } });
    expect(allowed.headers.get('access-control-allow-origin')).toBe('https://ui.example');
    const other = await hono.request('/healthz', { headers: { origin: 'https://evil.example' } });
    expect(other.headers.get('access-control-allow-origin')).toBeNull();
  });

  it('sets the secure headers and echoes or makes a request id', async () => {
    const res = await hono.request('/healthz', { headers: { 'x-request-id': 'abc-123' } });
    expect(res.headers.get('x-content-type-options')).toBe('nosniff');
    expect(res.headers.get('x-request-id')).toBe('abc-123');
    expect((await hono.request('/healthz')).headers.get('x-request-id')).toMatch(/^[0-9a-f-]{36}$/);
  });
});

describe('logging', () => {
  it('writes one line per request with method, path, status, duration, user and request id', async () => {
    const requestId = `log-${randomUUID()}`;
    await hono.request(`/api/v1/code/repos/${repoId}`, {
      headers: { ...(await as(owner)), 'x-request-id': requestId },
    });
    const lines = logs.lines().filter((l) => l.requestId === requestId && l.msg === 'request');
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatchObject({ method: 'GET', path: `/api/v1/code/repos/${repoId}`, status: 200, userId: owner });
    expect(typeof lines[0]!.durationMs).toBe('number');
  });

  it('carries the request id into the workflow as the correlation id of the audit rows', async () => {
    const requestId = `corr-${randomUUID()}`;
    const res = await hono.request('/api/v1/code/connect', {
      method: 'POST',
      body: JSON.stringify({ git_url: gitUrl, access_token: stack.gitToken, project_id: projectId }),
      headers: { ...jsonHeaders, ...(await as(owner)), 'x-request-id': requestId },
    });
    const { repo_id: id } = (await res.json()) as { repo_id: string };
    const audit = await app.sql`select distinct correlation_id, user_id from audit_log where repo_id = ${id}`;
    expect(audit).toEqual([{ correlationId: requestId, userId: owner }]);
  });

  it('never writes a Git token or a JWT, whatever was sent', async () => {
    const jwt = await app.tokenFor(owner);
    await hono.request('/api/v1/code/connect', {
      method: 'POST',
      body: JSON.stringify({ git_url: gitUrl, access_token: stack.gitToken, project_id: projectId }),
      headers: { ...jsonHeaders, authorization: `Bearer ${jwt}` },
    });
    await hono.request(`/api/v1/code/repos/${repoId}?access_token=${stack.gitToken}`, {
      headers: { authorization: `Bearer ${jwt}` },
    });
    const text = logs.text();
    expect(text.length).toBeGreaterThan(1000);
    expect(text).not.toContain(stack.gitToken);
    expect(text).not.toContain(jwt);
    expect(text).not.toContain(jwt.split('.')[2]!);
  });
});
