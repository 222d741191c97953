import { randomBytes, randomUUID } from 'node:crypto';
import path from 'node:path';
import { Client, Connection } from '@temporalio/client';
import { apiSettingsOf, startApiService, type ApiService } from '../../src/api/start-api.js';
import { loadConfig, type ConnectedConfig } from '../../src/config/load-config.js';
import { createLogger } from '../../src/config/logger.js';
import { createSql, type Sql } from '../../src/db/client.js';
import { startWorkerService, type WorkerService } from '../../src/worker/start-worker.js';
import { startReadService, type ReadService } from '../../src/read-service/start-read-service.js';
import { Writable } from 'node:stream';
import { createApp } from '../../src/api/app.js';
import type { ApiDeps } from '../../src/api/deps.js';
import type { Logger } from '../../src/config/logger.js';
import type { PayloadCodec } from '@temporalio/common';
import type { KeyProvider } from '../../src/crypto/envelope.js';
import { createKeyProvider } from '../../src/crypto/key-provider.js';
import { signDevToken } from '../../src/dev/sign-token.js';
import { encryptedDataConverter } from '../../src/crypto/payload-codec.js';
import { vi } from 'vitest';
import { getStateQuery, type ConnectRepositoryState } from '../../src/shared/connect-repository.js';
import type { TestStack } from './stack.js';

export interface AppUnderTest {
  api: ApiService;
  keys: KeyProvider;
  codec: PayloadCodec;
  /** A valid bearer token for `user` (default: the app's default test user). */
  tokenFor(user?: string): Promise<string>;
  /** The same with the codec's operator scope, as `npm run token -- <user> --operator` prints. */
  operatorTokenFor(user?: string): Promise<string>;
  /** Absent when the test runs its worker as a separate process. */
  worker: WorkerService | undefined;
  /** The worker host's read service, beside its worker. */
  readService: ReadService | undefined;
  sql: Sql;
  temporal: Client;
  config: ConnectedConfig;
  stop(): Promise<void>;
}

/** A configuration of the run's real services with a task queue, sandbox root, keys and host of its own. */
export function testConfig(stack: TestStack, env: Record<string, string> = {}): ConnectedConfig {
  return loadConfig({
    NODE_ENV: 'test',
    PORT: '0',
    DATABASE_URL: stack.databaseUrl,
    TEMPORAL_ADDRESS: stack.temporalAddress,
    TEMPORAL_TASK_QUEUE: `test-${randomUUID()}`,
    SANDBOX_BASE_PATH: path.join(stack.workDir, `sandbox-${randomUUID()}`),
    GIT_ALLOW_LOOPBACK: 'true',
    MASTER_ENCRYPTION_KEY: randomBytes(32).toString('base64'),
    JWT_SECRET: randomBytes(32).toString('base64url'),
    // Tests fire many requests as one user; the limiter has its own tests.
    RATE_LIMIT_BURST: '10000',
    READ_RATE_LIMIT_BURST: '10000',
    LOG_LEVEL: process.env.TEST_LOG_LEVEL ?? 'error',
    WORKER_HOST_ID: `test-host-${randomUUID()}`,
    READ_SERVICE_SECRET: randomBytes(32).toString('base64url'),
    ...env,
  }) as ConnectedConfig;
}

/**
 * The real API and worker, in this test process, wired to the run's real services. Each call
 * gets its own task queue and sandbox root, so test files never pick up each other's work.
 */
export async function startAppUnderTest(
  stack: TestStack,
  env: Record<string, string> = {},
  options: { worker?: boolean; logger?: Logger } = {},
): Promise<AppUnderTest> {
  const config = testConfig(stack, env);
  const logger = options.logger ?? createLogger({ level: config.LOG_LEVEL, pretty: false });
  const worker = options.worker === false ? undefined : await startWorkerService(config, logger);
  const readService = options.worker === false ? undefined : await startReadService(config, logger);
  const api = await startApiService(config, logger);
  const sql = createSql(config.DATABASE_URL, { max: 2 });
  const connection = await Connection.connect({ address: config.TEMPORAL_ADDRESS });
  const keys = createKeyProvider(config);
  const dataConverter = encryptedDataConverter(keys);
  const temporal = new Client({ connection, dataConverter });
  return {
    api,
    keys,
    codec: dataConverter.payloadCodecs![0]!,
    tokenFor: (user = DEFAULT_USER) => tokenFor(config.JWT_SECRET!, user),
    operatorTokenFor: (user = DEFAULT_USER) =>
      signDevToken(config.JWT_SECRET!, { sub: user, ttlSeconds: 3600, scope: config.CODEC_OPERATOR_SCOPE }),
    worker,
    readService,
    sql,
    temporal,
    config,
    async stop() {
      await api.stop();
      await readService?.stop();
      await worker?.stop();
      await connection.close();
      await sql.end();
    },
  };
}

/** The environment the app runs with, for a worker started as its own process. */
export function configEnv(config: ConnectedConfig): Record<string, string> {
  return Object.fromEntries(
    Object.entries(config)
      .filter(([, v]) => v !== undefined)
      .map(([k, v]) => [k, String(v)]),
  );
}

/** Waits (by polling the workflow's query) until its live state satisfies `ready`. */
export async function waitForState(
  app: AppUnderTest,
  workflowId: string,
  ready: (state: ConnectRepositoryState) => boolean,
  timeout = 45_000,
): Promise<ConnectRepositoryState> {
  return vi.waitFor(
    async () => {
      const state = await app.temporal.workflow.getHandle(workflowId).query(getStateQuery);
      if (!ready(state)) throw new Error(`not yet: ${state.stage} ${state.cloneStatus}`);
      return state;
    },
    { timeout, interval: 100 },
  );
}

export const DEFAULT_USER = 'test-user';

/** An HS256 token like `npm run token` prints, valid for `ttlSeconds` (negative: already expired). */
export function tokenFor(secret: string, sub: string, ttlSeconds = 3600): Promise<string> {
  return signDevToken(secret, { sub, ttlSeconds });
}

/** JSON request against the running API, as the default test user unless `as` names another. */
export async function call(
  app: AppUnderTest,
  method: string,
  route: string,
  body?: unknown,
  as?: string,
): Promise<{ status: number; body: any; headers: Headers }> {
  return callAt(app.api.url, await app.tokenFor(as), method, route, body);
}

/** JSON request against an API at `baseUrl` (e.g. one running as its own process), with a bearer token. */
export async function callAt(
  baseUrl: string,
  token: string,
  method: string,
  route: string,
  body?: unknown,
): Promise<{ status: number; body: any; headers: Headers }> {
  const headers: Record<string, string> = { authorization: `Bearer ${token}` };
  if (body !== undefined) headers['content-type'] = 'application/json';
  const res = await fetch(`${baseUrl}${route}`, {
    method,
    headers,
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  return { status: res.status, body: await res.json(), headers: res.headers };
}

/** Captures every log line the app writes, for masking assertions. */
export function captureLogs(): { logger: Logger; text: () => string; lines: () => Array<Record<string, unknown>> } {
  const chunks: string[] = [];
  const stream = new Writable({
    write(chunk, _enc, done) {
      chunks.push(chunk.toString());
      done();
    },
  });
  const text = () => chunks.join('');
  return {
    logger: createLogger({ level: 'debug' }, stream),
    text,
    lines: () =>
      text()
        .split('\n')
        .filter(Boolean)
        .map((l) => JSON.parse(l) as Record<string, unknown>),
  };
}

/**
 * The HTTP app (for `app.request()`) over the same database, Temporal client and task queue as
 * `app`, whose worker serves its workflows; settings can be overridden per test.
 */
export function honoFor(
  app: AppUnderTest,
  logger: Logger,
  overrides: Partial<ApiDeps['settings']> = {},
  deps: Partial<ApiDeps> = {},
) {
  return createApp({
    sql: app.sql,
    temporal: app.temporal,
    keys: app.keys,
    codec: app.codec,
    logger,
    settings: {
      ...apiSettingsOf(app.config),
      allowedOrigins: ['https://ui.example'],
      rateLimit: { burst: 1000, perMinute: 1000 },
      readRateLimit: { burst: 1000, perMinute: 1000 },
      temporalUiOrigins: ['http://ui.temporal.test'],
      codec: {
        loopbackUiOrigins: [],
        operatorScope: app.config.CODEC_OPERATOR_SCOPE,
        maxPayloads: app.config.CODEC_MAX_PAYLOADS,
        rateLimit: { burst: 1000, perMinute: 1000 },
      },
      ...overrides,
    },
    ...deps,
  });
}
