import { Hono } from 'hono';
import { describe, expect, it } from 'vitest';
import { type ApiError, sendError } from '../../src/api/errors.js';
import { localRateLimit } from '../../src/api/local-rate-limit.js';

function appWith(clock: { now: number }) {
  const app = new Hono();
  const limiter = localRateLimit(
    { burst: 2, perMinute: 30 },
    (c) => c.req.header('x-caller') ?? 'anonymous',
    () => clock.now,
  );
  app.use(limiter);
  app.post('/', (c) => c.text('ok'));
  app.onError((err, c) => sendError(c, err as ApiError));
  return Object.assign((caller: string) => app.request('/', { method: 'POST', headers: { 'x-caller': caller } }), {
    callers: limiter.callers,
  });
}

describe('the in-process rate limiter', () => {
  it('allows a burst per caller, then answers 429 with Retry-After until a token is back', async () => {
    const clock = { now: 1_000_000 };
    const send = appWith(clock);
    expect((await send('a')).status).toBe(200);
    expect((await send('a')).status).toBe(200);
    const refused = await send('a');
    expect(refused.status).toBe(429);
    // 30 per minute: one token every 2 s.
    expect(refused.headers.get('retry-after')).toBe('2');
    expect(await refused.json()).toMatchObject({ detail: { error: 'rate_limited', retry_after_seconds: 2 } });
    expect((await send('b')).status).toBe(200);
    clock.now += 1_000;
    expect((await send('a')).headers.get('retry-after')).toBe('1');
    clock.now += 1_000;
    expect((await send('a')).status).toBe(200);
    expect((await send('a')).status).toBe(429);
  });

  it('refills no more than the burst however long a caller waited', async () => {
    const clock = { now: 0 };
    const send = appWith(clock);
    await send('a');
    clock.now += 3_600_000;
    expect((await send('a')).status).toBe(200);
    expect((await send('a')).status).toBe(200);
    expect((await send('a')).status).toBe(429);
  });

  it('forgets callers whose bucket has filled up again, so many callers do not pile up', async () => {
    const clock = { now: 0 };
    const send = appWith(clock);
    for (let i = 0; i < 500; i++) await send(`caller-${i}`);
    expect(send.callers()).toBe(500);
    // A minute on, every bucket is full again (one token every 2 s, burst 2): the next request sweeps them.
    clock.now += 60_000;
    await send('late');
    expect(send.callers()).toBe(1);
  });
});
