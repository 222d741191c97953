import { ApplicationFailure } from '@temporalio/activity';
import { InvalidTransitionError } from '../db/repo-transitions.js';
import { REPO_ERRORS, RepoError } from '../shared/errors.js';

/**
 * Turns a domain error into the failure Temporal sees: its code becomes the failure type
 * (which retry policies and the API read) and its message is the safe, user-facing one.
 * Anything else is rethrown unchanged and retried by the activity's policy.
 */
export function toActivityFailure(err: unknown): unknown {
  if (err instanceof RepoError) {
    return ApplicationFailure.create({
      type: err.code,
      message: err.message,
      nonRetryable: !REPO_ERRORS[err.code].retryable,
      details: err.details ? [err.details] : [],
    });
  }
  // A move the state machine forbids will be just as forbidden on the next attempt.
  if (err instanceof InvalidTransitionError) return ApplicationFailure.nonRetryable(err.message, 'invalid_transition');
  return err;
}

export async function withFailureMapping<T>(work: () => Promise<T>): Promise<T> {
  try {
    return await work();
  } catch (err) {
    throw toActivityFailure(err);
  }
}
