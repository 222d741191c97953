import { randomUUID } from 'node:crypto';
import { afterAll, describe, expect, inject, it } from 'vitest';
import { createSql } from '../../src/db/client.js';
import { expireIdleBuckets, takeToken } from '../../src/db/rate-limit-buckets.js';

const stack = inject('stack');
const sql = createSql(stack.databaseUrl, { max: 4 });

afterAll(async () => {
  await sql.end();
});

const bucketExists = async (key: string) =>
  (await sql`select 1 from rate_limit_buckets where key = ${key}`).length === 1;

describe('token buckets in PostgreSQL', () => {
  it('takes tokens until the bucket is empty, then refuses with what is left', async () => {
    const key = `bucket-${randomUUID()}`;
    const spec = { burst: 3, perSecond: 1 / 60 };
    const taken = [];
    for (let i = 0; i < 4; i++) taken.push(await takeToken(sql, key, spec));
    expect(taken.map((t) => t.allowed)).toEqual([true, true, true, false]);
    expect(taken[3]!.tokens).toBeLessThan(1);
  });

  it('deletes only buckets idle longer than asked; a deleted bucket is a full one', async () => {
    const key = `idle-${randomUUID()}`;
    const spec = { burst: 1, perSecond: 1 / 60 };
    expect((await takeToken(sql, key, spec)).allowed).toBe(true);
    expect((await takeToken(sql, key, spec)).allowed).toBe(false);
    await expireIdleBuckets(sql, 3600);
    expect(await bucketExists(key)).toBe(true);
    await sql`update rate_limit_buckets set updated_at = now() - interval '2 hours' where key = ${key}`;
    expect(await expireIdleBuckets(sql, 3600)).toBeGreaterThanOrEqual(1);
    expect(await bucketExists(key)).toBe(false);
    expect((await takeToken(sql, key, spec)).allowed).toBe(true);
  });
});
