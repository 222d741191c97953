import { describe, expect, it } from 'vitest';
import { gitUrlPattern } from '../../src/api/git-url-pattern.js';
import { openApiDocument } from '../../src/api/openapi.js';
import { CURSOR_PATTERN, decodeCursor, encodeCursor } from '../../src/api/pagination.js';
import { createProjectSchema } from '../../src/api/schemas.js';
import { gitUrlProblem } from '../../src/egress/git-url.js';
import { envSchema, readBoundsOf } from '../../src/config/env.js';
import { standInApp } from '../support/stand-in-app.js';

const app = standInApp();
type Doc = { paths: Record<string, Record<string, any>> };
const operations = (doc: Doc) =>
  Object.entries(doc.paths).flatMap(([path, ops]) => Object.entries(ops).map(([method, op]) => ({ path, method, op })));

describe('the OpenAPI document', () => {
  it('lists every route the app serves, with request and response schemas', async () => {
    const doc = (await (await app.request('/openapi.json')).json()) as Doc;
    const served = app.routes
      .filter(
        (r) =>
          r.method !== 'ALL' &&
          r.path !== '/openapi.json' &&
          !r.path.startsWith('/docs') &&
          !r.path.startsWith('/codec/') &&
          r.path !== '/mcp',
      )
      .map((r) => `${r.method} ${r.path.replace(/:(\w+)/g, '{$1}').replace(/\/\*$/, '/{path}')}`);
    const documented = Object.entries(doc.paths).flatMap(([path, ops]) =>
      Object.keys(ops).map((m) => `${m.toUpperCase()} ${path}`),
    );
    expect([...new Set(served)].sort()).toEqual(documented.sort());

    for (const [path, ops] of Object.entries(doc.paths)) {
      for (const [method, op] of Object.entries(ops)) {
        const success = Object.entries(op.responses as Record<string, any>).find(([status]) => status.startsWith('2'));
        expect(success, `${method} ${path} has a success response`).toBeDefined();
        if (path.startsWith('/api/')) {
          const content = success![1].content;
          expect((Object.values(content)[0] as { schema: unknown }).schema, `${method} ${path}`).toBeDefined();
          expect(op.responses['401'], `${method} ${path} documents 401`).toBeDefined();
          // The push webhooks are authenticated by their signature: a Git server cannot carry a bearer token.
          expect(op.security).toEqual(path.startsWith('/api/v1/hooks/') ? [] : [{ bearerAuth: [] }]);
        }
        // cleanup and sync take no body.
        if (method === 'post' && path.startsWith('/api/') && !/\/(cleanup|sync)$/.test(path)) {
          expect(op.requestBody.content['application/json'].schema.type, `${method} ${path}`).toBe('object');
        }
      }
    }
  });

  it('documents the status stream as events whose data is the status body', async () => {
    const doc = (await (await app.request('/openapi.json')).json()) as { paths: Record<string, Record<string, any>> };
    const status =
      doc.paths['/api/v1/code/repos/{repo_id}/status']!.get.responses['200'].content['application/json'].schema;
    expect(status.properties).toHaveProperty('bytes_received');
    expect(status.properties).toHaveProperty('bytes_per_second');
    const stream =
      doc.paths['/api/v1/code/repos/{repo_id}/events']!.get.responses['200'].content['text/event-stream'].schema;
    expect(stream.items.properties.data.contentSchema).toEqual(status);
  });

  it('documents the connect body exactly as validated', async () => {
    const doc = (await (await app.request('/openapi.json')).json()) as { paths: Record<string, Record<string, any>> };
    const schema = doc.paths['/api/v1/code/connect']!.post.requestBody.content['application/json'].schema;
    expect(schema.required).toEqual(['git_url', 'access_token', 'project_id']);
    expect(Object.keys(schema.properties)).toEqual([
      'git_url',
      'access_token',
      'project_id',
      'request_id',
      'ref',
      'sync_interval_seconds',
    ]);
    // The range the API enforces: SYNC_MIN_INTERVAL_SECONDS up to SANDBOX_TTL_SECONDS (the stand-in app's 60 and 60).
    expect(schema.properties.sync_interval_seconds).toMatchObject({ type: 'integer', minimum: 60, maximum: 60 });
    expect(schema.additionalProperties).toBe(false);
  });
});

describe('the document states every status and header, and every input rule', () => {
  const doc = openApiDocument({
    allowLoopback: false,
    allowedGitPorts: [443],
    sandboxTtlSeconds: 86400,
    sync: { minIntervalSeconds: 60 },
    readBounds: readBoundsOf(envSchema.parse({})),
  }) as unknown as Doc;

  it('every response names X-Request-Id; authenticated routes their 401, 422, 500 and 502; JSON bodies their 400', () => {
    for (const { path, method, op } of operations(doc)) {
      for (const [status, response] of Object.entries(op.responses as Record<string, any>)) {
        expect(response.headers['X-Request-Id'], `${method} ${path} ${status}`).toMatchObject({ required: true });
      }
      if (path.startsWith('/api/')) {
        for (const status of ['401', '422', '500', '502'])
          expect(op.responses[status], `${method} ${path} ${status}`).toBeDefined();
      }
      if (op.requestBody) expect(op.responses['400'], `${method} ${path} documents 400`).toBeDefined();
      if (method === 'post') expect(op.responses['429'], `${method} ${path} documents 429`).toBeDefined();
    }
  });

  it('names the headers it sends where it sends them', () => {
    const connect = doc.paths['/api/v1/code/connect']!.post.responses;
    expect(connect['202'].headers['Retry-After']).toMatchObject({ required: true });
    expect(connect['201'].headers['Idempotent-Replayed'].schema).toEqual({ type: 'string', const: 'true' });
    expect(connect['201'].headers['Cache-Control']).toMatchObject({
      required: true,
      schema: { type: 'string', const: 'no-store' },
    });
    expect(connect['429'].headers['Retry-After']).toMatchObject({ required: false });
    expect(connect['401'].headers['WWW-Authenticate']).toBeDefined();
    const list = doc.paths['/api/v1/code/projects/{project_id}/repos']!.get;
    expect(list.responses['200'].headers['X-Next-Cursor'].schema.pattern).toBe(CURSOR_PATTERN.source);
    expect(list.parameters.find((p: { name: string }) => p.name === 'cursor').schema.pattern).toBe(
      CURSOR_PATTERN.source,
    );
  });

  it('gives git_url the pattern the API checks, a part of what the egress rules accept', () => {
    const strict = { allowLoopback: false, allowedPorts: [443] };
    const local = { allowLoopback: true, allowedPorts: [443] };
    const ports = { allowLoopback: false, allowedPorts: [443, 8443] };
    const gitUrl =
      doc.paths['/api/v1/code/connect']!.post.requestBody.content['application/json'].schema.properties.git_url;
    expect(gitUrl.pattern).toBe(gitUrlPattern(strict).source);
    const withLoopback = (
      openApiDocument({
        allowLoopback: true,
        allowedGitPorts: [443],
        sandboxTtlSeconds: 86400,
        sync: { minIntervalSeconds: 60 },
        readBounds: readBoundsOf(envSchema.parse({})),
      }) as unknown as Doc
    ).paths['/api/v1/code/connect']!.post.requestBody.content['application/json'].schema.properties.git_url;
    expect(withLoopback.pattern).toBe(gitUrlPattern(local).source);
    const matching = [
      'https://github.com/octocat/Hello-World.git',
      'https://gitlab.example.org:443/group/sub/repo',
      'https://a.b/c/',
      'https://git.example.com/~user/r.git',
      'https://x-y.example.com/a;b=c/@d',
      'https://a.com/x%20y',
    ];
    for (const policy of [strict, local, ports]) {
      for (const url of matching) {
        expect(gitUrlPattern(policy).test(url), url).toBe(true);
        expect(gitUrlProblem(url, policy), url).toBeUndefined();
      }
    }
    expect(gitUrlPattern(ports).test('https://gitlab.example.org:8443/group/repo')).toBe(true);
    expect(gitUrlPattern(strict).test('https://gitlab.example.org:8443/group/repo')).toBe(false);
    for (const url of [
      'http://127.0.0.1:8080/r.git',
      'https://localhost/r',
      'http://[::1]:9/r',
      'https://127.1.2.3/r',
    ]) {
      expect(gitUrlPattern(local).test(url), url).toBe(true);
      expect(gitUrlProblem(url, local), url).toBeUndefined();
      expect(gitUrlPattern(strict).test(url), url).toBe(false);
    }
    // Refused by the pattern (the egress rules refuse most of these too; the pattern is the narrower).
    for (const url of [
      'http://github.com/a/b.git',
      'https://user:pass@github.com/a',
      'https://github.com/a?x=1',
      'https://github.com/a#main',
      'https://github.com',
      'https://github.com/',
      'https://github.com/.',
      'https://github.com/a/..',
      'https://github.com/%2e',
      'https://10.0.0.1/r',
      'https://2130706433/r',
      'https://0x7f.1/r',
      'https://a.1/r',
      'https://xn--zz.com/r',
      'https://a.com:0/r',
      'https://a.com:65536/r',
      'https://a .com/r',
      'https://a.com/r\n',
      'ext::sh -c x',
      'https://GitHub.com/a',
      'https://github.com./a',
      'https://metadata.google.internal/a',
      'https://git.local:443/a',
      'https://a.com/x%0d%0a',
      'https://a.com/x%7f',
      'https://gitlab/a',
    ]) {
      expect(gitUrlPattern(local).test(url), url).toBe(false);
    }
  });

  it('gives the cursor the pattern that is its whole rule', () => {
    const id = '0c1e2d3f-4a5b-4c6d-8e7f-a0b1c2d3e4f5';
    expect(encodeCursor({ id })).toMatch(CURSOR_PATTERN);
    expect(decodeCursor(encodeCursor({ id }))).toBe(id);
    // Any string of the pattern is a cursor: 16 bytes, an id the database can compare.
    expect(decodeCursor('_____________________w')).toBe('ffffffff-ffff-ffff-ffff-ffffffffffff');
    expect(CURSOR_PATTERN.test('garbage')).toBe(false);
  });

  it('judges a project name as the document states it: length before trimming, not blank, no NUL (PostgreSQL cannot store one)', () => {
    const name = doc.paths['/api/v1/projects']!.post.requestBody.content['application/json'].schema.properties.name;
    expect(name.maxLength).toBe(200);
    expect(createProjectSchema.safeParse({ name: '  demo ' }).data).toEqual({ name: 'demo' });
    expect(createProjectSchema.safeParse({ name: ` ${'x'.repeat(200)}` }).success).toBe(false);
    for (const blank of [' ', '\t\n', '\u00a0', '\ufeff', '\u3000', 'a\u0000', '\u00b0\u0000']) {
      expect(createProjectSchema.safeParse({ name: blank }).success, JSON.stringify(blank)).toBe(false);
      expect(new RegExp(name.pattern).test(blank), JSON.stringify(blank)).toBe(false);
    }
  });
});
