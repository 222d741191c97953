import type { Queryable } from './client.js';

/** Records when `keyId` went into service (the first process to use it says so; later ones change nothing). */
export async function recordKeyInService(sql: Queryable, keyId: string): Promise<void> {
  await sql`insert into encryption_keys (key_id) values (${keyId}) on conflict (key_id) do nothing`;
}

/** Days `keyId` has been in service, or undefined when no process has recorded it yet. */
export async function keyAgeDays(sql: Queryable, keyId: string): Promise<number | undefined> {
  const [row] = await sql<Array<{ days: number }>>`
    select extract(epoch from now() - in_service_since)::float8 / 86400 as days
    from encryption_keys where key_id = ${keyId}`;
  return row?.days;
}
