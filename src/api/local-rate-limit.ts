import type { Context, MiddlewareHandler } from 'hono';
import { rateLimited, type RateLimitSettings } from './rate-limit.js';

/**
 * Token buckets by key in this process's memory; `take` throws the 429 when a key's bucket is
 * empty. Full buckets are dropped (a missing bucket is a full one), so the map holds only keys
 * used lately: callers keep it bounded by giving buckets only to keys they have checked.
 */
export function localBuckets(settings: RateLimitSettings, now: () => number = Date.now) {
  const perSecond = settings.perMinute / 60;
  const buckets = new Map<string, { tokens: number; at: number }>();
  const refilled = (b: { tokens: number; at: number }, t: number) =>
    Math.min(settings.burst, b.tokens + (Math.max(0, t - b.at) / 1000) * perSecond);
  let nextSweep = 0;
  return {
    take(key: string): void {
      const t = now();
      if (t >= nextSweep) {
        nextSweep = t + 60_000;
        for (const [k, b] of buckets) if (refilled(b, t) >= settings.burst) buckets.delete(k);
      }
      const bucket = buckets.get(key);
      const tokens = bucket ? refilled(bucket, t) : settings.burst;
      if (tokens < 1) throw rateLimited(tokens, perSecond);
      buckets.set(key, { tokens: tokens - 1, at: t });
    },
    /** Keys with a bucket now: what the sweep keeps bounded. */
    callers: () => buckets.size,
  };
}

/**
 * A token bucket per caller in this process's memory: for routes that need no database otherwise
 * (/codec), where a PostgreSQL bucket would let everything through while the database is down. Each
 * API instance counts on its own, so N instances allow N times the rate. Only callers that passed
 * authentication get a bucket, so their number stays that of real callers; full buckets are dropped.
 */
export function localRateLimit<E extends object>(
  settings: RateLimitSettings,
  keyOf: (c: Context<E>) => string,
  now: () => number = Date.now,
): MiddlewareHandler<E> & { callers(): number } {
  const buckets = localBuckets(settings, now);
  const middleware: MiddlewareHandler<E> = async (c, next) => {
    buckets.take(keyOf(c));
    await next();
  };
  return Object.assign(middleware, { callers: buckets.callers });
}
