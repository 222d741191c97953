import type { MiddlewareHandler } from 'hono';
import type { ApiEnv } from './context.js';
import type { Sql } from '../db/client.js';
import { expireIdleBuckets, takeToken } from '../db/rate-limit-buckets.js';
import { ApiError } from './errors.js';

export interface RateLimitSettings {
  /** Requests a user may make at once. */
  burst: number;
  /** Tokens added back per minute. */
  perMinute: number;
}

/** Whole seconds (at least one) until a bucket holding `tokens` (< 1) has one again. */
export const secondsToNextToken = (tokens: number, perSecond: number): number =>
  Math.max(1, Math.ceil((1 - tokens) / perSecond));

/** 429 for a bucket holding `tokens` (< 1): Retry-After is the whole seconds until one token is back. */
export function rateLimited(tokens: number, perSecond: number): ApiError {
  const retryAfter = secondsToNextToken(tokens, perSecond);
  return new ApiError(
    429,
    'rate_limited',
    `Too many requests; retry in ${retryAfter} s`,
    { retry_after_seconds: retryAfter },
    { 'Retry-After': String(retryAfter) },
  );
}

/** A bucket idle this long is full again, and a missing bucket is a full one: deleting it changes nothing. */
export const fullAfterSeconds = (s: RateLimitSettings): number => Math.ceil(s.burst / (s.perMinute / 60));

/** How often each API instance deletes idle buckets; any instance's sweep serves them all. */
const SWEEP_EVERY_MS = 60_000;

/**
 * A token bucket per user (and kind of request), kept in PostgreSQL (src/db/rate-limit-buckets.ts) so that every API
 * instance draws from the same bucket. An empty bucket answers 429 with Retry-After: the seconds
 * until one token is back.
 *
 * If PostgreSQL does not answer, the request goes through (fail-open) and a warning is logged:
 * every POST handler needs PostgreSQL itself (projects, admission, the row), so it fails on its
 * own without it and the limiter adds no protection there; failing closed would only turn a
 * database blip into 429s for every user.
 */
export function rateLimit(
  sql: Sql,
  settings: RateLimitSettings,
  /**
   * `keyPrefix` keeps this limit's buckets apart from the others'; the sweep deletes every kind's idle
   * buckets, so `idleSeconds` must be the longest any of them takes to fill (fullAfterSeconds).
   */
  o: { keyPrefix?: string; idleSeconds?: number } = {},
): MiddlewareHandler<ApiEnv> {
  const spec = { burst: settings.burst, perSecond: settings.perMinute / 60 };
  const idleSeconds = o.idleSeconds ?? fullAfterSeconds(settings);
  let nextSweep = 0;
  return async (c, next) => {
    const log = c.get('log');
    if (Date.now() >= nextSweep) {
      nextSweep = Date.now() + SWEEP_EVERY_MS;
      await expireIdleBuckets(sql, idleSeconds).catch((err: unknown) =>
        log.warn({ err }, 'rate limit: idle buckets not expired'),
      );
    }
    const taken = await takeToken(sql, `${o.keyPrefix ?? ''}${c.get('userId')}`, spec).catch((err: unknown) => {
      log.warn({ err }, 'rate limit: PostgreSQL unavailable, request let through');
      return undefined;
    });
    if (taken && !taken.allowed) throw rateLimited(taken.tokens, spec.perSecond);
    await next();
  };
}
