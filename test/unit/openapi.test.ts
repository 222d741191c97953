import { describe, expect, it } from 'vitest';
import { createApp } from '../../src/api/app.js';
import type { ApiDeps } from '../../src/api/deps.js';
import { createLogger } from '../../src/config/logger.js';

// Building the app touches none of its dependencies, so stand-ins do here.
const app = createApp({
  sql: {} as ApiDeps['sql'],
  temporal: {} as ApiDeps['temporal'],
  keys: {} as ApiDeps['keys'],
  codec: {} as ApiDeps['codec'],
  logger: createLogger({ level: 'silent' }),
  settings: { taskQueue: 'q', allowLoopback: false, allowedGitPorts: [443], sandboxTtlSeconds: 60, admissionWaitSeconds: 30, jwtSecret: 'x'.repeat(32), allowedOrigins: [], rateLimit: { burst: 1, perMinute: 1 }, temporalUiOrigins: [], codec: { loopbackUiOrigins: [], operatorScope: 'codec:operator', maxPayloads: 100, rateLimit: { burst: 1, perMinute: 1 } } },
});

describe('the OpenAPI document', () => {
  it('lists every route the app serves, with request and response schemas', async () => {
    const doc = (await (await app.request('/openapi.json')).json()) as { paths: Record<string, Record<string, any>> };
    const served = app.routes
      .filter((r) => r.method !== 'ALL' && !['/openapi.json', '/docs'].includes(r.path) && !r.path.startsWith('/codec/'))
      .map((r) => `${r.method} ${r.path.replace(/:(\w+)/g, '{$1}')}`);
    const documented = Object.entries(doc.paths).flatMap(([path, ops]) => Object.keys(ops).map((m) => `${m.toUpperCase()} ${path}`));
    expect([...new Set(served)].sort()).toEqual(documented.sort());

    for (const [path, ops] of Object.entries(doc.paths)) {
      for (const [method, op] of Object.entries(ops)) {
        const success = Object.entries(op.responses as Record<string, any>).find(([status]) => status.startsWith('2'));
        expect(success, `${method} ${path} has a success response`).toBeDefined();
        if (path.startsWith('/api/')) {
          const content = success![1].content;
          expect((content['application/json'] ?? content['text/event-stream']).schema, `${method} ${path}`).toBeDefined();
          expect(op.responses['401'], `${method} ${path} documents 401`).toBeDefined();
          expect(op.security).toEqual([{ bearerAuth: [] }]);
        }
        if (method === 'post' && path.startsWith('/api/') && !path.endsWith('/cleanup')) {
          expect((op as any).requestBody.content['application/json'].schema.type, `${method} ${path}`).toBe('object');
        }
      }
    }
  });

  it('documents the status stream as events whose data is the status body', async () => {
    const doc = (await (await app.request('/openapi.json')).json()) as { paths: Record<string, Record<string, any>> };
    const status = doc.paths['/api/v1/code/repos/{repo_id}/status']!.get.responses['200'].content['application/json'].schema;
    expect(status.properties).toHaveProperty('bytes_received');
    expect(status.properties).toHaveProperty('bytes_per_second');
    const stream = doc.paths['/api/v1/code/repos/{repo_id}/events']!.get.responses['200'].content['text/event-stream'].schema;
    expect(stream.items.properties.data.contentSchema).toEqual(status);
  });

  it('documents the connect body exactly as validated', async () => {
    const doc = (await (await app.request('/openapi.json')).json()) as { paths: Record<string, Record<string, any>> };
    const schema = doc.paths['/api/v1/code/connect']!.post.requestBody.content['application/json'].schema;
    expect(schema.required).toEqual(['git_url', 'access_token', 'project_id']);
    expect(Object.keys(schema.properties)).toEqual(['git_url', 'access_token', 'project_id', 'request_id']);
    expect(schema.additionalProperties).toBe(false);
  });
});
