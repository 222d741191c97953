import { execFile } from 'node:child_process';
import { randomBytes, randomUUID } from 'node:crypto';
import { readdir, readFile, lstat } from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { createBareRepo, createRepoWithHeavyHistory } from '../support/git-repos.js';
import { startGitServer, type GitServer } from '../support/git-server.js';
import { captureLogs, startAppUnderTest, waitForState, type AppUnderTest } from '../support/app-under-test.js';
import { createKmsKey, kmsClient, kmsEnv } from '../support/kms.js';

const run = promisify(execFile);
const stack = inject('stack');

/**
 * Distinctive tokens: the one the Git server accepts, and a wrong one. `+` and `/` make their
 * URL-encoded forms differ from the raw ones.
 */
const CANARY = `canary+${randomBytes(8).toString('hex')}/GOOD`;
const WRONG_CANARY = `canary+${randomBytes(8).toString('hex')}/WRONG`;

/** Every form a token could leak in: raw, URL-encoded, and base64 at each of the three alignments. */
function forms(secret: string): string[] {
  const out = new Set([secret, encodeURIComponent(secret)]);
  for (let shift = 0; shift < 3; shift += 1) {
    const b64 = Buffer.from('x'.repeat(shift) + secret).toString('base64');
    // Drop the characters that depend on the neighbours, keep the stable middle.
    out.add(b64.slice(Math.ceil((shift * 4) / 3) + 1, -3));
  }
  return [...out];
}
const NEEDLES = [...forms(CANARY), ...forms(WRONG_CANARY)];
/** A line of a committed file: read through the code-access API, and then in no history, log, row or dump. */
const CONTENT_CANARY = `content-canary-${randomBytes(8).toString('hex')}`;
/** The webhook secrets the connects answered (the one place they are shown), searched for like the tokens. */
const webhookSecrets: string[] = [];

interface Place {
  where: string;
  bytes: number;
  hits: string[];
  /** What the place must hold for its search to mean something (default 1000 bytes). */
  minBytes?: number;
}
const places: Place[] = [];
/** `contents: false` where a file's content belongs: the answers to reads of it, and the clone itself. */
function search(where: string, haystack: string | Buffer, o: { contents?: boolean } = {}): void {
  const text = typeof haystack === 'string' ? haystack : haystack.toString('latin1');
  const needles = [
    ...NEEDLES,
    ...webhookSecrets.flatMap(forms),
    ...(o.contents === false ? [] : forms(CONTENT_CANARY)),
  ];
  places.push({ where, bytes: Buffer.byteLength(text), hits: needles.filter((n) => text.includes(n)) });
}

let app: AppUnderTest;
let canaryGit: GitServer;
const logs = captureLogs();
const responses: string[] = [];
/** Answers to reads of code, whose content is the file's by design: searched for the tokens only. */
const readAnswers: Buffer[] = [];
let cmdlineBytes = 0;
const cmdlineHits = new Set<string>();
let sampling = false;

/** Reads every process's command line, again and again while clones run. */
async function sampleCommandLines(): Promise<void> {
  while (sampling) {
    for (const entry of await readdir('/proc')) {
      if (!/^\d+$/.test(entry)) continue;
      const cmdline = await readFile(`/proc/${entry}/cmdline`).catch(() => Buffer.alloc(0));
      cmdlineBytes += cmdline.length;
      const text = cmdline.toString('latin1');
      for (const n of [...NEEDLES, ...webhookSecrets.flatMap(forms)])
        if (text.includes(n)) cmdlineHits.add(`${entry}: ${n}`);
    }
    await new Promise((r) => setImmediate(r));
  }
}

/** An API call whose response body is kept for the search. */
async function api(method: string, route: string, body?: unknown): Promise<{ status: number; body: any }> {
  const res = await fetch(`${app.api.url}${route}`, {
    method,
    headers: {
      authorization: `Bearer ${await app.tokenFor()}`,
      ...(body === undefined ? {} : { 'content-type': 'application/json' }),
    },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  const parsed = JSON.parse(text);
  // The connect's answer shows its webhook secret, by design: kept aside, and searched for everywhere else.
  if (typeof parsed?.webhook_secret === 'string') {
    webhookSecrets.push(parsed.webhook_secret);
    responses.push(JSON.stringify({ ...parsed, webhook_secret: '(shown here by design)' }));
  } else {
    responses.push(text);
  }
  return { status: res.status, body: parsed };
}

async function filesUnder(dir: string): Promise<string[]> {
  const found: string[] = [];
  for (const entry of await readdir(dir).catch(() => [] as string[])) {
    const full = path.join(dir, entry);
    const stats = await lstat(full);
    if (stats.isDirectory()) found.push(...(await filesUnder(full)));
    else if (stats.isFile()) found.push(full);
  }
  return found;
}

beforeAll(async () => {
  // The whole run uses AWS KMS (moto), as production would.
  Object.assign(process.env, kmsEnv(stack.kmsEndpoint));
  const keyId = await createKmsKey(kmsClient(stack.kmsEndpoint));
  canaryGit = await startGitServer({ projectRoot: stack.gitRoot, token: CANARY });
  app = await startAppUnderTest(
    stack,
    { KMS_KEY_ID: keyId, LOG_LEVEL: 'debug', MAX_REPO_SIZE_MB: '1', SANDBOX_TTL_SECONDS: '3600' },
    { logger: logs.logger },
  );
});

afterAll(async () => {
  sampling = false;
  await app?.stop();
  await canaryGit?.stop();
});

describe('canary: the access token (and the webhook secret, and a committed file read through the API) leaks nowhere', () => {
  it('drives a canary token through every path, then finds it in no database, history, log, response, file or process list', async () => {
    const project = (await api('POST', '/api/v1/projects', { name: 'canary' })).body.id;
    const repo = `canary-${randomUUID().slice(0, 8)}`;
    await createBareRepo(stack.gitRoot, repo, { 'README.md': 'canary\n', 'data.bin': randomBytes(200_000) });
    const big = `canary-big-${randomUUID().slice(0, 8)}`;
    await createBareRepo(stack.gitRoot, big, { 'big.bin': randomBytes(1_500_000) });
    const slow = `canary-slow-${randomUUID().slice(0, 8)}`;
    await createRepoWithHeavyHistory(
      stack.gitRoot,
      slow,
      { 'old.bin': randomBytes(600_000) },
      { 'README.md': 'slow\n', 'notes.txt': `${CONTENT_CANARY}\n` },
    );
    const connect = (gitUrl: string, token = CANARY) =>
      api('POST', '/api/v1/code/connect', { git_url: gitUrl, access_token: token, project_id: project });

    sampling = true;
    const sampler = sampleCommandLines();

    // A successful connect (served slowly, so the process list is sampled during the clone), then cleanup.
    const ok = await connect(`${canaryGit.url}/slow/300000/${slow}.git`);
    expect(ok.status).toBe(201);
    await waitForState(app, ok.body.workflow_id, (s) => s.cloneStatus === 'COMPLETED');
    // Its committed file read every way the code-access API serves it: the content is in the answers, by design.
    const reads = ['files/notes.txt', 'search?q=content-canary', 'archive?format=zip'];
    for (const read of reads) {
      const res = await fetch(`${app.api.url}/api/v1/code/repos/${ok.body.repo_id}/${read}`, {
        headers: { authorization: `Bearer ${await app.tokenFor()}` },
      });
      expect(res.status, read).toBe(200);
      const body = Buffer.from(await res.arrayBuffer());
      if (!read.startsWith('archive')) expect(body.toString(), read).toContain(CONTENT_CANARY);
      readAnswers.push(body);
    }
    expect((await api('POST', `/api/v1/code/repos/${ok.body.repo_id}/cleanup`)).status).toBe(202);
    await app.temporal.workflow.getHandle(ok.body.workflow_id).result();

    // A wrong token (401), a missing repository (404), a repository too large (413).
    expect((await connect(`${canaryGit.url}/${repo}.git`, WRONG_CANARY)).status).toBe(401);
    expect((await connect(`${canaryGit.url}/missing-${randomUUID()}.git`)).status).toBe(404);
    expect((await connect(`${canaryGit.url}/${big}.git`)).status).toBe(413);

    // A transient failure, retried by the size check until it passes.
    const flaky = await connect(`${canaryGit.url}/flaky/${randomUUID()}/0/1/${repo}.git`);
    expect(flaky.status).toBe(201);
    await waitForState(app, flaky.body.workflow_id, (s) => s.cloneStatus === 'COMPLETED');

    // Retries exhausted, then the retry signal (through the API) with a new token, then cleanup.
    const failing = await connect(`${canaryGit.url}/flaky/${randomUUID()}/2/3/${repo}.git`);
    expect(failing.status).toBe(201);
    await waitForState(app, failing.body.workflow_id, (s) => s.cloneStatus === 'FAILED');
    expect(
      (await api('POST', `/api/v1/code/repos/${failing.body.repo_id}/retry`, { access_token: CANARY })).status,
    ).toBe(202);
    await waitForState(app, failing.body.workflow_id, (s) => s.cloneStatus === 'COMPLETED');
    expect((await api('POST', `/api/v1/code/repos/${failing.body.repo_id}/cleanup`)).status).toBe(202);
    await app.temporal.workflow.getHandle(failing.body.workflow_id).result();
    for (const r of [ok, flaky, failing]) await api('GET', `/api/v1/code/repos/${r.body.repo_id}/status`);

    sampling = false;
    await sampler;

    // 1. A full dump of the database.
    const { stdout: dump } = await run('pg_dump', ['--no-owner', '--data-only', stack.databaseUrl], {
      maxBuffer: 256 * 1024 * 1024,
    });
    search('pg_dump of the database', dump);
    expect(dump).toContain(ok.body.repo_id);

    // 2. Every workflow's history as the server returns it, without the codec.
    const ids: string[] = [];
    for await (const wf of app.temporal.workflow.list({ query: `TaskQueue = "${app.config.TEMPORAL_TASK_QUEUE}"` }))
      ids.push(wf.workflowId);
    expect(ids.length).toBeGreaterThanOrEqual(6);
    let histories = '';
    for (const id of ids) {
      const { stdout } = await run(
        stack.temporalCliPath,
        ['workflow', 'show', '--address', stack.temporalAddress, '--workflow-id', id, '--output', 'json'],
        { maxBuffer: 64 * 1024 * 1024 },
      );
      histories += stdout;
    }
    search(`Temporal history of ${ids.length} workflows (temporal workflow show --output json)`, histories);

    // 3. The same histories' payloads decoded through the codec endpoint the Web UI uses.
    const payloads: Array<{ metadata: Record<string, string>; data: string }> = [];
    const collect = (value: unknown) => {
      if (!value || typeof value !== 'object') return;
      const p = value as { metadata?: Record<string, Uint8Array>; data?: Uint8Array };
      if (p.metadata?.encoding && p.data) {
        payloads.push({
          metadata: Object.fromEntries(
            Object.entries(p.metadata).map(([k, v]) => [k, Buffer.from(v).toString('base64')]),
          ),
          data: Buffer.from(p.data).toString('base64'),
        });
      }
      for (const v of Object.values(value)) collect(v);
    };
    for (const id of ids) collect((await app.temporal.workflow.getHandle(id).fetchHistory()).events);
    // In requests of at most CODEC_MAX_PAYLOADS, as the Web UI sends them.
    const decodedParts: string[] = [];
    for (let i = 0; i < payloads.length; i += app.config.CODEC_MAX_PAYLOADS) {
      const decodedRes = await fetch(`${app.api.url}/codec/decode`, {
        method: 'POST',
        headers: {
          authorization: `Bearer ${await app.operatorTokenFor()}`,
          'content-type': 'application/json',
          'x-namespace': 'default',
        },
        body: JSON.stringify({ payloads: payloads.slice(i, i + app.config.CODEC_MAX_PAYLOADS) }),
      });
      expect(decodedRes.status).toBe(200);
      for (const p of ((await decodedRes.json()) as { payloads: Array<{ data?: string }> }).payloads)
        decodedParts.push(Buffer.from(p.data ?? '', 'base64').toString());
    }
    const decoded = decodedParts.join('\n');
    expect(decoded).toContain('sealedToken');
    search(`${payloads.length} history payloads decoded through /codec/decode`, decoded);

    // 4. Everything the API and the worker logged, at debug level.
    search('API and worker logs (debug)', logs.text());
    // 5. Every API response body.
    search(`${responses.length} API response bodies`, responses.join('\n'));
    search(`${readAnswers.length} answers to reads of code`, Buffer.concat(readAnswers), { contents: false });
    // Three small answers (the file, a search hit, a zip of two files): less than the 1000 bytes asked of the others.
    places.at(-1)!.minBytes = 200;
    // 6. Every file under the sandbox root (the flaky run's clone is still there).
    const files = await filesUnder(app.config.SANDBOX_BASE_PATH);
    search(
      `${files.length} files under the sandbox root`,
      Buffer.concat(await Promise.all(files.map((f) => readFile(f)))),
      { contents: false },
    );
    // 7. Command lines of all processes, sampled while the clones ran.
    places.push({
      where: 'command lines of all processes, sampled during the clones',
      bytes: cmdlineBytes,
      hits: [...cmdlineHits],
    });

    expect(webhookSecrets.length).toBeGreaterThanOrEqual(3);
    process.stdout.write(
      `canary search (${NEEDLES.length} forms of 2 tokens, and ${webhookSecrets.length} webhook secrets):\n${places.map((p) => `  ${p.where}: ${p.bytes} bytes, ${p.hits.length} hits`).join('\n')}\n`,
    );
    for (const p of places) {
      expect(p.hits, p.where).toEqual([]);
      expect(p.bytes, `${p.where} held something to search`).toBeGreaterThan(p.minBytes ?? 1000);
    }
  }, 240_000);
});
