import { randomUUID } from 'node:crypto';
import { rm } from 'node:fs/promises';
import path from 'node:path';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { afterAll, beforeAll, describe, expect, inject, it, vi } from 'vitest';
import { signReadToken } from '../../src/crypto/read-token.js';
import { advertiseReadHost } from '../../src/db/read-hosts.js';
import { startReadService, type ReadService } from '../../src/read-service/start-read-service.js';
import { hostTaskQueueOf, startWorkerService, type WorkerService } from '../../src/worker/start-worker.js';
import { call, captureLogs, startAppUnderTest, waitForState, type AppUnderTest } from '../support/app-under-test.js';
import {
  BIG_LINE,
  BINARY,
  LFS_POINTER,
  createCodeReadRepo,
  git,
  type CodeReadRepo,
} from '../support/code-read-repo.js';
import { createRepoWithHeavyHistory, pushCommit } from '../support/git-repos.js';

/*
 * Reads of connected code through the API, served by the read service of the worker host whose
 * disk holds the clone: host A (beside the API) and host B (started later, its own sandbox root).
 */
const stack = inject('stack');
const logs = captureLogs();
let app: AppUnderTest;
let projectId: string;
let source: CodeReadRepo;
let bare: string;
let repoId: string;
let workflowId: string;

const base = (id = repoId) => `${app.api.url}/api/v1/code/repos/${id}`;

/** A GET of the API with the default user's token (or `as`'s), answered as it came. */
async function get(url: string, headers: Record<string, string> = {}, as?: string): Promise<Response> {
  return fetch(url, { headers: { authorization: `Bearer ${await app.tokenFor(as)}`, ...headers } });
}
const getJson = async (url: string, headers: Record<string, string> = {}, as?: string) => {
  const res = await get(url, headers, as);
  return { status: res.status, headers: res.headers, body: (await res.json()) as any };
};

async function connect(gitUrl: string, as?: string, project = projectId) {
  const res = await call(
    app,
    'POST',
    '/api/v1/code/connect',
    { git_url: gitUrl, access_token: stack.gitToken, project_id: project },
    as,
  );
  expect(res.status, JSON.stringify(res.body)).toBe(201);
  return res.body as { repo_id: string; workflow_id: string };
}

beforeAll(async () => {
  app = await startAppUnderTest(
    stack,
    { SANDBOX_TTL_SECONDS: '3600', READ_MAX_FILE_BYTES: String(64 * 1024) },
    { logger: logs.logger },
  );
  projectId = (await call(app, 'POST', '/api/v1/projects', { name: 'code-read' })).body.id;
  source = await createCodeReadRepo();
  const name = `code-read-${randomUUID().slice(0, 8)}`;
  bare = path.join(stack.gitRoot, `${name}.git`);
  git(stack.gitRoot, 'clone', '--quiet', '--bare', source.dir, bare);
  // The source has its first commit checked out; the served repository's default branch is main.
  git(bare, 'symbolic-ref', 'HEAD', 'refs/heads/main');
  ({ repo_id: repoId, workflow_id: workflowId } = await connect(`${stack.gitUrl}/${name}.git`));
  await waitForState(app, workflowId, (s) => s.cloneStatus === 'COMPLETED');
}, 120_000);

afterAll(async () => {
  await app?.stop();
  if (source) await rm(source.dir, { recursive: true, force: true });
});

describe('reading a connected repository by commit', () => {
  it('lists the tree, paged by cursor, with symlinks and submodules as entries', async () => {
    const root = await getJson(`${base()}/tree`);
    expect(root.status).toBe(200);
    expect(root.body.commit).toBe(source.second);
    const names = root.body.entries.map((e: { path: string }) => e.path);
    expect(names).toEqual(expect.arrayContaining(['README.md', 'src', 'link-out', 'vendor']));
    expect(root.body.entries.find((e: { path: string }) => e.path === 'link-out')).toMatchObject({
      type: 'symlink',
      target: '../../etc/passwd',
    });

    const seen: string[] = [];
    let cursor: string | null = null;
    for (let page = 0; page < 10; page++) {
      const q: string = `${base()}/tree?path=many&limit=1000${cursor ? `&cursor=${cursor}` : ''}`;
      const res = await getJson(q);
      expect(res.status).toBe(200);
      seen.push(...res.body.entries.map((e: { path: string }) => e.path));
      cursor = res.body.next_cursor;
      if (!cursor) break;
    }
    expect(seen).toHaveLength(2500);
    expect(new Set(seen).size).toBe(2500);

    const sub = await getJson(`${base()}/tree?path=vendor`);
    expect(sub.body.entries).toEqual([
      expect.objectContaining({ path: 'vendor/sub', type: 'submodule', oid: source.submodule }),
    ]);
  });

  it('reads a file as JSON and raw, by line range, and answers 304 to its ETag', async () => {
    const file = await getJson(`${base()}/files/README.md`);
    expect(file.status).toBe(200);
    expect(file.body).toMatchObject({
      content: 'hello world\nsecond line\nthird line\n',
      encoding: 'utf-8',
      lines: 3,
      truncated: false,
      binary: false,
      lfs_pointer: null,
    });
    const etag = file.headers.get('etag');
    expect(etag).toBe(`"${file.body.oid}.${file.body.commit}"`);
    expect(file.headers.get('vary')).toMatch(/\bAccept\b/);
    expect((await get(`${base()}/files/README.md`, { 'if-none-match': etag! })).status).toBe(304);
    expect((await get(`${base()}/files/README.md`, { 'if-none-match': `"other", W/${etag!}` })).status).toBe(304);
    // The raw bytes' tag is the blob's id alone, and never revalidates the JSON.
    const rawTag = (await get(`${base()}/files/README.md`, { accept: 'application/octet-stream' })).headers.get('etag');
    expect(rawTag).toBe(`"${file.body.oid}"`);
    expect((await get(`${base()}/files/README.md`, { 'if-none-match': rawTag! })).status).toBe(200);

    const range = await getJson(`${base()}/files/README.md?start_line=2&end_line=2`);
    expect(range.body).toMatchObject({ content: 'second line\n', start_line: 2, lines: 1 });

    const raw = await get(`${base()}/files/assets/logo.png`, { accept: 'application/octet-stream' });
    expect(raw.status).toBe(200);
    expect(raw.headers.get('content-type')).toBe('application/octet-stream');
    expect(Buffer.from(await raw.arrayBuffer())).toEqual(Buffer.concat([BINARY, BINARY]));

    const binary = await getJson(`${base()}/files/assets/logo.png`);
    expect(binary.body).toMatchObject({
      binary: true,
      encoding: 'base64',
      content: Buffer.concat([BINARY, BINARY]).toString('base64'),
    });
    const lfs = await getJson(`${base()}/files/assets/model.bin`);
    expect(lfs.body.lfs_pointer).toEqual({ oid: `sha256:${'ab'.repeat(32)}`, size: 123456 });
    expect(lfs.body.content).toBe(LFS_POINTER);
    const link = await getJson(`${base()}/files/link-out`);
    expect(link.body).toMatchObject({ type: 'symlink', content: '../../etc/passwd' });
  });

  it('cuts a 5 MB file at READ_MAX_FILE_BYTES, and reads on by range', async () => {
    const cut = await getJson(`${base()}/files/big.txt`);
    expect(cut.body.truncated).toBe(true);
    expect(cut.body.size).toBe(5 * 1024 * 1024);
    expect(Buffer.byteLength(cut.body.content)).toBe(64 * 1024);
    const further = await getJson(`${base()}/files/big.txt?start_line=70000&end_line=70001`);
    expect(further.body).toMatchObject({
      truncated: false,
      content: BIG_LINE(70000) + BIG_LINE(70001),
      start_line: 70000,
    });
    const more = await getJson(`${base()}/files/big.txt?max_bytes=${128 * 1024}`);
    expect(Buffer.byteLength(more.body.content)).toBe(128 * 1024);
  });

  it('searches the tree, and archives a commit byte for byte as git archive does', async () => {
    const found = await getJson(`${base()}/search?q=NEEDLE&paths=src`);
    expect(found.status).toBe(200);
    expect(found.body.matches).toEqual([
      { path: 'src/nested/deep/b.ts', line: 1, column: 14, preview: 'export const NEEDLE = 1;' },
    ]);
    const insensitive = await getJson(`${base()}/search?q=NEEDLE&case=insensitive&paths=src&commit=${source.first}`);
    expect(insensitive.body.matches.map((m: { path: string }) => m.path)).toEqual(['src/a.ts', 'src/nested/deep/b.ts']);

    for (const format of ['tar.gz', 'zip']) {
      const res = await get(`${base()}/archive?format=${format}&paths=src`);
      expect(res.status).toBe(200);
      const expected = git(bare, 'archive', `--format=${format}`, source.second, '--', 'src');
      expect(Buffer.from(await res.arrayBuffer()).equals(expected), format).toBe(true);
    }
    const head = await fetch(`${base()}/archive`, {
      method: 'HEAD',
      headers: { authorization: `Bearer ${await app.tokenFor()}` },
    });
    expect(head.status).toBe(200);
    expect(head.headers.get('content-disposition')).toMatch(/^attachment; filename=/);
    const audit = await app.sql<{ metadata: Record<string, unknown>; userId: string }[]>`
      select metadata, user_id from audit_log where repo_id = ${repoId} and action = 'archive_downloaded'`;
    expect(audit).toHaveLength(2);
    expect(audit[0]!.metadata).toMatchObject({ commit: source.second, paths: ['src'] });
  });

  it('refuses what is not a path, a commit or a repository of the caller', async () => {
    const dotdot = await getJson(`${base()}/files/..%2Fx`);
    expect(dotdot.status).toBe(422);
    expect(dotdot.body.detail.message).toMatch(/path/);
    expect((await getJson(`${base()}/tree?path=..%2Fetc`)).status).toBe(422);
    expect((await getJson(`${base()}/files/nope.txt`)).body.detail.error).toBe('path_not_found');
    expect((await getJson(`${base()}/tree?commit=${'0'.repeat(40)}`)).body.detail.error).toBe('commit_not_found');
    const other = await getJson(`${base()}/tree`, {}, `other-${randomUUID()}`);
    expect(other.status).toBe(404);
    expect((await getJson(`${base()}/tree?limt=5`)).status).toBe(422);
  });

  it('compares across a sync, and keeps reading the commit it moved from', async () => {
    await pushCommit(bare, { 'NEW.md': 'pushed\n' }, 'pushed after connect');
    expect((await call(app, 'POST', `/api/v1/code/repos/${repoId}/sync`)).status).toBe(202);
    const head = await vi.waitFor(
      async () => {
        const [row] = await app.sql<{ headCommit: string }[]>`select head_commit from code_repos where id = ${repoId}`;
        if (row!.headCommit === source.second) throw new Error('not synced yet');
        return row!.headCommit;
      },
      { timeout: 30_000, interval: 100 },
    );
    // The row moves first; the workflow hears of it a moment later.
    await waitForState(app, workflowId, (s) => s.stage === 'ready');

    const moved = await getJson(`${base()}/tree`);
    expect(moved.body.commit).toBe(head);
    const diff = await getJson(`${base()}/compare?base=${source.second}&patch=true`);
    expect(diff.body).toMatchObject({
      base: source.second,
      head,
      files: [{ path: 'NEW.md', status: 'added', additions: 1, deletions: 0 }],
    });
    expect(diff.body.patch.text).toContain('+pushed');
    const old = await getJson(`${base()}/files/src/a.ts?commit=${source.first}`);
    expect(old.body.content).toBe("export const x = 'needle';\n");
    const history = await getJson(`${base()}/commits?limit=2`);
    expect(history.body.commits.map((c: { oid: string }) => c.oid)).toEqual([head, source.second]);
    expect(history.body.next_cursor).not.toBeNull();
  });

  it('accounts every read: the access log, without contents, and the metrics', async () => {
    const lines = logs.lines().filter((l) => l.msg === 'code read');
    const file = lines.find((l) => l.op === 'files' && l.path === 'README.md' && l.outcome === 'ok');
    expect(file).toMatchObject({ repoId, userId: 'test-user', resolvedCommit: source.second });
    expect(file!.bytes).toBeGreaterThan(0);
    expect(logs.text()).not.toContain('hello world');
    const scrape = await (await fetch(`${app.api.url}/metrics`)).text();
    expect(scrape).toMatch(/repo_reads_total\{op="files",outcome="ok"\} \d+/);
    expect(scrape).toMatch(/repo_reads_total\{op="files",outcome="path_not_found"\} 1/);
    expect(scrape).toMatch(/repo_read_bytes_total\{op="archive"\} [1-9]/);
  });
});

describe('the MCP endpoint for agents', () => {
  /** The SDK's own client over Streamable HTTP, with `as`'s token (none: no Authorization at all). */
  async function mcpClient(token: string | undefined) {
    const client = new Client({ name: 'code-read-test', version: '1.0.0' });
    const headers: Record<string, string> = token ? { authorization: `Bearer ${token}` } : {};
    await client.connect(
      new StreamableHTTPClientTransport(new URL(`${app.api.url}/mcp`), { requestInit: { headers } }),
    );
    return client;
  }
  const textOf = (result: Awaited<ReturnType<Client['callTool']>>) =>
    JSON.parse((result.content as Array<{ text: string }>)[0]!.text);

  it('lists the tools and answers each, through the same checks as the REST reads', async () => {
    const client = await mcpClient(await app.tokenFor());
    try {
      const { tools } = await client.listTools();
      expect(tools.map((t) => t.name).sort()).toEqual([
        'compare_commits',
        'list_files',
        'list_repositories',
        'read_file',
        'repository_status',
        'search_code',
        'sync_repository',
      ]);
      const listed = textOf(await client.callTool({ name: 'list_repositories', arguments: {} }));
      expect(listed.repositories.map((r: { id: string }) => r.id)).toContain(repoId);
      const status = textOf(await client.callTool({ name: 'repository_status', arguments: { repo_id: repoId } }));
      expect(status.clone_status).toBe('COMPLETED');
      const files = textOf(
        await client.callTool({ name: 'list_files', arguments: { repo_id: repoId, path: 'src/nested' } }),
      );
      expect(files.entries.map((e: { path: string }) => e.path)).toEqual(['src/nested/deep']);
      const file = textOf(
        await client.callTool({
          name: 'read_file',
          arguments: { repo_id: repoId, path: 'README.md', start_line: 2, end_line: 2 },
        }),
      );
      expect(file).toMatchObject({ content: 'second line\n', start_line: 2 });
      const found = textOf(
        await client.callTool({ name: 'search_code', arguments: { repo_id: repoId, q: 'NEEDLE', paths: ['src'] } }),
      );
      expect(found.matches).toEqual([expect.objectContaining({ path: 'src/nested/deep/b.ts', line: 1 })]);
      const diff = textOf(
        await client.callTool({
          name: 'compare_commits',
          arguments: { repo_id: repoId, base: source.first, head: source.second },
        }),
      );
      expect(diff.files.map((f: { path: string }) => f.path)).toContain('gone.txt');
      const sync = textOf(await client.callTool({ name: 'sync_repository', arguments: { repo_id: repoId } }));
      expect(sync).toMatchObject({ repo_id: repoId, clone_status: 'COMPLETED' });

      const escape = await client.callTool({ name: 'read_file', arguments: { repo_id: repoId, path: '../x' } });
      expect(escape.isError).toBe(true);
      const big = await client.callTool({
        name: 'read_file',
        arguments: { repo_id: repoId, path: 'big.txt', max_bytes: 1 << 30 },
      });
      expect(big.isError).toBe(true);
    } finally {
      await client.close();
    }
  });

  it('takes one message per request: a JSON-RPC batch is refused', async () => {
    const call = { jsonrpc: '2.0', method: 'tools/list', id: 1 };
    const res = await fetch(`${app.api.url}/mcp`, {
      method: 'POST',
      headers: {
        authorization: `Bearer ${await app.tokenFor()}`,
        'content-type': 'application/json',
        accept: 'application/json, text/event-stream',
      },
      body: JSON.stringify([call, { ...call, id: 2 }]),
    });
    expect(res.status).toBe(400);
    expect(((await res.json()) as { error: { code: number } }).error.code).toBe(-32600);
  });

  it("refuses a caller without a token, and never shows another user's repository", async () => {
    await expect(mcpClient(undefined)).rejects.toThrow(/401|unauthorized/i);
    const stranger = await mcpClient(await app.tokenFor(`stranger-${randomUUID()}`));
    try {
      expect(textOf(await stranger.callTool({ name: 'list_repositories', arguments: {} })).repositories).toEqual([]);
      const theirs = await stranger.callTool({ name: 'read_file', arguments: { repo_id: repoId, path: 'README.md' } });
      expect(theirs.isError).toBe(true);
      expect(textOf(theirs)).toMatchObject({ error: 'not_found' });
    } finally {
      await stranger.close();
    }
  });
});

describe('before the clone is kept, and after', () => {
  it('answers 409 not_ready while cloning, with Retry-After, and 410 once disconnected', async () => {
    const name = `code-read-slow-${randomUUID().slice(0, 8)}`;
    await createRepoWithHeavyHistory(
      stack.gitRoot,
      name,
      { 'old.bin': Buffer.alloc(800_000, 7) },
      { 'README.md': 'slow\n' },
    );
    const slow = await connect(`${stack.gitUrl}/slow/100000/${name}.git`);
    const early = await getJson(`${base(slow.repo_id)}/tree`);
    expect(early.status).toBe(409);
    expect(early.body.detail).toMatchObject({ error: 'not_ready' });
    expect(['PENDING', 'CLONING']).toContain(early.body.detail.clone_status);
    expect(early.headers.get('retry-after')).toBe('5');
    expect((await call(app, 'DELETE', `/api/v1/code/repos/${slow.repo_id}`)).status).toBe(202);
    const gone = await getJson(`${base(slow.repo_id)}/files/README.md`);
    expect(gone.status).toBe(410);
    expect(gone.body.detail.error).toBe('gone');
  });
});

describe('served by the host that holds the clone', () => {
  let workerB: WorkerService;
  let readB: ReadService;
  let onB: string;

  beforeAll(async () => {
    // Host A stops taking work (its read service goes on serving its clone); host B takes what comes next.
    await app.worker!.stop();
    const configB = {
      ...app.config,
      WORKER_HOST_ID: `host-b-${randomUUID().slice(0, 8)}`,
      SANDBOX_BASE_PATH: `${app.config.SANDBOX_BASE_PATH}-b`,
    };
    workerB = await startWorkerService(configB, logs.logger);
    readB = await startReadService(configB, logs.logger);
    const name = `code-read-b-${randomUUID().slice(0, 8)}`;
    const bareB = path.join(stack.gitRoot, `${name}.git`);
    git(stack.gitRoot, 'clone', '--quiet', '--bare', source.dir, bareB);
    git(bareB, 'symbolic-ref', 'HEAD', 'refs/heads/main');
    await pushCommit(bareB, { 'on-b.txt': 'host b\n' });
    const connected = await connect(`${stack.gitUrl}/${name}.git`);
    onB = connected.repo_id;
    await waitForState(app, connected.workflow_id, (s) => s.cloneStatus === 'COMPLETED');
  }, 120_000);

  afterAll(async () => {
    await readB?.stop();
    await workerB?.stop();
  });

  it("routes each read to its host: B's clone through B, A's through A", async () => {
    const [row] = await app.sql<{ hostTaskQueue: string }[]>`select host_task_queue from code_repos where id = ${onB}`;
    expect(row!.hostTaskQueue).toBe(readB.hostTaskQueue);
    expect((await getJson(`${base(onB)}/files/on-b.txt`)).body.content).toBe('host b\n');
    expect((await getJson(`${base()}/files/NEW.md`)).body.content).toBe('pushed\n');
  });

  it('a read service answers the API only: no token, a user token, or a token for another host is refused', async () => {
    const direct = `${readB.url}/repos/${onB}/tree`;
    expect((await fetch(direct)).status).toBe(401);
    expect((await fetch(direct, { headers: { authorization: `Bearer ${await app.tokenFor()}` } })).status).toBe(401);
    const forA = await signReadToken(app.config.READ_SERVICE_SECRET!, hostTaskQueueOf(app.config), {
      userId: 'test-user',
      repoId: onB,
    });
    expect((await fetch(direct, { headers: { authorization: `Bearer ${forA}` } })).status).toBe(401);
    const forB = await signReadToken(app.config.READ_SERVICE_SECRET!, readB.hostTaskQueue, {
      userId: 'test-user',
      repoId: onB,
    });
    expect((await fetch(direct, { headers: { authorization: `Bearer ${forB}` } })).status).toBe(200);
    const otherRepo = await signReadToken(app.config.READ_SERVICE_SECRET!, readB.hostTaskQueue, {
      userId: 'test-user',
      repoId,
    });
    expect((await fetch(direct, { headers: { authorization: `Bearer ${otherRepo}` } })).status).toBe(403);
  });

  it('a host that is gone is 503 host_unavailable with Retry-After, at once', async () => {
    // Crashed: its address still advertised, nothing listening there.
    const closed = `http://127.0.0.1:${await closedPort()}`;
    await advertiseReadHost(app.sql, readB.hostTaskQueue, closed);
    let started = performance.now();
    const crashed = await getJson(`${base(onB)}/tree`);
    expect(crashed.status).toBe(503);
    expect(crashed.body.detail.error).toBe('host_unavailable');
    expect(crashed.headers.get('retry-after')).toBe('5');
    expect(performance.now() - started).toBeLessThan(2000);
    await advertiseReadHost(app.sql, readB.hostTaskQueue, readB.url);
    expect((await getJson(`${base(onB)}/tree`)).status).toBe(200);

    // Stopped: its address withdrawn.
    await readB.stop();
    started = performance.now();
    const stopped = await getJson(`${base(onB)}/tree`);
    expect(stopped.status).toBe(503);
    expect(stopped.body.detail.error).toBe('host_unavailable');
    expect(performance.now() - started).toBeLessThan(2000);
    // A's clone is still served.
    expect((await getJson(`${base()}/tree`)).status).toBe(200);
  });
});

/** A port nothing listens on: one the kernel just handed out and took back. */
async function closedPort(): Promise<number> {
  const { createServer } = await import('node:net');
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}
