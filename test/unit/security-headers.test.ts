import { sign } from 'hono/jwt';
import { describe, expect, it } from 'vitest';
import { serveMetrics } from '../../src/observability/metrics-server.js';
import { STAND_IN_JWT_SECRET, standInApp } from '../support/stand-in-app.js';

const app = standInApp();
const STRICT = "default-src 'none'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'";
const bearer = async () => ({
  authorization: `Bearer ${await sign({ sub: 'u', exp: Math.floor(Date.now() / 1000) + 60 }, STAND_IN_JWT_SECRET, 'HS256')}`,
});

describe('Content-Security-Policy', () => {
  it('is the strict one on JSON answers and errors', async () => {
    const answers = [
      await app.request('/healthz'),
      await app.request('/openapi.json'),
      await app.request('/nowhere'),
      await app.request('/api/v1/projects/not-a-uuid'),
      await app.request('/api/v1/projects/not-a-uuid', { headers: await bearer() }),
      await app.request('/healthz', { method: 'PUT' }),
    ];
    expect(answers.map((r) => r.status)).toEqual([200, 200, 404, 401, 422, 405]);
    for (const res of answers) {
      expect(res.headers.get('content-security-policy'), res.url).toBe(STRICT);
      expect(res.headers.get('x-content-type-options')).toBe('nosniff');
    }
  });

  it('is the strict one on a metrics port of its own, also when it refuses', async () => {
    const metrics = await serveMetrics('127.0.0.1', 0, 't'.repeat(16));
    try {
      const answers = await Promise.all([
        fetch(`http://127.0.0.1:${metrics.port}/metrics`, { headers: { authorization: `Bearer ${'t'.repeat(16)}` } }),
        fetch(`http://127.0.0.1:${metrics.port}/metrics`),
        fetch(`http://127.0.0.1:${metrics.port}/elsewhere`),
      ]);
      expect(answers.map((r) => r.status)).toEqual([200, 401, 404]);
      for (const res of answers) expect(res.headers.get('content-security-policy')).toBe(STRICT);
    } finally {
      await metrics.stop();
    }
  });

  it('lets the docs page load only from its own origin, with no inline script or style', async () => {
    for (const path of [
      '/docs',
      '/docs/assets/swagger-ui-bundle.js',
      '/docs/assets/swagger-ui.css',
      '/docs/assets/init.js',
      '/docs/assets/favicon-32x32.png',
    ]) {
      const res = await app.request(path);
      expect(res.status, path).toBe(200);
      const csp = res.headers.get('content-security-policy')!;
      expect(csp, path).toContain("default-src 'none'");
      expect(csp).toContain("script-src 'self';");
      expect(csp).toContain("style-src 'self';");
      expect(csp).toContain("connect-src 'self'");
      expect(csp).toContain("frame-ancestors 'none'");
      expect(csp).not.toMatch(/unsafe|https?:|\*/);
    }
  });
});

describe('the docs page', () => {
  it('names no other origin and loads only the files the API serves', async () => {
    const html = await (await app.request('/docs')).text();
    expect(html).not.toMatch(/https?:\/\//);
    const loads = [...html.matchAll(/(?:src|href)="([^"]+)"/g)].map((m) => m[1]!);
    expect(loads.sort()).toEqual([
      '/docs/assets/favicon-32x32.png',
      '/docs/assets/init.js',
      '/docs/assets/swagger-ui-bundle.js',
      '/docs/assets/swagger-ui.css',
    ]);
    expect(html).not.toMatch(/<script>|<style|style=/);
    const init = await (await app.request('/docs/assets/init.js')).text();
    expect(init).toContain("url: '/openapi.json'");
    expect(init).toContain('validatorUrl: null');
  });

  it('serves only the listed files of the package', async () => {
    for (const path of [
      '/docs/assets/index.html',
      '/docs/assets/package.json',
      '/docs/assets/..%2fpackage.json',
      '/docs/assets/swagger-ui.js.map',
    ]) {
      expect((await app.request(path)).status, path).toBe(404);
    }
    const bundle = await app.request('/docs/assets/swagger-ui-bundle.js');
    expect(bundle.headers.get('content-type')).toBe('text/javascript; charset=utf-8');
  });
});

describe('methods', () => {
  it('answers a method a path does not serve with 405, Allow and the error envelope', async () => {
    const put = await app.request('/healthz', { method: 'PUT' });
    expect(put.status).toBe(405);
    expect(put.headers.get('allow')).toBe('GET, HEAD');
    expect(await put.json()).toEqual({
      detail: { error: 'method_not_allowed', message: 'PUT is not allowed on /healthz; allowed: GET, HEAD' },
    });
    const patch = await app.request('/api/v1/code/repos/0c1e2d3f-4a5b-4c6d-8e7f-a0b1c2d3e4f5', {
      method: 'PATCH',
      headers: await bearer(),
    });
    expect(patch.status).toBe(405);
    expect(patch.headers.get('allow')).toBe('DELETE, GET, HEAD');
    const get = await app.request('/api/v1/code/connect', { headers: await bearer() });
    expect([get.status, get.headers.get('allow')]).toEqual([405, 'POST']);
  });

  it('still answers 401 before the method for the authenticated API, and 404 for an unknown path', async () => {
    expect((await app.request('/api/v1/code/connect', { method: 'GET' })).status).toBe(401);
    const missing = await app.request('/api/v1/nothing', { headers: await bearer() });
    expect(missing.status).toBe(404);
    expect(missing.headers.get('allow')).toBeNull();
  });
});
