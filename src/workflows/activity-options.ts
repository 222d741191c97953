import { ActivityCancellationType, type ActivityOptions, type LocalActivityOptions } from '@temporalio/workflow';
import { NON_RETRYABLE_ERROR_TYPES } from '../shared/errors.js';

/** Network failures (the only retryable type) get three attempts with exponential backoff, as the design says. */
const GIT_RETRY = {
  initialInterval: '2 seconds',
  backoffCoefficient: 2,
  maximumInterval: '1 minute',
  maximumAttempts: 3,
  nonRetryableErrorTypes: NON_RETRYABLE_ERROR_TYPES,
};

/** Database blips and restarts: keep trying for a few minutes rather than failing the request. */
const QUICK_RETRY = {
  initialInterval: '500 milliseconds',
  backoffCoefficient: 2,
  maximumInterval: '30 seconds',
  maximumAttempts: 10,
  nonRetryableErrorTypes: NON_RETRYABLE_ERROR_TYPES,
};

/**
 * Every activity's timeouts and retry policy, in one place. Failure types listed in
 * NON_RETRYABLE_ERROR_TYPES (bad token, missing repository, too large…) are never retried.
 */
export const ACTIVITY_OPTIONS = {
  /**
   * A kept clone's row writes after a sync fails or when its syncs resume: the clone is there and usable,
   * so a database outage is waited out however long it lasts, never ends the run (and with it the clone).
   */
  keptRow: {
    startToCloseTimeout: '30 seconds',
    retry: { ...QUICK_RETRY, maximumAttempts: Number.POSITIVE_INFINITY },
  },
  /** Encryption, single-row writes, audit entries: fast, so a short timeout catches a hung worker quickly. */
  quick: {
    startToCloseTimeout: '30 seconds',
    retry: QUICK_RETRY,
  },
  /**
   * Admission's own quick steps (encrypting the token, inserting the row), run as local activities
   * by the workflow's worker: the caller waits on them, and a round trip through a task queue
   * costs more than the step. Retries as `quick`; a wait longer than a minute between attempts
   * becomes a durable timer.
   */
  admissionStep: {
    startToCloseTimeout: '30 seconds',
    localRetryThreshold: '1 minute',
    retry: QUICK_RETRY,
  },
  /** The reconciler's walk over unsettled rows: one describe per row, so it heartbeats as it goes. */
  scan: {
    startToCloseTimeout: '10 minutes',
    heartbeatTimeout: '1 minute',
    retry: { initialInterval: '5 seconds', backoffCoefficient: 2, maximumInterval: '1 minute', maximumAttempts: 3 },
  },
  /** Retention's batched deletes: a heartbeat after each batch, a run bounded by MAX_BATCHES_PER_RUN. */
  retention: {
    startToCloseTimeout: '10 minutes',
    heartbeatTimeout: '1 minute',
    retry: { initialInterval: '5 seconds', backoffCoefficient: 2, maximumInterval: '1 minute', maximumAttempts: 3 },
  },
  /** ls-remote and a tip-only probe: bounded by the size limit, and git's own idle timeout. */
  sizeCheck: {
    startToCloseTimeout: '10 minutes',
    // The API's caller is waiting: a worker that died mid-probe is noticed in seconds, not at the timeout.
    heartbeatTimeout: '10 seconds',
    retry: GIT_RETRY,
  },
  /** The size probe again, for a retry the API's caller is waiting on: bounded to minutes, not half an hour. */
  sizeRecheck: {
    startToCloseTimeout: '2 minutes',
    heartbeatTimeout: '10 seconds',
    retry: { ...GIT_RETRY, maximumAttempts: 2 },
  },
  /** A full clone: long, so progress comes by heartbeat and a dead worker is noticed within 15 s. */
  clone: {
    startToCloseTimeout: '1 hour',
    heartbeatTimeout: '15 seconds',
    // Cleanup waits until the clone has killed git and removed its partial directory.
    cancellationType: ActivityCancellationType.WAIT_CANCELLATION_COMPLETED,
    retry: GIT_RETRY,
  },
  /** A host busy with clones for longer than this gives the clone to any host, which fetches it afresh. */
  cloneOnProbeHost: {
    scheduleToStartTimeout: '30 seconds',
  },
  /**
   * A sync: an incremental fetch into the clone, on the host that holds it (its queue), with
   * progress by heartbeat. A host gone for 10 minutes fails the sync (the clone is kept as it was).
   */
  sync: {
    scheduleToStartTimeout: '10 minutes',
    startToCloseTimeout: '1 hour',
    heartbeatTimeout: '15 seconds',
    // Cleanup waits until the sync has killed git and put the clone back.
    cancellationType: ActivityCancellationType.WAIT_CANCELLATION_COMPLETED,
    retry: GIT_RETRY,
  },
  /**
   * Work on one host's files, sent to that host's queue. If no worker of that host picks it up
   * within 10 minutes (a schedule-to-start timeout, and only that) the host is taken as gone:
   * the row is settled from the shared queue and the host's own sweep removes the files when it returns.
   */
  hostFiles: {
    scheduleToStartTimeout: '10 minutes',
    startToCloseTimeout: '5 minutes',
    retry: { initialInterval: '1 second', backoffCoefficient: 2, maximumInterval: '1 minute', maximumAttempts: 5 },
  },
} as const satisfies Record<string, ActivityOptions | LocalActivityOptions>;
