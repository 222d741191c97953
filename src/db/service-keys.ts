import type { Queryable } from './client.js';

/** A key of the service's own, wrapped by the key provider (`key_id` names the wrapping key). */
export interface WrappedServiceKey {
  name: string;
  wrappedKey: Buffer;
  keyId: string;
}

/** The stored key `name` that `canOpen` says can be opened, oldest first (the one in use since it was made). */
export async function findServiceKey(
  sql: Queryable,
  name: string,
  canOpen: (keyId: string) => boolean,
): Promise<WrappedServiceKey | undefined> {
  const rows = await sql<
    WrappedServiceKey[]
  >`select name, wrapped_key, key_id from service_keys where name = ${name} order by created_at, key_id`;
  return rows.find((r) => canOpen(r.keyId));
}

/** Stores the key unless another process stored one under the same wrapping key first; returns the one stored. */
export async function insertServiceKey(sql: Queryable, key: WrappedServiceKey): Promise<WrappedServiceKey> {
  await sql`insert into service_keys (name, wrapped_key, key_id) values (${key.name}, ${key.wrappedKey}, ${key.keyId})
            on conflict (name, key_id) do nothing`;
  return (await findServiceKey(sql, key.name, (keyId) => keyId === key.keyId))!;
}

/** Service keys wrapped under another key than `currentKeyId` (key rotation). */
export async function findServiceKeysNotUnder(sql: Queryable, currentKeyId: string): Promise<WrappedServiceKey[]> {
  return sql<
    WrappedServiceKey[]
  >`select name, wrapped_key, key_id from service_keys where key_id <> ${currentKeyId} order by name`;
}

/** Replaces a service key's wrapped form, unless it changed meanwhile; true when replaced. */
export async function replaceWrappedServiceKey(
  sql: Queryable,
  before: WrappedServiceKey,
  after: { wrappedKey: Buffer; keyId: string },
): Promise<boolean> {
  const rows = await sql`update service_keys set wrapped_key = ${after.wrappedKey}, key_id = ${after.keyId}
                         where name = ${before.name} and key_id = ${before.keyId} and wrapped_key = ${before.wrappedKey}
                           and not exists (select 1 from service_keys where name = ${before.name} and key_id = ${after.keyId})`;
  return rows.count === 1;
}
