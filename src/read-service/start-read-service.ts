import { hostname } from 'node:os';
import { readBoundsOf } from '../config/env.js';
import type { ConnectedConfig } from '../config/load-config.js';
import type { Logger } from '../config/logger.js';
import { hostForUrl } from '../config/loopback.js';
import { createSql } from '../db/client.js';
import { advertiseReadHost, withdrawReadHost } from '../db/read-hosts.js';
import { close, listen } from '../runtime/http-server.js';
import { hostTaskQueueOf } from '../worker/start-worker.js';
import { createReadServiceApp } from './app.js';

export interface ReadService {
  /** The address advertised for this host. */
  url: string;
  hostTaskQueue: string;
  stop(): Promise<void>;
}

const isWildcard = (host: string) => host === '0.0.0.0' || host === '::';

/** The address other hosts reach the service at: READ_SERVICE_URL, else this host by the name it listens on. */
function advertisedUrl(config: ConnectedConfig, port: number): string {
  if (config.READ_SERVICE_URL) return config.READ_SERVICE_URL;
  const host = isWildcard(config.READ_SERVICE_HOST) ? hostname() : hostForUrl(config.READ_SERVICE_HOST);
  return `http://${host}:${port}`;
}

/**
 * This worker host's read service: serves the reads of the clones on its disk to the API, and
 * advertises its address for the host (renewed every READ_HOST_HEARTBEAT_SECONDS, withdrawn on stop).
 */
export async function startReadService(config: ConnectedConfig, logger: Logger): Promise<ReadService> {
  if (!config.READ_SERVICE_SECRET) throw new Error('READ_SERVICE_SECRET is not set');
  const log = logger.child({ component: 'read-service' });
  const hostTaskQueue = hostTaskQueueOf(config);
  const sql = createSql(config.DATABASE_URL, { max: 4, applicationName: 'repo-connector-read-service' });
  const app = createReadServiceApp({
    sql,
    secret: config.READ_SERVICE_SECRET,
    hostTaskQueue,
    sandboxBasePath: config.SANDBOX_BASE_PATH,
    bounds: readBoundsOf(config),
    concurrency: config.READ_CONCURRENCY,
    logger: log,
  });
  let listening: Awaited<ReturnType<typeof listen>> | undefined;
  let heartbeat: NodeJS.Timeout | undefined;
  try {
    listening = await listen(app.fetch, config.READ_SERVICE_HOST, config.READ_SERVICE_PORT);
    const url = advertisedUrl(config, listening.port);
    await advertiseReadHost(sql, hostTaskQueue, url);
    let renewal: Promise<void> = Promise.resolve();
    heartbeat = setInterval(() => {
      renewal = advertiseReadHost(sql, hostTaskQueue, url).catch((err: Error) =>
        log.warn({ err: { message: err.message } }, 'could not renew the read service address'),
      );
    }, config.READ_HOST_HEARTBEAT_SECONDS * 1000);
    heartbeat.unref();
    log.info({ url, hostTaskQueue }, 'read service listening');
    const server = listening.server;
    return {
      url,
      hostTaskQueue,
      async stop() {
        clearInterval(heartbeat);
        // A renewal under way would advertise the address again after its withdrawal.
        await renewal;
        // Withdrawn first: the API answers host_unavailable at once rather than trying a closed port.
        await withdrawReadHost(sql, hostTaskQueue, url).catch((err: Error) =>
          log.warn({ err: { message: err.message } }, 'could not withdraw the read service address'),
        );
        // A read cut off is the reader's to ask again; a slow download must not hold the host's stop.
        await close(server, { abort: true });
        await sql.end({ timeout: 5 });
      },
    };
  } catch (err) {
    clearInterval(heartbeat);
    if (listening) await close(listening.server);
    await sql.end({ timeout: 5 });
    throw err;
  }
}
