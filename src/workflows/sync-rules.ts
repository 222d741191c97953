// Pure decisions of the kept phase's syncs: imported by the workflow, so deterministic and free of I/O.
import type { SyncRequest } from '../shared/connect-repository.js';
import type { Failure } from './failures.js';

/** Failures of the service, not of the repository: never count toward the pause; retried with backoff. */
export const SERVICE_FAILURE_CODES: ReadonlySet<string> = new Set(['insufficient_storage', 'kms_unavailable', 'internal_error']);
/** Service-failed syncs retried in a row before the run waits for the next request (or the schedule). */
export const SERVICE_RETRIES = 5;
const FIRST_RETRY_MS = 60_000;
const LONGEST_RETRY_MS = 30 * 60_000;

export const isServiceFailure = (failure: Failure): boolean => SERVICE_FAILURE_CODES.has(failure.code);

/**
 * The wait before the `attempt`th retry of a service-failed sync (1 min doubling, at most 30 min); null past
 * SERVICE_RETRIES, and in a run kept without schedules (`scheduling` false): it wakes only for requests and the TTL.
 */
export const serviceRetryDelayMs = (attempt: number, scheduling: boolean): number | null =>
  !scheduling || attempt > SERVICE_RETRIES ? null : Math.min(LONGEST_RETRY_MS, FIRST_RETRY_MS * 2 ** (attempt - 1));

/** What a service-failed sync's row says: whose failure it is, and when it is tried again. */
export function serviceFailureMessage(failure: Failure, retryInMs: number | null): string {
  const next = retryInMs === null ? 'it is not retried again until the next sync is asked for' : `retried in ${Math.round(retryInMs / 1000)} s`;
  return `The sync failed on the service's side, not the repository's (${failure.code}: ${failure.message}); it does not count toward pausing syncs and is ${next}.`;
}

/** What the row says once syncs stop for the user's attention. */
export function attentionMessage(failure: Failure, failures: number, repoId: string): string {
  const why = failure.code === 'invalid_credentials' ? 'The Git server refused the access token' : `${failures} syncs in a row failed (last: ${failure.message})`;
  return `${why}. Syncs are paused: send a new access token with POST /api/v1/code/repos/${repoId}/retry, or connect the repository again.`;
}

/** A user's own request (signals from before triggers existed carry none). */
const fromUser = (request: SyncRequest): boolean => request.trigger === undefined || request.trigger === 'api';

/**
 * One sync for requests that come while one waits or runs: a user's request takes the place of a
 * push's or the schedule's (it runs even when a failure pauses syncs, and its audit names the user);
 * the pushed commit is kept only when every request named the same one.
 */
export function mergeSyncRequests(pending: SyncRequest, incoming: SyncRequest): SyncRequest {
  const kept = fromUser(incoming) && !fromUser(pending) ? incoming : pending;
  const { after: _after, ...rest } = kept;
  return pending.after !== undefined && pending.after === incoming.after ? kept : rest;
}
