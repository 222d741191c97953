import path from 'node:path';
import { loadConfigOrExit, type ConnectedConfig } from '../config/load-config.js';
import { createLogger } from '../config/logger.js';
import { hostForUrl, isLoopbackHost } from '../config/loopback.js';
import { ensureDevJwtSecret, ensureDevReadServiceSecret } from './secrets.js';
import { ensureDevMasterKey } from '../crypto/key-provider.js';
import { createSql } from '../db/client.js';
import { requireGitOrExit } from '../git/requirements.js';
import { migrate } from '../db/migrate.js';
import { startApiService } from '../api/start-api.js';
import { startEmbeddedPostgres } from '../dev-stack/embedded-postgres.js';
import { runUntilSignal } from '../runtime/lifecycle.js';
import { StartupError } from '../runtime/startup-error.js';
import { portInUse } from '../runtime/ports.js';
import { findTemporalCli } from '../dev-stack/temporal-cli.js';
import { startTemporalDevServer } from '../dev-stack/temporal-dev-server.js';
import { startTracing } from '../observability/tracing.js';
import { startWorkerService } from '../worker/start-worker.js';
import { startReadService } from '../read-service/start-read-service.js';

/**
 * `npm start`: the whole service on one machine. Whatever the environment does not name
 * (DATABASE_URL, TEMPORAL_ADDRESS, a master key) is provided here, with its data under DATA_DIR.
 */
const config = loadConfigOrExit();
// Its worker runs git.
await requireGitOrExit();
const logger = createLogger({ level: config.LOG_LEVEL, name: 'dev' });

/** Every port this launcher will listen on, by the setting that names it: all checked before anything starts. */
function portsToClaim(): Array<{ port: number; host: string; setting: string; hint: string }> {
  const claims = [{ port: config.PORT, host: config.HOST, setting: 'PORT', hint: 'set PORT to a free port' }];
  if (!config.DATABASE_URL && config.EMBEDDED_POSTGRES_PORT) {
    claims.push({
      port: config.EMBEDDED_POSTGRES_PORT,
      host: '127.0.0.1',
      setting: 'EMBEDDED_POSTGRES_PORT',
      hint: 'set EMBEDDED_POSTGRES_PORT to a free port, or DATABASE_URL to use a running PostgreSQL',
    });
  }
  if (!config.TEMPORAL_ADDRESS) {
    const hint = (setting: string) =>
      `set ${setting} to a free port, or TEMPORAL_ADDRESS to use a running Temporal server`;
    claims.push({
      port: config.TEMPORAL_DEV_PORT,
      host: '127.0.0.1',
      setting: 'TEMPORAL_DEV_PORT',
      hint: hint('TEMPORAL_DEV_PORT'),
    });
    claims.push({
      port: config.TEMPORAL_DEV_UI_PORT,
      host: '127.0.0.1',
      setting: 'TEMPORAL_DEV_UI_PORT',
      hint: hint('TEMPORAL_DEV_UI_PORT'),
    });
  }
  return claims.filter((c) => c.port !== 0);
}

/** A browser calls the UI's page by either loopback name; each is an origin of its own. */
function embeddedUiOrigins(uiUrl: string): string[] {
  const localhost = new URL(uiUrl);
  localhost.hostname = 'localhost';
  return [new URL(uiUrl).origin, localhost.origin];
}

await runUntilSignal(logger, async (register) => {
  for (const claim of portsToClaim()) {
    if (await portInUse(claim.port, claim.host)) {
      throw new StartupError(
        `port ${claim.port} (${claim.setting}) is already in use: stop what uses it, or ${claim.hint}`,
      );
    }
  }

  let databaseUrl = config.DATABASE_URL;
  if (!databaseUrl) {
    const pg = await startEmbeddedPostgres({
      dataDir: config.DATA_DIR,
      database: 'repo_connector',
      port: config.EMBEDDED_POSTGRES_PORT,
      logger,
    });
    register({ name: 'embedded-postgres', stop: pg.stop });
    databaseUrl = pg.url;
    logger.info({ port: pg.port, clusterDir: pg.clusterDir }, 'embedded PostgreSQL running');
  }

  let temporalAddress = config.TEMPORAL_ADDRESS;
  let temporalUi: string | undefined;
  if (!temporalAddress) {
    const cliPath = await findTemporalCli({ logger });
    const apiHost = hostForUrl(config.HOST);
    const server = await startTemporalDevServer({
      cliPath,
      port: config.TEMPORAL_DEV_PORT,
      uiPort: config.TEMPORAL_DEV_UI_PORT,
      namespace: config.TEMPORAL_NAMESPACE,
      dbFilename: path.join(config.DATA_DIR, 'temporal.sqlite'),
      // The Web UI decodes payloads through the API's codec endpoint.
      uiCodecEndpoint: `http://${apiHost}:${config.PORT}/codec`,
      logger,
    });
    register({ name: 'temporal-dev-server', stop: server.stop });
    temporalAddress = server.address;
    temporalUi = server.uiUrl;
  }

  const connected: ConnectedConfig = {
    ...config,
    DATABASE_URL: databaseUrl,
    TEMPORAL_ADDRESS: temporalAddress,
    MASTER_ENCRYPTION_KEY:
      config.MASTER_ENCRYPTION_KEY ??
      (config.KMS_KEY_ID ? undefined : await ensureDevMasterKey(config.DATA_DIR, logger)),
    JWT_SECRET: config.JWT_SECRET ?? (config.JWKS_URL ? undefined : await ensureDevJwtSecret(config.DATA_DIR)),
    READ_SERVICE_SECRET: config.READ_SERVICE_SECRET ?? (await ensureDevReadServiceSecret(config.DATA_DIR)),
    // The embedded UI (loopback only, no login) cannot send a bearer token: on a loopback-bound API
    // its codec calls are let through without one, from its own origins to a loopback Host only
    // (src/api/codec-access.ts). Production keeps CODEC_REQUIRE_AUTH=true: operators' tokens only.
    ...(temporalUi
      ? {
          TEMPORAL_UI_ORIGINS: [...config.TEMPORAL_UI_ORIGINS, ...embeddedUiOrigins(temporalUi)],
          CODEC_REQUIRE_AUTH: process.env.CODEC_REQUIRE_AUTH ? config.CODEC_REQUIRE_AUTH : !isLoopbackHost(config.HOST),
        }
      : {}),
  };

  if (temporalUi && connected.CODEC_REQUIRE_AUTH) {
    logger.warn(
      { host: config.HOST },
      'the embedded Temporal UI shows payloads encoded: /codec asks it for an operator token, which it cannot send (HOST is not loopback, or CODEC_REQUIRE_AUTH=true)',
    );
  }

  const sql = createSql(databaseUrl, { max: 1, applicationName: 'repo-connector-migrate' });
  try {
    const applied = await migrate(sql);
    logger.info({ applied }, applied.length ? 'migrations applied' : 'schema up to date');
  } finally {
    await sql.end({ timeout: 5 });
  }

  register({ name: 'tracing', ...startTracing('repo-connector', logger) });
  const worker = await startWorkerService(connected, logger);
  register({ name: 'worker', stop: worker.stop, done: worker.done });
  const reads = await startReadService(connected, logger);
  register({ name: 'read-service', stop: reads.stop });
  const api = await startApiService(connected, logger);
  register({ name: 'api', stop: api.stop });

  logger.info(
    {
      api: api.url,
      docs: `${api.url}/docs`,
      readiness: `${api.url}/readyz`,
      readService: reads.url,
      temporalUi: temporalUi ?? `(external Temporal at ${temporalAddress})`,
    },
    `ready: API ${api.url} · docs ${api.url}/docs · Temporal UI ${temporalUi ?? 'external'} · a token: npm run token -- <user> · Ctrl-C stops`,
  );
});
