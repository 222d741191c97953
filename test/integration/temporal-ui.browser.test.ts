import { execFile } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { chmod, mkdir } from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';
import { chromium, type Browser, type Page, type Request } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { PROJECT_ROOT } from '../../src/dev-stack/paths.js';
import { createBareRepo } from '../support/git-repos.js';
import { launch, launcherEnv, stopGroup, type Launch } from '../support/launcher.js';
import { startReverseProxy, type ReverseProxy } from '../support/reverse-proxy.js';

const stack = inject('stack');
const run = promisify(execFile);

/** Debian's `chromium` (CI installs it): Playwright drives the system browser, it downloads none. */
const CHROMIUM = '/usr/bin/chromium';
/** The bound on every browser step. */
const STEP_MS = 30_000;
const EVIL = 'http://evil.example';

let launcher: Launch | undefined;
let proxy: ReverseProxy | undefined;
let browser: Browser | undefined;
let workflowId: string;
let gitUrl: string;
let projectId: string;

beforeAll(async () => {
  const dataDir = path.join(stack.workDir, `ui-${randomUUID()}`);
  await mkdir(dataDir);
  await chmod(dataDir, 0o755);
  // The test's Git server listens on loopback.
  const env = { ...(await launcherEnv(dataDir, stack.temporalCliPath)), GIT_ALLOW_LOOPBACK: 'true' };
  launcher = await launch(env, { cwd: PROJECT_ROOT, via: 'npm' });
  const { stdout: token } = await run(process.execPath, ['--import', 'tsx', 'src/dev/token.ts', 'ui-operator'], {
    env,
    cwd: PROJECT_ROOT,
  });
  const headers = { 'content-type': 'application/json', authorization: `Bearer ${token.trim()}` };
  const post = async (route: string, body: object) => {
    const res = await fetch(`${launcher!.ready.api}${route}`, { method: 'POST', headers, body: JSON.stringify(body) });
    expect(res.status).toBe(201);
    return (await res.json()) as Record<string, string>;
  };

  projectId = (await post('/api/v1/projects', { name: 'temporal ui' })).id!;
  const name = `ui-${randomUUID().slice(0, 8)}`;
  await createBareRepo(stack.gitRoot, name, { 'a.txt': 'a\n' });
  gitUrl = `${stack.gitUrl}/${name}.git`;
  workflowId = (
    await post('/api/v1/code/connect', { git_url: gitUrl, access_token: stack.gitToken, project_id: projectId })
  ).workflow_id!;

  proxy = await startReverseProxy(launcher.ready.temporalUi);
  browser = await chromium.launch({
    executablePath: CHROMIUM,
    timeout: STEP_MS,
    // Nothing but loopback: the UI's newsfeed and any other outside call fail at once, on any machine.
    args: ['--host-resolver-rules=MAP * ~NOTFOUND , EXCLUDE 127.0.0.1'],
  });
}, 240_000);

afterAll(async () => {
  await browser?.close();
  await proxy?.stop();
  if (launcher) await stopGroup(launcher.child);
});

interface Visit {
  page: Page;
  /** Every call the page made to the API's /codec/decode: its status, or why it failed. */
  codecCalls: Map<Request, { status?: number; failure?: string }>;
  /** Hosts other than loopback the page tried to reach (blocked here, whatever they are). */
  outside: Set<string>;
  /** Closes the page and returns the body of every response it received in full. */
  close(): Promise<string[]>;
}

/** Opens the workflow's page in the Temporal UI served from `origin`, in a fresh browser context. */
async function visit(origin: string): Promise<Visit> {
  const context = await browser!.newContext();
  const page = await context.newPage();
  page.setDefaultTimeout(STEP_MS);
  const isCodec = (r: Request) => r.method() === 'POST' && r.url().startsWith(`${launcher!.ready.api}/codec/decode`);
  const codecCalls: Visit['codecCalls'] = new Map();
  // A long poll the page leaves open never completes: its body is undefined once the page is closed.
  const bodies: Array<Promise<string | undefined>> = [];
  const outside = new Set<string>();
  page.on('request', (r) => {
    const { protocol, hostname } = new URL(r.url());
    if (/^https?:$/.test(protocol) && !['127.0.0.1', 'localhost', '[::1]'].includes(hostname)) outside.add(hostname);
    if (isCodec(r)) codecCalls.set(r, {});
  });
  page.on('requestfailed', (r) => isCodec(r) && codecCalls.set(r, { failure: r.failure()?.errorText ?? 'failed' }));
  page.on('response', (r) => {
    if (isCodec(r.request())) codecCalls.set(r.request(), { status: r.status() });
    bodies.push(
      r.body().then(
        (b) => b.toString('latin1'),
        () => undefined,
      ),
    );
  });
  await page.goto(`${origin}/namespaces/default/workflows/${encodeURIComponent(workflowId)}`, { timeout: STEP_MS });
  return {
    page,
    codecCalls,
    outside,
    close: async () => {
      await context.close();
      return (await Promise.all(bodies)).filter((b): b is string => b !== undefined);
    },
  };
}

/** Whether `text` holds `secret`, as it is or in any base64 string value of its JSON, at any depth. */
function reveals(text: string, secret: string, depth = 0): boolean {
  if (text.includes(secret)) return true;
  if (depth > 3) return false;
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    return false;
  }
  const strings: string[] = [];
  const walk = (v: unknown): void => {
    if (typeof v === 'string') strings.push(v);
    else if (v && typeof v === 'object') Object.values(v).forEach(walk);
  };
  walk(json);
  return strings.some(
    (s) => /^[A-Za-z0-9+/_-]+=*$/.test(s) && reveals(Buffer.from(s, 'base64').toString('latin1'), secret, depth + 1),
  );
}

/** The workflow's input as the page shows it (a read-only JSON editor labelled "Input"). */
const shownInput = (page: Page) => page.getByRole('textbox', { name: 'Input' });

describe('the Temporal Web UI of npm start', () => {
  it('shows a workflow input decoded through /codec, the access token still sealed', async () => {
    const ui = await visit(launcher!.ready.temporalUi);
    let bodies: string[];
    try {
      await shownInput(ui.page).filter({ hasText: gitUrl }).waitFor();
      // The editor renders the lines in view (the input outgrew it with the webhook secret): read the fields, not one JSON.
      const shown = await shownInput(ui.page).innerText();
      for (const field of [
        `"gitUrl": "${gitUrl}"`,
        `"projectId": "${projectId}"`,
        '"userId": "ui-operator"',
        '"sealedToken": {',
      ])
        expect(shown).toContain(field);
      expect(shown).toMatch(/"ciphertext": "[A-Za-z0-9+/]{40,}=*"/);
      expect(shown).toMatch(/"keyId": "local:/);
      const answered = [...ui.codecCalls.values()].map((c) => c.status);
      expect(answered).toContain(200);
      expect(await ui.page.content()).not.toContain(stack.gitToken);
      // The dev server runs the UI with its news feed off: the page calls nothing outside this machine.
      expect([...ui.outside]).toEqual([]);
    } finally {
      bodies = await ui.close();
    }
    // The codec's answers among them: what it decoded still holds the token sealed.
    expect(bodies.length).toBeGreaterThan(10);
    expect(bodies.filter((b) => reveals(b, stack.gitToken))).toEqual([]);
  });

  it('served from another origin, cannot decode: its codec calls are refused and the input stays encoded', async () => {
    const other = await visit(proxy!.url);
    let bodies: string[];
    try {
      await other.page.getByText('Codec Server could not connect').filter({ visible: true }).waitFor();
      await shownInput(other.page).waitFor();
      await expect
        .poll(() => [...other.codecCalls.values()].some((c) => c.status || c.failure), { timeout: STEP_MS })
        .toBe(true);
      const input = await shownInput(other.page).innerText();
      // One JSON string: the payload's encrypted bytes, base64, as Temporal stores them.
      expect(JSON.parse(input)).toEqual(expect.stringMatching(/^[A-Za-z0-9+/]{100,}=*$/));
      for (const plain of [gitUrl, projectId, 'sealedToken', stack.gitToken]) expect(input).not.toContain(plain);
      expect(await other.page.content()).not.toContain(gitUrl);
      expect(await other.page.content()).not.toContain(stack.gitToken);
      const calls = [...other.codecCalls.values()];
      expect(calls.length).toBeGreaterThan(0);
      expect(calls.filter((c) => c.status === 200)).toEqual([]);
    } finally {
      bodies = await other.close();
    }
    expect(bodies.filter((b) => reveals(b, stack.gitToken))).toEqual([]);
  });

  it("refuses a request from another origin (401, no Access-Control-Allow-Origin), and lets the UI's own through", async () => {
    const codec = `${launcher!.ready.api}/codec/decode`;
    const preflight = (origin: string) =>
      fetch(codec, {
        method: 'OPTIONS',
        headers: { origin, 'access-control-request-method': 'POST', 'access-control-request-headers': 'content-type' },
      });
    const evil = await fetch(codec, {
      method: 'POST',
      headers: { origin: EVIL, 'content-type': 'application/json' },
      body: JSON.stringify({ payloads: [] }),
    });
    expect(evil.headers.get('access-control-allow-origin')).toBeNull();
    // Refused by the server itself, not only by the browser's CORS: no operator token, and not the UI's origin.
    expect(evil.status).toBe(401);
    expect((await preflight(EVIL)).headers.get('access-control-allow-origin')).toBeNull();
    const own = await fetch(codec, {
      method: 'POST',
      headers: { origin: launcher!.ready.temporalUi, 'content-type': 'application/json' },
      body: JSON.stringify({ payloads: [] }),
    });
    expect(own.status).toBe(200);
    // The UI's own origin is let through, so the refusal above is about the origin.
    expect((await preflight(launcher!.ready.temporalUi)).headers.get('access-control-allow-origin')).toBe(
      launcher!.ready.temporalUi,
    );
  });
});
