// Pure decisions of the connect workflow: deterministic and free of I/O, so tested without a server.
import type { AuditContext } from '../shared/audit-context.js';
import type { Stage, SyncRequest, SyncSummary } from '../shared/connect-repository.js';
import type { Failure } from './failures.js';

/** Defaults for inputs without the settings (SYNC_FAILURE_LIMIT, SYNCS_PER_RUN). */
export const DEFAULT_SYNC_FAILURE_LIMIT = 5;
export const DEFAULT_SYNCS_PER_RUN = 50;
/** Webhook delivery ids a run remembers (and hands on): a sender redelivers within hours, the latest pushes. */
export const RECENT_DELIVERIES = 50;

/** A carried state's stage under today's name: runs continued before the rename carry `waiting_for_cleanup`. */
export const currentStage = (stage: Stage | 'waiting_for_cleanup'): Stage =>
  stage === 'waiting_for_cleanup' ? 'ready' : stage;

/** Who a sync's audit row names: the user who asked, or the part of the system that did. */
export const requesterOf = (request: SyncRequest, connectedBy: string): string =>
  request.requestedBy ??
  (request.trigger === 'webhook' || request.trigger === 'schedule' ? `system:${request.trigger}` : connectedBy);

/** The audit context of a sync: the connect's, naming whoever asked for this sync. */
export const syncAuditOf = (request: SyncRequest, audit: AuditContext): AuditContext =>
  request.requestedBy || request.trigger ? { ...audit, userId: requesterOf(request, audit.userId) } : audit;

/** What a sync's row writes record of its request. */
export const syncOriginOf = (request: SyncRequest): { trigger?: SyncRequest['trigger']; deliveryId?: string } => ({
  ...(request.trigger ? { trigger: request.trigger } : {}),
  ...(request.deliveryId ? { deliveryId: request.deliveryId } : {}),
});

/** Whether a sync signal is taken at this stage: once the clone is kept (or finishing), and no push while paused. */
export function acceptsSync(
  stage: Stage,
  cleanupRequested: boolean,
  paused: boolean,
  request: SyncRequest | undefined,
): boolean {
  if (cleanupRequested || !['cloning', 'ready', 'syncing'].includes(stage)) return false;
  return !(paused && request?.trigger === 'webhook');
}

/** The delivery ids remembered once `deliveryId` is taken, latest last. */
export const rememberDelivery = (recent: readonly string[], deliveryId: string): string[] => [
  ...recent.slice(1 - RECENT_DELIVERIES),
  deliveryId,
];

/** Whether a repository's failed sync stops the syncs that run by themselves (null limit: a run without bounds). */
export function pausesSyncs(
  failure: Failure,
  failuresInARow: number,
  alreadyPaused: boolean,
  failureLimit: number | null,
): boolean {
  if (failureLimit === null) return false;
  return alreadyPaused || failure.code === 'invalid_credentials' || failuresInARow >= failureLimit;
}

/** A new kept clone's sync summary. */
export const firstSyncSummary = (intervalSeconds: number | null): SyncSummary => ({
  count: 0,
  consecutiveFailures: 0,
  needsAttention: false,
  intervalSeconds,
  nextSyncAt: null,
  lastTrigger: null,
  continuedAsNew: 0,
});

/** When the kept phase wakes by itself: the TTL, the schedule, or a service retry, whichever comes first. */
export const nextWakeAt = (keptUntil: number, scheduledAt: number | undefined, serviceRetryAt: number | undefined) =>
  Math.min(keptUntil, scheduledAt ?? Infinity, serviceRetryAt ?? Infinity);

/** What is due when the kept phase wakes with no request; the schedule before the TTL, so an equal interval syncs. */
export function dueAt(
  now: number,
  keptUntil: number,
  scheduledAt: number | undefined,
  serviceRetryAt: number | undefined,
): 'service-retry' | 'schedule' | 'ttl' | 'nothing' {
  if (serviceRetryAt !== undefined && now >= serviceRetryAt) return 'service-retry';
  if (scheduledAt !== undefined && now >= scheduledAt) return 'schedule';
  if (now >= keptUntil) return 'ttl';
  return 'nothing';
}

/** Failures of the service, not of the repository: never count toward the pause; retried with backoff. */
export const SERVICE_FAILURE_CODES: ReadonlySet<string> = new Set([
  'insufficient_storage',
  'kms_unavailable',
  'internal_error',
]);
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
  const next =
    retryInMs === null
      ? 'it is not retried again until the next sync is asked for'
      : `retried in ${Math.round(retryInMs / 1000)} s`;
  const whose = `The sync failed on the service's side, not the repository's (${failure.code}: ${failure.message})`;
  return `${whose}; it does not count toward pausing syncs and is ${next}.`;
}

/** What the row says once syncs stop for the user's attention. */
export function attentionMessage(failure: Failure, failures: number, repoId: string): string {
  const why =
    failure.code === 'invalid_credentials'
      ? 'The Git server refused the access token'
      : `${failures} syncs in a row failed (last: ${failure.message})`;
  const retry = `POST /api/v1/code/repos/${repoId}/retry`;
  const answer = `send a new access token with ${retry}, or connect the repository again`;
  return `${why}. Syncs are paused: ${answer}.`;
}

/** A user's own request: one without a trigger is the user's. */
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
