import { DefaultLogger, Runtime, type LogLevel } from '@temporalio/worker';
import type { Logger } from '../config/logger.js';
import { freePort } from '../runtime/ports.js';
import { addTextSource } from '../observability/scrape.js';

const TEMPORAL_LEVELS: Record<string, LogLevel> = {
  trace: 'TRACE',
  debug: 'DEBUG',
  info: 'INFO',
  warn: 'WARN',
  error: 'ERROR',
  fatal: 'ERROR',
  silent: 'ERROR',
};

/** How long a scrape waits for the SDK's own metrics. */
const SDK_METRICS_TIMEOUT_MS = 1500;
/** A free port can be taken by another process before the SDK binds it: then another is tried. */
const BIND_ATTEMPTS = 5;

let installing: Promise<void> | undefined;

/**
 * Routes the Temporal SDK's own logs into pino, exposes its metrics (task latencies, slots,
 * sticky cache, poll failures; `temporal_*`) as part of this process's /metrics, and leaves
 * signal handling to our entry points, which stop the worker, the API and the servers in order.
 * The SDK serves its metrics on a loopback port of its own, read at each scrape. Once per process.
 */
export function installTemporalRuntime(logger: Logger): Promise<void> {
  installing ??= install(logger).catch((err: unknown) => {
    installing = undefined;
    throw err;
  });
  return installing;
}

async function install(logger: Logger): Promise<void> {
  const log = logger.child({ component: 'temporal-sdk' });
  const sdkLogger = new DefaultLogger(TEMPORAL_LEVELS[logger.level] ?? 'WARN', ({ level, message, meta }) => {
    const method = ({ TRACE: 'trace', DEBUG: 'debug', INFO: 'info', WARN: 'warn', ERROR: 'error' } as const)[level];
    log[method](meta ?? {}, message);
  });
  for (let attempt = 1; ; attempt += 1) {
    const sdkMetrics = `127.0.0.1:${await freePort()}`;
    try {
      Runtime.install({
        shutdownSignals: [],
        telemetryOptions: {
          metrics: {
            prometheus: {
              bindAddress: sdkMetrics,
              countersTotalSuffix: true,
              unitSuffix: true,
              useSecondsForDurations: true,
            },
          },
        },
        logger: sdkLogger,
      });
    } catch (err) {
      if (attempt < BIND_ATTEMPTS && /in use/i.test((err as Error).message)) continue;
      throw err;
    }
    addTextSource(async () => {
      const response = await fetch(`http://${sdkMetrics}/metrics`, {
        signal: AbortSignal.timeout(SDK_METRICS_TIMEOUT_MS),
      });
      return response.ok ? response.text() : '';
    });
    return;
  }
}
