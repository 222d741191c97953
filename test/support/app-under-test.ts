import { randomBytes, randomUUID } from 'node:crypto';
import path from 'node:path';
import { Client, Connection } from '@temporalio/client';
import { startApiService, type ApiService } from '../../src/api/start-api.js';
import { loadConfig, type ConnectedConfig } from '../../src/config/env.js';
import { createLogger } from '../../src/config/logger.js';
import { createSql, type Sql } from '../../src/db/client.js';
import { startWorkerService, type WorkerService } from '../../src/worker/start-worker.js';
import { vi } from 'vitest';
import { getStateQuery, type ConnectRepositoryState } from '../../src/shared/connect-repository.js';
import type { TestStack } from './stack.js';

export interface AppUnderTest {
  api: ApiService;
  /** Absent when the test runs its worker as a separate process. */
  worker: WorkerService | undefined;
  sql: Sql;
  temporal: Client;
  config: ConnectedConfig;
  stop(): Promise<void>;
}

/**
 * The real API and worker, in this test process, wired to the run's real services. Each call
 * gets its own task queue and sandbox root, so test files never pick up each other's work.
 */
export async function startAppUnderTest(
  stack: TestStack,
  env: Record<string, string> = {},
  options: { worker?: boolean } = {},
): Promise<AppUnderTest> {
  const config = loadConfig({
    NODE_ENV: 'test',
    PORT: '0',
    DATABASE_URL: stack.databaseUrl,
    TEMPORAL_ADDRESS: stack.temporalAddress,
    TEMPORAL_TASK_QUEUE: `test-${randomUUID()}`,
    SANDBOX_BASE_PATH: path.join(stack.workDir, `sandbox-${randomUUID()}`),
    GIT_ALLOW_LOOPBACK: 'true',
    MASTER_ENCRYPTION_KEY: randomBytes(32).toString('base64'),
    LOG_LEVEL: process.env.TEST_LOG_LEVEL ?? 'error',
    WORKER_HOST_ID: `test-host-${randomUUID()}`,
    ...env,
  }) as ConnectedConfig;
  const logger = createLogger({ level: config.LOG_LEVEL, pretty: false });
  const worker = options.worker === false ? undefined : await startWorkerService(config, logger);
  const api = await startApiService(config, logger);
  const sql = createSql(config.DATABASE_URL, { max: 2 });
  const connection = await Connection.connect({ address: config.TEMPORAL_ADDRESS });
  const temporal = new Client({ connection });
  return {
    api,
    worker,
    sql,
    temporal,
    config,
    async stop() {
      await api.stop();
      await worker?.stop();
      await connection.close();
      await sql.end();
    },
  };
}

/** The environment the app runs with, for a worker started as its own process. */
export function configEnv(config: ConnectedConfig): Record<string, string> {
  return Object.fromEntries(
    Object.entries(config).filter(([, v]) => v !== undefined).map(([k, v]) => [k, String(v)]),
  );
}

/** Waits (by polling the workflow's query) until its live state satisfies `ready`. */
export async function waitForState(
  app: AppUnderTest,
  workflowId: string,
  ready: (state: ConnectRepositoryState) => boolean,
  timeout = 45_000,
): Promise<ConnectRepositoryState> {
  return vi.waitFor(async () => {
    const state = await app.temporal.workflow.getHandle(workflowId).query(getStateQuery);
    if (!ready(state)) throw new Error(`not yet: ${state.stage} ${state.cloneStatus}`);
    return state;
  }, { timeout, interval: 100 });
}

/** JSON request against the running API. */
export async function call(api: ApiService, method: string, route: string, body?: unknown): Promise<{ status: number; body: any }> {
  const res = await fetch(`${api.url}${route}`, {
    method,
    headers: body === undefined ? {} : { 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  return { status: res.status, body: await res.json() };
}
