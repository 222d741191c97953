import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import { outcomeOf } from '../shared/errors.js';

/**
 * The design's metrics (README, "Metrics"), in one registry per process. The API counts
 * connection requests and reads the business gauges from the database; the worker times size
 * checks and clones, counts encryption operations and reads its sandbox disk. `npm start` runs
 * both in one process, so its /metrics shows all of them. Every label's values are bounded: no
 * project or repository ids (one series each would grow without end).
 */
export const registry = new Registry();
collectDefaultMetrics({ register: registry });

const registers = [registry];
/** A gauge of one worker's disk, labelled by its host id (WORKER_HOST_ID). */
const workerGauge = (name: string, help: string) =>
  new Gauge({ name, help, labelNames: ['worker_id'] as const, registers });

export const metrics = {
  repoConnections: new Counter({
    name: 'repo_connections_total',
    help: 'Repository connection requests, by outcome at admission (admitted, admission_pending for a 202, or the error code)',
    labelNames: ['status'] as const,
    registers,
  }),
  oversizedRejections: new Counter({
    name: 'oversized_repo_rejections_total',
    help: 'Repositories rejected for size, by where: the admission size check, the clone, or a sync',
    labelNames: ['stage'] as const,
    registers,
  }),
  cloneDuration: new Histogram({
    name: 'repo_clone_duration_seconds',
    help: 'Time to clone a repository, by outcome (ok, or the error code) and size category',
    labelNames: ['status', 'size_category'] as const,
    buckets: [0.5, 1, 2, 5, 10, 30, 60, 120, 300, 600],
    registers,
  }),
  clonesFailed: new Counter({
    name: 'repo_clones_failed_total',
    help: 'Admitted repositories whose clone failed (the row turned FAILED), by error code',
    labelNames: ['error_code'] as const,
    registers,
  }),
  sizeCheckDuration: new Histogram({
    name: 'git_size_check_duration_seconds',
    help: 'Time of the admission size check, by outcome (ok, or the error code)',
    labelNames: ['outcome'] as const,
    buckets: [0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60],
    registers,
  }),
  encryptionOperations: new Counter({
    name: 'encryption_operations_total',
    help: 'Envelope operations on secrets, by operation, wrapping key and outcome (ok, kms_unavailable, kms_rejected, failed)',
    labelNames: ['operation', 'key_id', 'outcome'] as const,
    registers,
  }),
  sandboxDiskUsage: workerGauge('sandbox_disk_usage_bytes', "Bytes the sandboxes on this worker's disk hold"),
  sandboxFilesystemSize: workerGauge(
    'sandbox_filesystem_size_bytes',
    'Size of the filesystem that holds the sandboxes',
  ),
  sandboxFilesystemFree: workerGauge(
    'sandbox_filesystem_free_bytes',
    'Free space on the filesystem that holds the sandboxes',
  ),
  databaseUp: new Gauge({
    name: 'database_up',
    help: "1 when this process's database answered at the last scrape, else 0",
    registers,
  }),
  projectsWithRepos: new Gauge({
    name: 'projects_with_repos_total',
    help: 'Projects with at least one connected repository',
    registers,
  }),
  keyRotationAge: new Gauge({
    name: 'encryption_key_rotation_age_days',
    help: 'Days since the current encryption key went into service',
    labelNames: ['key_id'] as const,
    registers,
  }),
  reposOverSizeLimit: new Gauge({
    name: 'completed_repos_over_size_limit',
    help: 'Kept clones recorded larger than MAX_REPO_SIZE_MB: a size check bypassed (should be 0)',
    registers,
  }),
  repoReads: new Counter({
    name: 'repo_reads_total',
    help: 'Reads of connected code through the API, by operation (tree, files, search, archive, compare, commits) and outcome (ok, not_modified, or the error code)',
    labelNames: ['op', 'outcome'] as const,
    registers,
  }),
  repoReadDuration: new Histogram({
    name: 'repo_read_duration_seconds',
    help: "Time of a read of connected code through the API, to its answer's last byte, by operation",
    labelNames: ['op'] as const,
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
    registers,
  }),
  repoReadBytes: new Counter({
    name: 'repo_read_bytes_total',
    help: 'Bytes of answers to reads of connected code sent by the API, by operation',
    labelNames: ['op'] as const,
    registers,
  }),
};

/** Times `work`, labelling the observation with its outcome: 'ok' or the error's code, plus what `more` adds. */
export async function timed<T, L extends string>(
  histogram: Histogram<L>,
  label: L,
  work: () => Promise<T>,
  more: (result: T | undefined) => Partial<Record<L, string>> = () => ({}),
): Promise<T> {
  const end = histogram.startTimer();
  try {
    const result = await work();
    end({ [label]: 'ok', ...more(result) });
    return result;
  } catch (err) {
    end({ [label]: outcomeOf(err), ...more(undefined) });
    throw err;
  }
}

/** The size category of a clone, as `repo_clone_duration_seconds` labels it. */
export function sizeCategory(sizeMb: number | undefined): 'small' | 'medium' | 'large' | 'unknown' {
  if (sizeMb === undefined) return 'unknown';
  if (sizeMb < 10) return 'small';
  return sizeMb < 50 ? 'medium' : 'large';
}

/** Runs an envelope operation on a secret and counts it with its outcome. */
export async function countedEncryption<T>(
  operation: 'encrypt' | 'decrypt' | 'rewrap',
  keyId: string,
  work: () => Promise<T>,
): Promise<T> {
  try {
    const result = await work();
    metrics.encryptionOperations.inc({ operation, key_id: keyId, outcome: 'ok' });
    return result;
  } catch (err) {
    const code = outcomeOf(err);
    // The key service down or refusing (a key, a permission); anything else: the secret did not open.
    const outcome = code === 'kms_unavailable' || code === 'kms_rejected' ? code : 'failed';
    metrics.encryptionOperations.inc({ operation, key_id: keyId, outcome });
    throw err;
  }
}
