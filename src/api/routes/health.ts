import { Hono } from 'hono';
import { pingDatabase } from '../../db/client.js';
import type { ApiDeps } from '../deps.js';
import { errorBody } from '../errors.js';

const CHECK_TIMEOUT_MS = 2000;

async function probe(check: () => Promise<unknown>): Promise<'up' | 'down'> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error('timeout')), CHECK_TIMEOUT_MS);
  });
  try {
    await Promise.race([check(), timeout]);
    return 'up';
  } catch {
    return 'down';
  } finally {
    clearTimeout(timer);
  }
}

export function healthRoutes({ sql, temporal }: ApiDeps) {
  return new Hono()
    .get('/healthz', (c) => c.json({ status: 'ok' }))
    .get('/readyz', async (c) => {
      const [database, temporalStatus] = await Promise.all([
        probe(() => pingDatabase(sql)),
        probe(() => temporal.workflowService.getSystemInfo({})),
      ]);
      const checks = { database, temporal: temporalStatus };
      const down = Object.entries(checks).filter(([, s]) => s === 'down').map(([name]) => name);
      if (down.length === 0) return c.json({ status: 'ready', checks });
      return c.json(errorBody('not_ready', `Not ready: ${down.join(' and ')} ${down.length > 1 ? 'are' : 'is'} down`, { checks }), 503);
    });
}
