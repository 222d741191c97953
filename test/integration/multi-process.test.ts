import type { ChildProcess } from 'node:child_process';
import { randomBytes, randomUUID } from 'node:crypto';
import { existsSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, inject, it, vi } from 'vitest';
import type { ConnectedConfig } from '../../src/config/load-config.js';
import { exited } from '../../src/dev-stack/child-process.js';
import { createSql, type Sql } from '../../src/db/client.js';
import { sandboxPaths } from '../../src/sandbox/sandbox.js';
import { callAt, configEnv, testConfig, tokenFor } from '../support/app-under-test.js';
import { createBareRepo, createRepoWithHeavyHistory } from '../support/git-repos.js';
import { killAll, startEntryPoint } from '../support/processes.js';

/*
 * As deployed: two API processes and three worker processes (each its own host id and sandbox
 * root) on one task queue, one PostgreSQL and the run's one Temporal server. Nothing runs in
 * this test process but HTTP calls and reads of the database and the disk.
 */
const stack = inject('stack');
const BURST = 5;
const started: ChildProcess[] = [];
let config: ConnectedConfig;
let sql: Sql;
let apis: string[];
let workers: Array<{ child: ChildProcess; hostTaskQueue: string; root: string }>;

interface Connected {
  user: string;
  repoId: string;
  projectId: string;
}

interface RepoRow {
  id: string;
  projectId: string;
  cloneStatus: string;
  hostTaskQueue: string | null;
}

beforeAll(async () => {
  // A refill of one token a minute: within the test a burst is all a user gets.
  config = testConfig(stack, {
    RATE_LIMIT_BURST: String(BURST),
    RATE_LIMIT_PER_MINUTE: '1',
    SANDBOX_TTL_SECONDS: '3600',
  });
  sql = createSql(config.DATABASE_URL, { max: 2 });
  const env = { ...configEnv(config), LOG_LEVEL: 'info' };
  const startApi = async () => {
    const { ready } = await startEntryPoint(started, 'src/api/server.ts', env, 'API listening');
    return String(ready.url);
  };
  const startWorker = async (n: number) => {
    const root = `${config.SANDBOX_BASE_PATH}-${n}`;
    const workerEnv = { ...env, WORKER_HOST_ID: `multi-${n}-${randomUUID().slice(0, 8)}`, SANDBOX_BASE_PATH: root };
    const { child, ready } = await startEntryPoint(started, 'src/worker/main.ts', workerEnv, 'worker running');
    return { child, hostTaskQueue: String(ready.hostTaskQueue), root };
  };
  [apis, workers] = await Promise.all([Promise.all([startApi(), startApi()]), Promise.all([1, 2, 3].map(startWorker))]);
}, 120_000);

afterAll(async () => {
  await killAll(started);
  await sql?.end();
});

/** API `n` (modulo the number of APIs), as `user`. */
async function callApi(n: number, user: string, method: string, route: string, body?: unknown) {
  return callAt(apis[n % apis.length]!, await tokenFor(config.JWT_SECRET!, user), method, route, body);
}

/** A user of its own, with a project, connecting `gitUrl`: the project on one API, the connect on the other. */
async function connect(n: number, gitUrl: string): Promise<Connected> {
  const user = `multi-${n}-${randomUUID().slice(0, 8)}`;
  const project = await callApi(n, user, 'POST', '/api/v1/projects', { name: `multi-${n}` });
  expect(project.status).toBe(201);
  const body = { git_url: gitUrl, access_token: stack.gitToken, project_id: project.body.id, request_id: randomUUID() };
  const res = await callApi(n + 1, user, 'POST', '/api/v1/code/connect', body);
  expect(res.status, JSON.stringify(res.body)).toBe(201);
  return { user, repoId: res.body.repo_id, projectId: project.body.id };
}

const rowsOf = (repos: Connected[]) => sql<RepoRow[]>`
  select id, project_id, clone_status, host_task_queue from code_repos where id in ${sql(repos.map((r) => r.repoId))}`;

/** Waits until every repository's row has `status`, and returns the rows. */
async function waitForStatus(repos: Connected[], status: string, timeout: number): Promise<RepoRow[]> {
  return vi.waitFor(
    async () => {
      const rows = await rowsOf(repos);
      const behind = rows.filter((r) => r.cloneStatus !== status);
      if (rows.length !== repos.length || behind.length > 0)
        throw new Error(`${behind.length} of ${repos.length} not ${status} yet`);
      return rows;
    },
    { timeout, interval: 250 },
  );
}

const workerOf = (row: RepoRow) => workers.find((w) => w.hostTaskQueue === row.hostTaskQueue);
const repositoryDir = (root: string, row: RepoRow) => sandboxPaths(root, row.projectId, row.id).repository;

/** Each completed clone's files are on the disk of the host its row names, and on no other of `hosts`. */
function expectFilesOnTheirHost(rows: RepoRow[], hosts = workers): void {
  for (const row of rows) {
    const holder = workerOf(row);
    expect(holder, `${row.id} on ${row.hostTaskQueue}`).toBeDefined();
    for (const w of hosts)
      expect(existsSync(repositoryDir(w.root, row)), `${row.id} under ${w.root}`).toBe(w === holder);
  }
}

/**
 * Cleans every repository up through the API (alternating APIs) and checks each removal ran on
 * the host holding the files: its CLEANED audit row names that host, and the directory is gone.
 */
async function cleanUpOnTheirHosts(repos: Connected[], completed: RepoRow[]): Promise<void> {
  const answers = await Promise.all(
    repos.map((r, i) => callApi(i, r.user, 'POST', `/api/v1/code/repos/${r.repoId}/cleanup`)),
  );
  expect(answers.map((a) => a.status)).toEqual(repos.map(() => 202));
  await waitForStatus(repos, 'CLEANED', 60_000);
  const audits = await sql<{ repoId: string; host: string }[]>`
    select repo_id, metadata->>'host_task_queue' as host from audit_log
    where repo_id in ${sql(repos.map((r) => r.repoId))} and to_state = 'CLEANED'`;
  for (const row of completed) {
    expect(audits.filter((a) => a.repoId === row.id).map((a) => a.host)).toEqual([row.hostTaskQueue]);
    expect(existsSync(sandboxPaths(workerOf(row)!.root, row.projectId, row.id).root)).toBe(false);
  }
}

describe('two APIs and three workers, as deployed', () => {
  it("limits one user's burst across both APIs together", async () => {
    const user = `burst-${randomUUID()}`;
    const answers = await Promise.all(
      Array.from({ length: 8 }, (_, i) => callApi(i, user, 'POST', '/api/v1/projects', { name: `burst-${i}` })),
    );
    expect(answers.filter((a) => a.status === 201)).toHaveLength(BURST);
    const refused = answers.filter((a) => a.status === 429);
    expect(refused).toHaveLength(8 - BURST);
    for (const r of refused) {
      expect(r.body.detail.error).toBe('rate_limited');
      expect(Number(r.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
    }
  });

  it('completes 30 connects spread over both APIs, one row each, and cleans each up on the host holding its files', async () => {
    const name = `multi-${randomUUID().slice(0, 8)}`;
    await createBareRepo(stack.gitRoot, name, { 'README.md': 'many hosts\n' });
    const repos = await Promise.all(Array.from({ length: 30 }, (_, n) => connect(n, `${stack.gitUrl}/${name}.git`)));
    const completed = await waitForStatus(repos, 'COMPLETED', 90_000);
    const [rows] = await sql<{ n: number; requests: number }[]>`
      select count(*)::int as n, count(distinct request_id)::int as requests from code_repos
      where project_id in ${sql(repos.map((r) => r.projectId))}`;
    expect(rows).toEqual({ n: 30, requests: 30 });
    expectFilesOnTheirHost(completed);
    await cleanUpOnTheirHosts(repos, completed);
  }, 150_000);

  it("finishes a killed worker's in-flight clones on another worker", async () => {
    const name = `multi-slow-${randomUUID().slice(0, 8)}`;
    await createRepoWithHeavyHistory(
      stack.gitRoot,
      name,
      { 'old.bin': randomBytes(1_000_000) },
      { 'README.md': 'survivor\n' },
    );
    // Served at 150 kB/s: each clone takes seconds, so a worker can be killed while it clones.
    const repos = await Promise.all(
      Array.from({ length: 6 }, (_, n) => connect(n, `${stack.gitUrl}/slow/150000/${name}.git`)),
    );
    const victim = await vi.waitFor(
      async () => {
        const cloning = (await rowsOf(repos)).find((r) => r.cloneStatus === 'CLONING' && workerOf(r));
        if (!cloning) throw new Error('no clone running yet');
        return workerOf(cloning)!;
      },
      { timeout: 60_000, interval: 100 },
    );
    victim.child.kill('SIGKILL');
    await exited(victim.child);
    const inFlight = (await rowsOf(repos)).filter(
      (r) => r.cloneStatus === 'CLONING' && r.hostTaskQueue === victim.hostTaskQueue,
    );
    expect(inFlight.length).toBeGreaterThan(0);

    // The clone activity's heartbeat timeout notices the dead worker; a retry runs elsewhere.
    const completed = await waitForStatus(repos, 'COMPLETED', 100_000);
    const survivors = workers.filter((w) => w !== victim);
    for (const row of completed.filter((r) => inFlight.some((f) => f.id === r.id))) {
      expect(survivors.map((w) => w.hostTaskQueue)).toContain(row.hostTaskQueue);
    }
    // The killed worker's partial directories stay until its host's sweep runs again.
    expectFilesOnTheirHost(completed, survivors);
    await cleanUpOnTheirHosts(repos, completed);
  }, 150_000);
});
