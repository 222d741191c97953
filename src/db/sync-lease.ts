import type { Sql } from './client.js';

/**
 * Takes (or renews) the lease of a sync attempt on a COMPLETED row for `seconds` from now; false
 * when the row is no longer COMPLETED (being cleaned): the attempt must not touch the clone then.
 */
export async function holdSyncLease(sql: Sql, repoId: string, seconds: number): Promise<boolean> {
  const rows = await sql`
    update code_repos set sync_lease_until = now() + make_interval(secs => ${seconds})
    where id = ${repoId} and clone_status = 'COMPLETED'
    returning id`;
  return rows.length > 0;
}

/** The attempt is over: the lease ends now, and the sweep's expiry counts from here. */
export async function releaseSyncLease(sql: Sql, repoId: string): Promise<void> {
  await sql`update code_repos set sync_lease_until = least(sync_lease_until, now()) where id = ${repoId}`;
}
