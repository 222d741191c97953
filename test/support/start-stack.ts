import { randomBytes } from 'node:crypto';
import { chmod, mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { createLogger, type Logger } from '../../src/config/logger.js';
import { createSql } from '../../src/db/client.js';
import { migrate } from '../../src/db/migrate.js';
import { dropDatabase, ensureDatabase } from '../../src/db/admin.js';
import { startEmbeddedPostgres } from '../../src/dev-stack/embedded-postgres.js';
import { freePort } from '../../src/runtime/ports.js';
import { findTemporalCli } from '../../src/dev-stack/temporal-cli.js';
import {
  startTemporalDevServer,
  type TemporalDevServer,
  type TemporalDevServerOptions,
} from '../../src/dev-stack/temporal-dev-server.js';
import { startGitServer } from './git-server.js';
import { startMotoServer } from './moto-server.js';
import type { TestStack } from './stack.js';

type Teardown = () => Promise<unknown>;

/** The machine's PostgreSQL when DATABASE_URL is given (a fresh database per run), else an embedded one. */
async function startPostgres(
  workDir: string,
  teardowns: Teardown[],
): Promise<{ adminUrl: string; databaseUrl: string }> {
  const logger = createLogger({ level: 'warn', pretty: false });
  const given = process.env.DATABASE_URL;
  if (!given) {
    const pg = await startEmbeddedPostgres({ dataDir: path.join(workDir, 'pg'), database: 'rc_test', logger });
    teardowns.push(pg.stop);
    return { adminUrl: pg.adminUrl, databaseUrl: pg.url };
  }
  const database = `rc_test_${randomBytes(6).toString('hex')}`;
  const adminUrl = new URL(given);
  adminUrl.pathname = '/postgres';
  const databaseUrl = new URL(given);
  databaseUrl.pathname = `/${database}`;
  await ensureDatabase(adminUrl.href, database);
  teardowns.push(() => dropDatabase(adminUrl.href, database));
  return { adminUrl: adminUrl.href, databaseUrl: databaseUrl.href };
}

/**
 * Starts the real services the integration tests (and the benchmarks) run against, on free
 * ports: PostgreSQL, the Temporal dev server (the same provisioned CLI as `npm start`), a Git
 * smart-HTTP server and moto. `stop` tears down what started; a failure half way stops what
 * had started before rethrowing.
 */
/** A port chosen free can be taken before the server binds it (the dev server picks its internal ports too): then others are tried. */
const TEMPORAL_START_ATTEMPTS = 3;

/**
 * Starts a Temporal dev server, again (with the options `options` gives for that attempt) when it
 * exits because a port was taken. The dev server picks its internal ports at random at each start,
 * so even a restart on the same frontend port can meet, and then escape, such a collision.
 */
export async function startTemporalWithRetry(
  options: () => Promise<TemporalDevServerOptions>,
  logger: Logger,
): Promise<{ server: TemporalDevServer; options: TemporalDevServerOptions }> {
  for (let attempt = 1; ; attempt += 1) {
    const chosen = await options();
    try {
      return { server: await startTemporalDevServer(chosen), options: chosen };
    } catch (err) {
      if (attempt >= TEMPORAL_START_ATTEMPTS || !/address already in use/.test((err as Error).message)) throw err;
      logger.warn({ attempt }, 'the Temporal dev server found a port taken; trying again');
    }
  }
}

const startTemporalOnFreePorts = async (cliPath: string, logger: Logger): Promise<TemporalDevServer> =>
  (
    await startTemporalWithRetry(
      async () => ({
        cliPath,
        port: await freePort(),
        uiPort: await freePort(),
        namespace: 'default',
        headless: true,
        logger,
      }),
      logger,
    )
  ).server;

export async function startStack(logger: Logger): Promise<{ stack: TestStack; stop: () => Promise<void> }> {
  const workDir = await mkdtemp(path.join(tmpdir(), 'rc-test-'));
  // The embedded PostgreSQL runs as the `postgres` user, which must be able to enter this folder.
  await chmod(workDir, 0o755);
  const teardowns: Teardown[] = [() => rm(workDir, { recursive: true, force: true })];
  const stop = async () => {
    for (const step of teardowns.reverse()) await step().catch(() => {});
  };
  try {
    const { adminUrl, databaseUrl } = await startPostgres(workDir, teardowns);
    const sql = createSql(databaseUrl, { max: 1 });
    await migrate(sql).finally(() => sql.end());

    const temporalCliPath = await findTemporalCli({ logger });
    const temporal = await startTemporalOnFreePorts(temporalCliPath, logger);
    teardowns.push(temporal.stop);

    const gitRoot = path.join(workDir, 'git');
    await mkdir(gitRoot);
    const gitToken = `test-token-${randomBytes(12).toString('hex')}`;
    const git = await startGitServer({ projectRoot: gitRoot, token: gitToken });
    teardowns.push(git.stop);

    const moto = await startMotoServer(logger);
    teardowns.push(moto.stop);

    const stack: TestStack = {
      kmsEndpoint: moto.endpoint,
      databaseUrl,
      adminUrl,
      temporalAddress: temporal.address,
      temporalCliPath,
      gitUrl: git.url,
      gitRoot,
      gitToken,
      workDir,
    };
    return { stack, stop };
  } catch (err) {
    await stop();
    throw err;
  }
}
