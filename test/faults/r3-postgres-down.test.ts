import { randomBytes, randomUUID } from 'node:crypto';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { createLogger } from '../../src/config/logger.js';
import { createSql } from '../../src/db/client.js';
import { migrate } from '../../src/db/migrate.js';
import {
  startEmbeddedPostgres,
  type EmbeddedPostgresOptions,
  type EmbeddedPostgresServer,
} from '../../src/dev-stack/embedded-postgres.js';
import { freePort } from '../../src/runtime/ports.js';
import { call, startAppUnderTest, waitForState, type AppUnderTest } from '../support/app-under-test.js';
import { createRepoWithHeavyHistory } from '../support/git-repos.js';
import { checkInvariants, cleanUpAll } from './invariants.js';

const RUNS = 10;
const OUTAGE_MS = 10_000;
const stack = inject('stack');
let pgOptions: EmbeddedPostgresOptions;
let pg: EmbeddedPostgresServer | undefined;
let app: AppUnderTest;
let projectId: string;
let repo: string;

beforeAll(async () => {
  // A PostgreSQL cluster of this file's own, stopped and started again on the same data and port.
  pgOptions = {
    dataDir: path.join(stack.workDir, `r3-${randomUUID()}`),
    database: 'r3',
    port: await freePort(),
    logger: createLogger({ level: 'warn', pretty: false }),
  };
  pg = await startEmbeddedPostgres(pgOptions);
  const sql = createSql(pg.url, { max: 1 });
  await migrate(sql).finally(() => sql.end());
  app = await startAppUnderTest(stack, { DATABASE_URL: pg.url, SANDBOX_TTL_SECONDS: '3600' });
  projectId = (await call(app, 'POST', '/api/v1/projects', { name: 'r3' })).body.id;
  repo = `r3-${randomUUID().slice(0, 8)}`;
  await createRepoWithHeavyHistory(stack.gitRoot, repo, { 'old.bin': randomBytes(1_000_000) }, { 'README.md': 'r3\n' });
});

afterAll(async () => {
  await app?.stop();
  await pg?.stop();
});

const connect = (requestId = randomUUID()) =>
  call(app, 'POST', '/api/v1/code/connect', {
    git_url: `${stack.gitUrl}/slow/250000/${repo}.git`,
    access_token: stack.gitToken,
    project_id: projectId,
    request_id: requestId,
  });

describe('R3: PostgreSQL stopped for 10 s while runs are in flight', () => {
  it('loses none and duplicates none; meanwhile the API answers 502 (never 500) and /readyz 503 naming the database', async () => {
    const requestIds = Array.from({ length: RUNS }, () => randomUUID());
    const admitted = await Promise.all(
      requestIds.map(async (requestId) => {
        const res = await connect(requestId);
        expect(res.status).toBe(201);
        return res.body as { repo_id: string; workflow_id: string };
      }),
    );
    await waitForState(app, admitted[0]!.workflow_id, (s) => s.stage === 'cloning' && (s.bytesReceived ?? 0) > 0);

    await pg!.stop();
    pg = undefined;
    const down = Date.now();
    const answers = new Set<number>();
    let readyz: unknown;
    // For the length of the outage, what a client meets: every answer checked, none a 500.
    while (Date.now() - down < OUTAGE_MS) {
      const res = await connect();
      answers.add(res.status);
      expect(res.status, JSON.stringify(res.body)).toBe(502);
      const ready = await fetch(`${app.api.url}/readyz`);
      expect(ready.status).toBe(503);
      readyz = await ready.json();
    }
    expect(readyz).toMatchObject({ detail: { error: 'not_ready', checks: { database: 'down' } } });

    pg = await startEmbeddedPostgres(pgOptions);
    await Promise.all(
      admitted.map((a) => waitForState(app, a.workflow_id, (s) => s.cloneStatus === 'COMPLETED', 120_000)),
    );
    expect((await fetch(`${app.api.url}/readyz`)).status).toBe(200);
    // Waited out, not retried: every clone finished on its first attempt, though the database went away under it.
    for (const a of admitted) {
      const events = (await app.temporal.workflow.getHandle(a.workflow_id).fetchHistory()).events ?? [];
      const attempts = events
        .filter((e) => e.activityTaskStartedEventAttributes)
        .map((e) => e.activityTaskStartedEventAttributes!.attempt);
      expect(
        attempts.every((n) => n === 1),
        `activity attempts of ${a.workflow_id}: ${attempts.join(',')}`,
      ).toBe(true);
    }
    const rows = await app.sql<
      { requestId: string }[]
    >`select request_id from code_repos where project_id = ${projectId}`;
    // The requests refused while the database was down left nothing behind.
    expect(rows.map((r) => r.requestId).sort()).toEqual([...requestIds].sort());
    console.log(
      `R3 answers while down: ${[...answers].join(', ')}; invariants: ${await checkInvariants(app, [projectId])}`,
    );

    await cleanUpAll(
      app,
      admitted.map((a) => a.workflow_id),
    );
  }, 240_000);
});
