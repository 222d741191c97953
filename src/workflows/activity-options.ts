import type { ActivityOptions } from '@temporalio/workflow';
import { NON_RETRYABLE_ERROR_TYPES } from '../shared/errors.js';

/**
 * Every activity's timeouts and retry policy, in one place. Failure types listed in
 * NON_RETRYABLE_ERROR_TYPES (bad token, missing repository, too large…) are never retried.
 */
export const ACTIVITY_OPTIONS = {
  /** Encryption and single-row writes: fast, so a short timeout catches a hung worker quickly. */
  quick: {
    startToCloseTimeout: '30 seconds',
    retry: {
      initialInterval: '500 milliseconds',
      backoffCoefficient: 2,
      maximumInterval: '30 seconds',
      // Database blips and restarts: keep trying for a few minutes rather than failing the request.
      maximumAttempts: 10,
      nonRetryableErrorTypes: NON_RETRYABLE_ERROR_TYPES,
    },
  },
  /** A full clone: long, so progress is reported by heartbeat and a silent worker is detected in 30 s. */
  clone: {
    startToCloseTimeout: '1 hour',
    heartbeatTimeout: '30 seconds',
    retry: {
      initialInterval: '5 seconds',
      backoffCoefficient: 2,
      maximumInterval: '1 minute',
      // The design's policy for network failures: three attempts with exponential backoff.
      maximumAttempts: 3,
      nonRetryableErrorTypes: NON_RETRYABLE_ERROR_TYPES,
    },
  },
} as const satisfies Record<string, ActivityOptions>;
