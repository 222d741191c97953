import { Hono } from 'hono';
import { describe, expect, it } from 'vitest';
import { rateLimit } from '../../src/api/rate-limit.js';
import { createLogger } from '../../src/config/logger.js';
import { createSql } from '../../src/db/client.js';

describe('the rate limiter without PostgreSQL', () => {
  it('lets requests through (fail-open) rather than refusing every user', async () => {
    // Nothing listens on the discard port: every query fails to connect.
    const sql = createSql('postgres://nobody@127.0.0.1:9/none', { max: 1 });
    const app = new Hono<{ Variables: { userId: string; log: ReturnType<typeof createLogger> } }>();
    app.use(async (c, next) => {
      c.set('userId', 'someone');
      c.set('log', createLogger({ level: 'silent' }));
      await next();
    });
    app.use(rateLimit(sql, { burst: 1, perMinute: 1 }));
    app.post('/', (c) => c.text('ok'));
    try {
      for (let i = 0; i < 3; i++) expect((await app.request('/', { method: 'POST' })).status).toBe(200);
    } finally {
      await sql.end({ timeout: 1 });
    }
  });
});
