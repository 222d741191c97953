import type { Context, MiddlewareHandler } from 'hono';
import { rateLimited, type RateLimitSettings } from './rate-limit.js';

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
  const perSecond = settings.perMinute / 60;
  const buckets = new Map<string, { tokens: number; at: number }>();
  const refilled = (b: { tokens: number; at: number }, t: number) => Math.min(settings.burst, b.tokens + Math.max(0, t - b.at) / 1000 * perSecond);
  let nextSweep = 0;
  const middleware: MiddlewareHandler<E> = async (c, next) => {
    const t = now();
    if (t >= nextSweep) {
      nextSweep = t + 60_000;
      for (const [key, b] of buckets) if (refilled(b, t) >= settings.burst) buckets.delete(key);
    }
    const key = keyOf(c);
    const bucket = buckets.get(key);
    const tokens = bucket ? refilled(bucket, t) : settings.burst;
    if (tokens < 1) throw rateLimited(tokens, perSecond);
    buckets.set(key, { tokens: tokens - 1, at: t });
    await next();
  };
  /** Callers with a bucket now: what the sweep keeps bounded. */
  return Object.assign(middleware, { callers: () => buckets.size });
}
