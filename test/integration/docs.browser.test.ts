import { existsSync } from 'node:fs';
import { chromium, type Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { call, startAppUnderTest, type AppUnderTest } from '../support/app-under-test.js';

/** Debian's chromium (`.ci/run` installs it); playwright-core drives it and downloads no browser of its own. */
const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const STRICT = "default-src 'none'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'";

const stack = inject('stack');
let app: AppUnderTest;
let browser: Browser;

beforeAll(async () => {
  if (!existsSync(CHROMIUM))
    throw new Error(`No Chromium at ${CHROMIUM}: apt-get install chromium (or set CHROMIUM_PATH)`);
  app = await startAppUnderTest(stack, {}, { worker: false });
  // Root (CI) cannot use Chromium's user-namespace sandbox.
  browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox'], timeout: 60_000 });
});

afterAll(async () => {
  await browser?.close();
  await app?.stop();
});

describe('Content-Security-Policy on the running API', () => {
  it('is the strict one on JSON answers, every kind of error, the document and the metrics', async () => {
    const token = await app.tokenFor();
    const auth = { authorization: `Bearer ${token}` };
    const answers = await Promise.all([
      fetch(`${app.api.url}/api/v1/projects`, {
        method: 'POST',
        headers: { ...auth, 'content-type': 'application/json' },
        body: '{"name":"csp"}',
      }),
      fetch(`${app.api.url}/api/v1/projects/0c1e2d3f-4a5b-4c6d-8e7f-a0b1c2d3e4f5`, { headers: auth }),
      fetch(`${app.api.url}/api/v1/projects/0c1e2d3f-4a5b-4c6d-8e7f-a0b1c2d3e4f5`),
      fetch(`${app.api.url}/api/v1/projects/nope`, { headers: auth }),
      fetch(`${app.api.url}/api/v1/projects`, {
        method: 'POST',
        headers: { ...auth, 'content-type': 'application/json' },
        body: '{"name":',
      }),
      fetch(`${app.api.url}/api/v1/projects`, { method: 'PUT', headers: auth }),
      fetch(`${app.api.url}/openapi.json`),
      fetch(`${app.api.url}/metrics`),
    ]);
    expect(answers.map((r) => r.status)).toEqual([201, 404, 401, 422, 400, 405, 200, 200]);
    for (const res of answers) {
      expect(res.headers.get('content-security-policy'), res.url).toBe(STRICT);
      expect(res.headers.get('x-content-type-options'), res.url).toBe('nosniff');
    }
  });

  it("lets /docs and its assets load from the API's own origin only", async () => {
    for (const path of [
      '/docs',
      '/docs/assets/swagger-ui-bundle.js',
      '/docs/assets/swagger-ui.css',
      '/docs/assets/init.js',
    ]) {
      const csp = (await fetch(`${app.api.url}${path}`)).headers.get('content-security-policy');
      expect(csp, path).toBe(
        "default-src 'none'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; font-src 'self'; connect-src 'self'",
      );
    }
  });
});

describe('/docs in a browser', () => {
  it('renders every operation, asks nothing of another origin and breaks no rule of its CSP', async () => {
    const origin = new URL(app.api.url).origin;
    const context = await browser.newContext();
    const requested: string[] = [];
    const problems: string[] = [];
    // Recorded, and never sent: nothing leaves this machine whatever the page asks for.
    await context.route(
      (url) => url.origin !== origin && url.protocol !== 'data:',
      (route) => route.abort(),
    );
    const page = await context.newPage();
    page.on('request', (r) => requested.push(r.url()));
    page.on('console', (m) => {
      if (m.type() === 'error' || m.type() === 'warning') problems.push(`${m.type()}: ${m.text()}`);
    });
    page.on('pageerror', (err) => problems.push(`pageerror: ${err.message}`));
    // Runs in the page (as text: this project compiles without the DOM's types).
    await page.addInitScript({
      content:
        "document.addEventListener('securitypolicyviolation', (e) => console.error('CSP violation: ' + e.violatedDirective + ' ' + e.blockedURI))",
    });

    await page.goto(`${app.api.url}/docs`, { waitUntil: 'load', timeout: 30_000 });
    const doc = (await call(app, 'GET', '/openapi.json')).body as { paths: Record<string, Record<string, unknown>> };
    const operations = Object.values(doc.paths).reduce((n, ops) => n + Object.keys(ops).length, 0);
    const rendered = page.locator('.opblock');
    await expect.poll(() => rendered.count(), { timeout: 30_000 }).toBe(operations);
    const paths = await page.locator('.opblock-summary-path').allInnerTexts();
    expect(paths.map((p) => p.replace(/\u200b/g, ''))).toContain('/api/v1/code/connect');
    expect(await page.locator('.info .title').innerText()).toContain('repo-connector');

    const offOrigin = requested.filter((u) => !u.startsWith('data:') && new URL(u).origin !== origin);
    expect(offOrigin).toEqual([]);
    expect(requested).toContain(`${origin}/openapi.json`);
    expect(problems).toEqual([]);
    console.log(
      `/docs loaded ${requested.length} URLs, all on ${origin}: ${[...new Set(requested.map((u) => (u.startsWith('data:') ? 'data:' : new URL(u).pathname)))].join(', ')}`,
    );
    await context.close();
  });
});
