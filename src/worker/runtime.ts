import { DefaultLogger, Runtime, type LogLevel } from '@temporalio/worker';
import type { Logger } from '../config/logger.js';
import { freePort } from '../infra/ports.js';
import { addTextSource } from '../observability/scrape.js';

let installed = false;

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

/**
 * Routes the Temporal SDK's own logs into pino, exposes its metrics (task latencies, slots,
 * sticky cache, poll failures; `temporal_*`) as part of this process's /metrics, and leaves
 * signal handling to our entry points, which stop the worker, the API and the servers in order.
 * The SDK serves its metrics on a loopback port of its own, read at each scrape.
 */
export async function installTemporalRuntime(logger: Logger): Promise<void> {
  if (installed) return;
  installed = true;
  const log = logger.child({ component: 'temporal-sdk' });
  const sdkMetrics = `127.0.0.1:${await freePort()}`;
  Runtime.install({
    shutdownSignals: [],
    telemetryOptions: {
      metrics: {
        prometheus: { bindAddress: sdkMetrics, countersTotalSuffix: true, unitSuffix: true, useSecondsForDurations: true },
      },
    },
    logger: new DefaultLogger(TEMPORAL_LEVELS[logger.level] ?? 'WARN', ({ level, message, meta }) => {
      const method = ({ TRACE: 'trace', DEBUG: 'debug', INFO: 'info', WARN: 'warn', ERROR: 'error' } as const)[level as LogLevel];
      log[method](meta ?? {}, message);
    }),
  });
  addTextSource(async () => {
    const response = await fetch(`http://${sdkMetrics}/metrics`, { signal: AbortSignal.timeout(SDK_METRICS_TIMEOUT_MS) });
    return response.ok ? response.text() : '';
  });
}
