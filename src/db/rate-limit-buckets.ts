import type { Queryable } from './client.js';

export interface BucketSpec {
  /** Tokens a full bucket holds. */
  burst: number;
  /** Tokens added back per second. */
  perSecond: number;
}

export interface TakeResult {
  allowed: boolean;
  /** Tokens left after this request (allowed), or the tokens there were (refused: fewer than one). */
  tokens: number;
}

/**
 * Refills `key`'s bucket for the time since its last use and takes one token, in one statement:
 * the insert or the row lock of `on conflict do update` serialises concurrent requests from every
 * API instance, so a burst is counted once across all of them. A refused request changes nothing
 * (refill is linear, so leaving the row as it was is the same as writing the refilled value).
 * Elapsed time is clamped at zero: a statement that started before the one it waited for must
 * not take tokens back.
 */
export async function takeToken(sql: Queryable, key: string, spec: BucketSpec): Promise<TakeResult> {
  const refilled = sql`least(${spec.burst}::float8,
    b.tokens + greatest(0, extract(epoch from now() - b.updated_at))::float8 * ${spec.perSecond}::float8)`;
  // A refused request reads the bucket from the statement's snapshot, which only feeds Retry-After.
  const [row] = await sql<TakeResult[]>`
    with taken as (
      insert into rate_limit_buckets as b (key, tokens, updated_at)
      values (${key}, ${spec.burst - 1}::float8, now())
      on conflict (key) do update
        set tokens = ${refilled} - 1, updated_at = greatest(b.updated_at, now())
        where ${refilled} >= 1
      returning b.tokens)
    select true as allowed, tokens from taken
    union all
    select false, ${refilled} from rate_limit_buckets b
    where b.key = ${key} and not exists (select 1 from taken)`;
  // No row at all: refused, and the bucket was made by a request this statement's snapshot predates.
  return row ?? { allowed: false, tokens: 0 };
}

/** Deletes buckets untouched for `idleSeconds`; returns how many. */
export async function expireIdleBuckets(sql: Queryable, idleSeconds: number): Promise<number> {
  const rows = await sql`
    delete from rate_limit_buckets where updated_at < now() - make_interval(secs => ${idleSeconds}::float8)`;
  return rows.count;
}
