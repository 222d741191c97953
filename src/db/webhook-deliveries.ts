import type { Queryable } from './client.js';

/**
 * Records that a repository's webhook acted on `deliveryId`; false when it already had (a
 * redelivery). The primary key decides, so concurrent deliveries of one id from several API
 * instances record it once.
 */
export async function recordDelivery(sql: Queryable, repoId: string, deliveryId: string): Promise<boolean> {
  const inserted = await sql`
    insert into webhook_deliveries (repo_id, delivery_id) values (${repoId}, ${deliveryId})
    on conflict (repo_id, delivery_id) do nothing`;
  return inserted.count === 1;
}

/** Forgets a delivery that could not be acted on, so its sender's redelivery is acted on instead. */
export async function forgetDelivery(sql: Queryable, repoId: string, deliveryId: string): Promise<void> {
  await sql`delete from webhook_deliveries where repo_id = ${repoId} and delivery_id = ${deliveryId}`;
}

/** Deletes deliveries older than `days`: a redelivery after that is acted on again (it finds nothing new to fetch). */
export async function expireDeliveries(sql: Queryable, days: number): Promise<number> {
  const deleted = await sql`delete from webhook_deliveries where received_at < now() - make_interval(days => ${days})`;
  return deleted.count;
}
