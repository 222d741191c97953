import type { AddressInfo } from 'node:net';
import { serve, type ServerType } from '@hono/node-server';
import { Client, Connection } from '@temporalio/client';
import type { ConnectedConfig } from '../config/env.js';
import type { Logger } from '../config/logger.js';
import { createKeyProvider } from '../crypto/key-provider.js';
import { encryptedDataConverter } from '../crypto/payload-codec.js';
import { createSql } from '../db/client.js';
import { createApp } from './app.js';

export interface ApiService {
  url: string;
  stop(): Promise<void>;
}

function listen(app: ReturnType<typeof createApp>, host: string, port: number): Promise<ServerType> {
  return new Promise((resolve, reject) => {
    const server = serve({ fetch: app.fetch, hostname: host, port }, () => resolve(server));
    server.once('error', reject);
  });
}

function close(server: ServerType): Promise<void> {
  return new Promise((resolve) => {
    server.close(() => resolve());
    if ('closeIdleConnections' in server) server.closeIdleConnections();
  });
}

/** Connects to PostgreSQL and Temporal, then serves the API until `stop()`. */
export async function startApiService(config: ConnectedConfig, logger: Logger): Promise<ApiService> {
  const sql = createSql(config.DATABASE_URL, { max: config.DATABASE_POOL_SIZE, applicationName: 'repo-connector-api' });
  // Lazy: the API starts (and /readyz can say what is down) even while Temporal is unreachable.
  const connection = Connection.lazy({ address: config.TEMPORAL_ADDRESS });
  const keys = createKeyProvider(config);
  const dataConverter = encryptedDataConverter(keys);
  const temporal = new Client({ connection, namespace: config.TEMPORAL_NAMESPACE, dataConverter });
  const shutdown = new AbortController();
  const app = createApp({
    sql,
    temporal,
    keys,
    codec: dataConverter.payloadCodecs![0]!,
    logger,
    shutdown: shutdown.signal,
    settings: {
      taskQueue: config.TEMPORAL_TASK_QUEUE,
      allowLoopback: config.GIT_ALLOW_LOOPBACK,
      sandboxTtlSeconds: config.SANDBOX_TTL_SECONDS,
      admissionWaitSeconds: config.ADMISSION_WAIT_SECONDS,
      jwtSecret: config.JWT_SECRET,
      jwksUrl: config.JWKS_URL,
      allowedOrigins: config.ALLOWED_ORIGINS,
      rateLimit: { burst: config.RATE_LIMIT_BURST, perMinute: config.RATE_LIMIT_PER_MINUTE },
      temporalUiOrigins: config.TEMPORAL_UI_ORIGINS,
      codecRequiresAuth: config.CODEC_REQUIRE_AUTH,
    },
  });
  const server = await listen(app, config.HOST, config.PORT);
  const { port } = server.address() as AddressInfo;
  const url = `http://${config.HOST === '0.0.0.0' ? '127.0.0.1' : config.HOST}:${port}`;
  return {
    url,
    async stop() {
      shutdown.abort();
      await close(server);
      await connection.close();
      await sql.end({ timeout: 5 });
    },
  };
}
