import { Context } from '@temporalio/activity';
import { releaseSyncLease, renewSyncLease, takeSyncLease, type LeaseOwner } from '../db/sync-lease.js';
import { RepoError } from '../shared/errors.js';
import { waitingForDatabase } from './database-wait.js';
import type { ActivityDeps } from './deps.js';

/**
 * How long a lease holds unrenewed: four of the sync's heartbeat timeouts (15 s), so a slow
 * renewal never loses it, while a dead attempt's lapses within a minute.
 */
const LEASE_SECONDS = 60;
/** Renewed once per heartbeat timeout while the attempt runs. */
const RENEW_INTERVAL_MS = 15_000;

/** What `work` is told of its lease. */
export interface CloneLease {
  /** Aborted once another attempt holds the clone: this one must stop and touch nothing more of it. */
  signal: AbortSignal;
  /** Renews the lease now; false (the signal aborted) when another attempt holds it or the row is no longer COMPLETED. */
  stillHeld(): Promise<boolean>;
}

/** Retryable; when a newer attempt exists Temporal discards it anyway (this attempt timed out). */
export const leaseLost = () =>
  new RepoError(
    'internal_error',
    'The sync does not hold the clone (another attempt does, or it is being cleaned); this attempt stopped without touching it',
  );

/** This attempt, as the lease names it: an activity of one workflow run, and its attempt. */
function currentOwner(): LeaseOwner {
  const { workflowExecution, activityId, attempt } = Context.current().info;
  return { activity: `${workflowExecution?.workflowId}/${workflowExecution?.runId}/${activityId}`, attempt };
}

/**
 * Runs a sync attempt holding its clone: the row's lease, taken first (before the row is read,
 * so no sweep can remove the clone between that read and the lease), renewed while `work` runs
 * and ended with it. Only its owner renews or ends it; an attempt that finds it held by another
 * fails retryably before touching the clone. On a row no longer COMPLETED nothing is held, and
 * `work` finds out why.
 */
export async function withCloneLease<T>(
  { sql, logger }: Pick<ActivityDeps, 'sql' | 'logger'>,
  repoId: string,
  work: (lease: CloneLease) => Promise<T>,
): Promise<T> {
  const owner = currentOwner();
  if ((await waitingForDatabase(() => takeSyncLease(sql, repoId, owner, LEASE_SECONDS))) === 'busy') throw leaseLost();
  const lost = new AbortController();
  const renewed = (held: boolean) => {
    if (!held && !lost.signal.aborted) {
      logger.warn({ repoId }, 'another attempt of the sync took the clone; this one stops');
      lost.abort(leaseLost());
    }
    return held;
  };
  let renewing: Promise<unknown> = Promise.resolve();
  const renew = setInterval(() => {
    renewing = renewSyncLease(sql, repoId, owner, LEASE_SECONDS).then(renewed, (err: unknown) => {
      logger.warn(
        { repoId, reason: err instanceof Error ? err.message : String(err) },
        'could not renew the sync lease',
      );
    });
  }, RENEW_INTERVAL_MS);
  const lease: CloneLease = {
    signal: lost.signal,
    stillHeld: async () =>
      !lost.signal.aborted &&
      renewed(await waitingForDatabase(() => renewSyncLease(sql, repoId, owner, LEASE_SECONDS))),
  };
  try {
    return await work(lease);
  } finally {
    clearInterval(renew);
    // A renewal under way must not land after the release.
    await renewing;
    await waitingForDatabase(() => releaseSyncLease(sql, repoId, owner)).catch((err: unknown) => {
      logger.warn(
        { repoId, reason: err instanceof Error ? err.message : String(err) },
        'could not release the sync lease; it lapses by itself',
      );
    });
  }
}
