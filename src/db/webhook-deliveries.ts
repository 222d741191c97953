import type { Queryable } from './client.js';

/**
 * Claims a repository's webhook delivery `deliveryId` for acting on: true when this caller is to
 * signal it (the first time, or taking over a claim never marked signalled and older than
 * `staleSeconds`, whose attempt died); false for a redelivery of one acted on, or under way. The
 * primary key decides, so concurrent deliveries of one id from several API instances claim it once.
 */
export async function claimDelivery(
  sql: Queryable,
  repoId: string,
  deliveryId: string,
  staleSeconds: number,
): Promise<boolean> {
  const claimed = await sql`
    insert into webhook_deliveries (repo_id, delivery_id) values (${repoId}, ${deliveryId})
    on conflict (repo_id, delivery_id) do update set received_at = now()
      where webhook_deliveries.signalled_at is null and webhook_deliveries.received_at < now() - make_interval(secs => ${staleSeconds})`;
  return claimed.count === 1;
}

/** The claimed delivery's sync was signalled: a redelivery of it is a duplicate from now on. */
export async function markDeliverySignalled(sql: Queryable, repoId: string, deliveryId: string): Promise<void> {
  await sql`update webhook_deliveries set signalled_at = now() where repo_id = ${repoId} and delivery_id = ${deliveryId}`;
}

/** Forgets a delivery that could not be acted on, so its sender's redelivery is acted on instead. */
export async function forgetDelivery(sql: Queryable, repoId: string, deliveryId: string): Promise<void> {
  await sql`delete from webhook_deliveries where repo_id = ${repoId} and delivery_id = ${deliveryId} and signalled_at is null`;
}

/**
 * Deletes up to `limit` deliveries older than `days` (one batch of the retention walk): a
 * redelivery after that is acted on again (it finds nothing new to fetch).
 */
export async function expireDeliveries(sql: Queryable, days: number, limit: number): Promise<number> {
  const deleted = await sql`
    delete from webhook_deliveries where (repo_id, delivery_id) in (
      select repo_id, delivery_id from webhook_deliveries where received_at < now() - make_interval(days => ${days}) order by received_at limit ${limit})`;
  return deleted.count;
}

/** Whether the repository's webhook has this delivery id on record (acted on, or under way). */
export async function deliveryKnown(sql: Queryable, repoId: string, deliveryId: string): Promise<boolean> {
  const rows = await sql`select 1 from webhook_deliveries where repo_id = ${repoId} and delivery_id = ${deliveryId}`;
  return rows.length > 0;
}

/**
 * Records `after` as the repository's last accepted push, unless it already is: true when this
 * caller took it (and is to act on the push), with what it replaced. One row update decides, so
 * concurrent replays of one push from every API instance take it once.
 */
export async function claimPushAfter(
  sql: Queryable,
  repoId: string,
  after: string,
): Promise<{ claimed: boolean; previous: string | null }> {
  const rows = await sql<{ previous: string | null }[]>`
    update code_repos r set last_push_after = ${after}
    from (select id, last_push_after from code_repos where id = ${repoId} for update) old
    where r.id = old.id and old.last_push_after is distinct from ${after}
    returning old.last_push_after as previous`;
  return rows.length === 1 ? { claimed: true, previous: rows[0]!.previous } : { claimed: false, previous: null };
}

/** Gives back a claimed push that was not acted on (still ours only if no later push took its place). */
export async function releasePushAfter(
  sql: Queryable,
  repoId: string,
  after: string,
  previous: string | null,
): Promise<void> {
  await sql`update code_repos set last_push_after = ${previous} where id = ${repoId} and last_push_after = ${after}`;
}
