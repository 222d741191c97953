import { Counter, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

/**
 * The design's metrics, in one registry per process. The API counts connections and
 * rejections; the worker times size checks and clones and counts encryption operations.
 * `npm start` runs both in one process, so its /metrics shows all of them.
 */
export const registry = new Registry();
collectDefaultMetrics({ register: registry });

export const metrics = {
  repoConnections: new Counter({
    name: 'repo_connections_total',
    help: 'Repository connection requests, by outcome (admitted, or the error code)',
    labelNames: ['status'] as const,
    registers: [registry],
  }),
  oversizedRejections: new Counter({
    name: 'oversized_repo_rejections_total',
    help: 'Repositories rejected for size, at admission or during the clone',
    registers: [registry],
  }),
  cloneDuration: new Histogram({
    name: 'repo_clone_duration_seconds',
    help: 'Time to clone a repository, by outcome',
    labelNames: ['status'] as const,
    buckets: [0.5, 1, 2, 5, 10, 30, 60, 120, 300, 600],
    registers: [registry],
  }),
  sizeCheckDuration: new Histogram({
    name: 'git_size_check_duration_seconds',
    help: 'Time of the admission size check, by outcome',
    labelNames: ['outcome'] as const,
    buckets: [0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60],
    registers: [registry],
  }),
  encryptionOperations: new Counter({
    name: 'encryption_operations_total',
    help: 'Token encryption and decryption operations',
    labelNames: ['operation'] as const,
    registers: [registry],
  }),
};

/** Times `work`, labelling the observation with its outcome: 'ok' or the error's code. */
export async function timed<T>(histogram: Histogram<string>, label: string, work: () => Promise<T>): Promise<T> {
  const end = histogram.startTimer();
  try {
    const result = await work();
    end({ [label]: 'ok' });
    return result;
  } catch (err) {
    end({ [label]: (err as { code?: string }).code ?? 'error' });
    throw err;
  }
}
