import { TimeoutType } from '@temporalio/common';
import { ApplicationFailure, TimeoutFailure } from '@temporalio/workflow';

/** A failure as the workflow reports it: a code from the closed set, a safe message, and details. */
export interface Failure {
  code: string;
  message: string;
  details?: Record<string, unknown>;
}

/** An activity no worker of its queue took at all (a host that is gone, or too busy): the only timeout that says so. */
export const notPickedUp = (err: unknown): boolean =>
  err instanceof Error &&
  err.cause instanceof TimeoutFailure &&
  err.cause.timeoutType === TimeoutType.SCHEDULE_TO_START;

/** The failure as the workflow reports it onward (to an update's caller, or as its own end): never retried. */
export const asApplicationFailure = (failure: Failure): ApplicationFailure =>
  ApplicationFailure.create({
    type: failure.code,
    message: failure.message,
    nonRetryable: true,
    details: failure.details ? [failure.details] : [],
  });

/** Finds the ApplicationFailure an activity raised (wrapped in an ActivityFailure) and reads it. */
export function failureOf(err: unknown): Failure {
  let cause: unknown = err;
  while (cause instanceof Error && !(cause instanceof ApplicationFailure) && cause.cause) cause = cause.cause;
  if (cause instanceof ApplicationFailure && cause.type) {
    const [details] = (cause.details ?? []) as Array<Record<string, unknown> | undefined>;
    return { code: cause.type, message: cause.message, ...(details ? { details } : {}) };
  }
  return { code: 'internal_error', message: 'Connecting the repository failed' };
}
