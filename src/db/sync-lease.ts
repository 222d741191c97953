import type { Sql } from './client.js';

/** The attempt a lease belongs to: the activity it is an attempt of, and which attempt. */
export interface LeaseOwner {
  activity: string;
  attempt: number;
}

/** Held: this attempt has it; not_completed: the row is being cleaned; busy: another attempt holds it. */
export type LeaseTake = 'held' | 'not_completed' | 'busy';

const ownerText = (o: LeaseOwner) => `${o.activity}:${o.attempt}`;

/**
 * Takes the lease of a sync attempt on a COMPLETED row for `seconds` from now, when it is free,
 * lapsed, already this attempt's, or an older attempt's of the same activity (dead to Temporal);
 * never from a newer attempt of the same activity, lapsed or not.
 */
export async function takeSyncLease(sql: Sql, repoId: string, owner: LeaseOwner, seconds: number): Promise<LeaseTake> {
  const rows = await sql<{ cloneStatus: string; owner: string | null }[]>`
    with prior as (
      select id, clone_status, sync_lease_owner as owner, sync_lease_until as until,
        substring(sync_lease_owner from '^(.*):[0-9]+$') as activity,
        substring(sync_lease_owner from ':([0-9]+)$')::int as attempt
      from code_repos where id = ${repoId} for update
    ), taken as (
      update code_repos r set sync_lease_until = now() + make_interval(secs => ${seconds}), sync_lease_owner = ${ownerText(owner)}
      from prior p
      where r.id = p.id and p.clone_status = 'COMPLETED' and (
        p.owner is null
        or (p.activity = ${owner.activity} and p.attempt <= ${owner.attempt})
        or (p.until <= now() and not (p.activity = ${owner.activity} and p.attempt > ${owner.attempt})))
      returning r.sync_lease_owner as owner
    )
    select p.clone_status, t.owner from prior p left join taken t on true`;
  const row = rows[0];
  if (!row || row.cloneStatus !== 'COMPLETED') return 'not_completed';
  return row.owner ? 'held' : 'busy';
}

/** Renews the lease for `seconds` from now if `owner` still holds it on a COMPLETED row; false when lost. */
export async function renewSyncLease(sql: Sql, repoId: string, owner: LeaseOwner, seconds: number): Promise<boolean> {
  const rows = await sql`
    update code_repos set sync_lease_until = now() + make_interval(secs => ${seconds})
    where id = ${repoId} and clone_status = 'COMPLETED' and sync_lease_owner = ${ownerText(owner)}
    returning id`;
  return rows.length > 0;
}

/** The attempt is over: its lease ends now (the sweep's expiry counts from here); another's is left alone. */
export async function releaseSyncLease(sql: Sql, repoId: string, owner: LeaseOwner): Promise<void> {
  await sql`
    update code_repos set sync_lease_until = least(sync_lease_until, now())
    where id = ${repoId} and sync_lease_owner = ${ownerText(owner)}`;
}
