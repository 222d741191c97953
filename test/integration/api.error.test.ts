import { randomUUID } from 'node:crypto';
import { Client, Connection } from '@temporalio/client';
import { afterAll, describe, expect, inject, it } from 'vitest';
import { createApp } from '../../src/api/app.js';
import { createLogger } from '../../src/config/logger.js';
import { createSql } from '../../src/db/client.js';

const stack = inject('stack');
const sql = createSql(stack.databaseUrl, { max: 2 });
const connection = Connection.lazy({ address: stack.temporalAddress });
const app = createApp({
  sql,
  temporal: new Client({ connection }),
  logger: createLogger({ level: 'silent' }),
  settings: { taskQueue: `unused-${randomUUID()}`, allowLoopback: false, sandboxTtlSeconds: 60 },
});

afterAll(async () => {
  await connection.close();
  await sql.end();
});

const post = (path: string, body: string, headers: Record<string, string> = { 'content-type': 'application/json' }) =>
  app.request(path, { method: 'POST', body, headers });

describe('API errors use one envelope and never a 500 for bad input', () => {
  it('422 names every invalid field', async () => {
    const res = await post('/api/v1/code/connect', JSON.stringify({ git_url: 'ssh://example.com/r.git', access_token: 'x', project_id: 'nope', extra: 1 }));
    expect(res.status).toBe(422);
    const body = (await res.json()) as any;
    expect(body.detail.error).toBe('validation_error');
    const paths = body.detail.issues.map((i: { path: string }) => i.path);
    expect(paths).toEqual(expect.arrayContaining(['git_url', 'access_token', 'project_id']));
    expect(body.detail.issues.find((i: { path: string }) => i.path === 'git_url').message).toBe('Invalid Git repository URL format');
    expect(JSON.stringify(body)).not.toMatch(/at .*\.ts:\d+/);
  });

  it.each([
    'http://github.com/a/b.git',
    'https://user:pass@github.com/a/b.git',
    'https://github.com/a/b.git?x=1',
    'http://127.0.0.1:9000/r.git',
    'file:///etc/passwd',
    '-u https://github.com/a/b',
  ])('rejects git_url %s', async (gitUrl) => {
    const res = await post('/api/v1/code/connect', JSON.stringify({ git_url: gitUrl, access_token: 'ghp_0123456789', project_id: randomUUID() }));
    expect(res.status).toBe(422);
  });

  it('malformed JSON is a 400 in the envelope', async () => {
    const res = await post('/api/v1/code/connect', '{"git_url": ');
    expect(res.status).toBe(400);
    expect(((await res.json()) as any).detail.error).toBe('bad_request');
  });

  it('a body over 64 KiB is a 413', async () => {
    const res = await post('/api/v1/projects', JSON.stringify({ name: 'x'.repeat(70 * 1024) }));
    expect(res.status).toBe(413);
    expect(((await res.json()) as any).detail.error).toBe('payload_too_large');
  });

  it('unknown ids and routes are 404s', async () => {
    const repo = await app.request(`/api/v1/code/repos/${randomUUID()}`);
    expect(repo.status).toBe(404);
    expect(((await repo.json()) as any).detail.error).toBe('not_found');
    const route = await app.request('/api/v1/nothing-here');
    expect(route.status).toBe(404);
  });

  it('echoes a caller-supplied request id and makes one otherwise', async () => {
    const given = await app.request('/healthz', { headers: { 'x-request-id': 'abc-123' } });
    expect(given.headers.get('x-request-id')).toBe('abc-123');
    const made = await app.request('/healthz');
    expect(made.headers.get('x-request-id')).toMatch(/^[0-9a-f-]{36}$/);
  });

  it('serves the OpenAPI document generated from the request schemas', async () => {
    const res = await app.request('/openapi.json');
    const doc = (await res.json()) as any;
    const connect = doc.paths['/api/v1/code/connect'].post.requestBody.content['application/json'].schema;
    expect(connect.required).toEqual(['git_url', 'access_token', 'project_id']);
    expect(connect.additionalProperties).toBe(false);
  });
});
