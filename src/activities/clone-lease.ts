import { holdSyncLease, releaseSyncLease } from '../db/sync-lease.js';
import { waitingForDatabase } from './database-wait.js';
import type { ActivityDeps } from './deps.js';

/**
 * How long a lease holds unrenewed: four of the sync's heartbeat timeouts (15 s), so a slow
 * renewal never loses it, while a dead attempt's lapses within a minute.
 */
const LEASE_SECONDS = 60;
/** Renewed once per heartbeat timeout while the attempt runs. */
const RENEW_INTERVAL_MS = 15_000;

/**
 * Runs a sync attempt holding its clone: the row's lease, taken first (before the row is read,
 * so no sweep can remove the clone between that read and the lease), renewed while `work` runs
 * and ended with it. On a row no longer COMPLETED nothing is held, and `work` finds out why.
 */
export async function withCloneLease<T>({ sql, logger }: Pick<ActivityDeps, 'sql' | 'logger'>, repoId: string, work: () => Promise<T>): Promise<T> {
  await waitingForDatabase(() => holdSyncLease(sql, repoId, LEASE_SECONDS));
  let renewing: Promise<unknown> = Promise.resolve();
  const renew = setInterval(() => {
    renewing = holdSyncLease(sql, repoId, LEASE_SECONDS).catch((err: unknown) => {
      logger.warn({ repoId, reason: err instanceof Error ? err.message : String(err) }, 'could not renew the sync lease');
    });
  }, RENEW_INTERVAL_MS);
  try {
    return await work();
  } finally {
    clearInterval(renew);
    // A renewal under way must not land after the release.
    await renewing;
    await waitingForDatabase(() => releaseSyncLease(sql, repoId)).catch((err: unknown) => {
      logger.warn({ repoId, reason: err instanceof Error ? err.message : String(err) }, 'could not release the sync lease; it lapses by itself');
    });
  }
}
