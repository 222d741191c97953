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

/** When `keyId` went into service, or undefined when no process has recorded it yet. */
export async function keyInServiceSince(sql: Queryable, keyId: string): Promise<Date | undefined> {
  const [row] = await sql<
    Array<{ since: Date }>
  >`select in_service_since as since from encryption_keys where key_id = ${keyId}`;
  return row?.since;
}

/** What is stored under each wrapping key: live access tokens and webhook secrets, and the service's own keys. */
export async function storedUnderEachKey(
  sql: Queryable,
): Promise<Map<string, { tokens: number; webhookSecrets: number; serviceKeys: number }>> {
  const rows = await sql<Array<{ keyId: string; tokens: number; webhookSecrets: number; serviceKeys: number }>>`
    select key_id, sum(tokens)::int as tokens, sum(webhook_secrets)::int as webhook_secrets, sum(service_keys)::int as service_keys from (
      select token_kid as key_id, 1 as tokens, 0 as webhook_secrets, 0 as service_keys from code_repos where token_ciphertext is not null
      union all
      select webhook_secret_kid, 0, 1, 0 from code_repos where webhook_secret_ciphertext is not null
      union all
      select key_id, 0, 0, 1 from service_keys
    ) stored group by key_id`;
  return new Map(rows.map(({ keyId, ...stored }) => [keyId, stored]));
}
