import type { ServerType } from '@hono/node-server';
import { Client, Connection } from '@temporalio/client';
import { readBoundsOf, syncSettingsOf } from '../config/env.js';
import { requireReadServiceSecret, type ConnectedConfig } from '../config/load-config.js';
import type { Logger } from '../config/logger.js';
import { hostForUrl, isLoopbackOrigin } from '../config/loopback.js';
import { createKeyProvider } from '../crypto/key-provider.js';
import { encryptedDataConverter } from '../crypto/payload-codec.js';
import { createSql } from '../db/client.js';
import { recordKeyInService } from '../db/encryption-keys.js';
import { serveMetrics } from '../observability/metrics-server.js';
import { clientInterceptors } from '../observability/tracing.js';
import { businessProbe, databaseProbe } from '../observability/probes.js';
import { addScrapeProbe } from '../observability/scrape.js';
import { close, listen } from '../runtime/http-server.js';
import { createApp } from './app.js';
import type { ApiDeps } from './deps.js';

export interface ApiService {
  url: string;
  stop(): Promise<void>;
}

/** The API's settings, from the configuration. */
export const apiSettingsOf = (config: ConnectedConfig): ApiDeps['settings'] => ({
  taskQueue: config.TEMPORAL_TASK_QUEUE,
  allowLoopback: config.GIT_ALLOW_LOOPBACK,
  allowedGitPorts: config.GIT_ALLOWED_PORTS,
  sandboxTtlSeconds: config.SANDBOX_TTL_SECONDS,
  sync: syncSettingsOf(config),
  admissionWaitSeconds: config.ADMISSION_WAIT_SECONDS,
  jwtSecret: config.JWT_SECRET,
  jwksUrl: config.JWKS_URL,
  jwtIssuer: config.JWT_ISSUER,
  jwtAudience: config.JWT_AUDIENCE,
  allowedOrigins: config.ALLOWED_ORIGINS,
  publicBaseUrl: config.PUBLIC_BASE_URL,
  rateLimit: { burst: config.RATE_LIMIT_BURST, perMinute: config.RATE_LIMIT_PER_MINUTE },
  readRateLimit: { burst: config.READ_RATE_LIMIT_BURST, perMinute: config.READ_RATE_LIMIT_PER_MINUTE },
  webhookSyncRateLimit: {
    burst: config.WEBHOOK_SYNC_RATE_LIMIT_BURST,
    perMinute: config.WEBHOOK_SYNC_RATE_LIMIT_PER_MINUTE,
  },
  temporalUiOrigins: config.TEMPORAL_UI_ORIGINS,
  codec: {
    // loadConfig refuses CODEC_REQUIRE_AUTH=false unless HOST is loopback.
    loopbackUiOrigins: config.CODEC_REQUIRE_AUTH ? [] : config.TEMPORAL_UI_ORIGINS.filter(isLoopbackOrigin),
    operatorScope: config.CODEC_OPERATOR_SCOPE,
    maxPayloads: config.CODEC_MAX_PAYLOADS,
    rateLimit: { burst: config.CODEC_RATE_LIMIT_BURST, perMinute: config.CODEC_RATE_LIMIT_PER_MINUTE },
  },
  metricsOnApiPort: config.API_METRICS_PORT === undefined,
  metricsToken: config.METRICS_TOKEN,
  readServiceSecret: requireReadServiceSecret(config).READ_SERVICE_SECRET!,
  readBounds: readBoundsOf(config),
  readHostStaleSeconds: 3 * config.READ_HOST_HEARTBEAT_SECONDS,
});

/** Connects to PostgreSQL and Temporal, then serves the API until `stop()`. */
export async function startApiService(config: ConnectedConfig, logger: Logger): Promise<ApiService> {
  const sql = createSql(config.DATABASE_URL, { max: config.DATABASE_POOL_SIZE, applicationName: 'repo-connector-api' });
  // Lazy: the API starts (and /readyz can say what is down) even while Temporal is unreachable.
  const connection = Connection.lazy({ address: config.TEMPORAL_ADDRESS });
  const keys = createKeyProvider(config);
  const dataConverter = encryptedDataConverter(keys);
  const temporal = new Client({
    connection,
    namespace: config.TEMPORAL_NAMESPACE,
    dataConverter,
    interceptors: clientInterceptors(),
  });
  const shutdown = new AbortController();
  const app = createApp({
    sql,
    temporal,
    keys,
    codec: dataConverter.payloadCodecs![0]!,
    logger,
    shutdown: shutdown.signal,
    settings: apiSettingsOf(config),
  });
  // Best effort: the key's age is a gauge, and the API serves (and /readyz reports) while the database is down.
  await recordKeyInService(sql, keys.keyId).catch((err: Error) =>
    logger.warn({ err: { message: err.message } }, 'could not record the encryption key in service'),
  );
  const probes = [
    addScrapeProbe(databaseProbe(sql)),
    addScrapeProbe(businessProbe(sql, { currentKeyId: keys.keyId, maxRepoSizeMb: config.MAX_REPO_SIZE_MB })),
  ];
  let metricsServer: Awaited<ReturnType<typeof serveMetrics>> | undefined;
  /** Everything but the API's own listener: also released when a port cannot be had. */
  const release = async () => {
    shutdown.abort();
    probes.forEach((remove) => remove());
    await metricsServer?.stop();
    await connection.close();
    await sql.end({ timeout: 5 });
  };
  let server: ServerType;
  let port: number;
  try {
    if (config.API_METRICS_PORT)
      metricsServer = await serveMetrics(config.HOST, config.API_METRICS_PORT, config.METRICS_TOKEN);
    ({ server, port } = await listen(app.fetch, config.HOST, config.PORT));
  } catch (err) {
    await release();
    throw err;
  }
  const url = `http://${hostForUrl(config.HOST)}:${port}`;
  return {
    url,
    async stop() {
      shutdown.abort();
      await close(server);
      await release();
    },
  };
}
