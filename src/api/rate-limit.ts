import type { MiddlewareHandler } from 'hono';
import { ApiError } from './errors.js';

export interface RateLimitSettings {
  /** Requests a user may make at once. */
  burst: number;
  /** Tokens added back per minute. */
  perMinute: number;
  /** Buckets idle this long are dropped, so memory stays bounded by active users. */
  idleMs?: number;
}

interface Bucket {
  tokens: number;
  at: number;
}

/**
 * A token bucket per user (in this process; behind several API instances each keeps its own).
 * An empty bucket answers 429 with Retry-After: the seconds until one token is back.
 */
export function rateLimit<E extends { Variables: { userId: string } }>(settings: RateLimitSettings, now: () => number = Date.now): MiddlewareHandler<E> {
  const buckets = new Map<string, Bucket>();
  const perMs = settings.perMinute / 60_000;
  const idleMs = settings.idleMs ?? 10 * 60_000;
  let lastSweep = now();
  return async (c, next) => {
    const t = now();
    if (t - lastSweep > idleMs) {
      for (const [user, b] of buckets) if (t - b.at > idleMs) buckets.delete(user);
      lastSweep = t;
    }
    const user = c.get('userId');
    const bucket = buckets.get(user) ?? { tokens: settings.burst, at: t };
    bucket.tokens = Math.min(settings.burst, bucket.tokens + (t - bucket.at) * perMs);
    bucket.at = t;
    buckets.set(user, bucket);
    if (bucket.tokens < 1) {
      const retryAfter = Math.max(1, Math.ceil((1 - bucket.tokens) / perMs / 1000));
      throw new ApiError(429, 'rate_limited', `Too many requests; retry in ${retryAfter} s`, { retry_after_seconds: retryAfter }, { 'Retry-After': String(retryAfter) });
    }
    bucket.tokens -= 1;
    await next();
  };
}
