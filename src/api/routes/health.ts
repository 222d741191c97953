import { Hono } from 'hono';
import { pingDatabase } from '../../db/client.js';
import { answersWithin } from '../../runtime/deadline.js';
import { checkSearchAttributes } from '../../runtime/search-attributes.js';
import type { ApiDeps } from '../deps.js';
import { errorBody } from '../errors.js';

const CHECK_TIMEOUT_MS = 2000;
/** Attributes are rarely removed once registered, so a recent success is trusted this long. */
const SEARCH_ATTRIBUTES_OK_MS = 10_000;

async function probe(check: () => Promise<unknown>): Promise<'up' | 'down'> {
  return (await answersWithin(check, CHECK_TIMEOUT_MS)) ? 'up' : 'down';
}

/** `check`, skipped while its last success is younger than `ttlMs`; failures are never remembered. */
function cachedWhileOk(check: () => Promise<unknown>, ttlMs: number): () => Promise<unknown> {
  let okUntil = 0;
  return async () => {
    if (Date.now() < okUntil) return;
    await check();
    okUntil = Date.now() + ttlMs;
  };
}

export function healthRoutes({ sql, temporal }: ApiDeps) {
  const searchAttributesRegistered = cachedWhileOk(async () => {
    const { missing, wrongType } = await checkSearchAttributes(
      temporal.connection.operatorService,
      temporal.options.namespace,
    );
    if (missing.length + wrongType.length > 0) throw new Error('search attributes missing');
  }, SEARCH_ATTRIBUTES_OK_MS);
  return new Hono()
    .get('/healthz', (c) => c.json({ status: 'ok' }))
    .get('/readyz', async (c) => {
      const [database, temporalStatus, searchAttributes] = await Promise.all([
        probe(() => pingDatabase(sql)),
        probe(() => temporal.workflowService.getSystemInfo({})),
        probe(searchAttributesRegistered),
      ]);
      const checks = { database, temporal: temporalStatus, search_attributes: searchAttributes };
      const down = Object.entries(checks)
        .filter(([, s]) => s === 'down')
        .map(([name]) => name);
      if (down.length === 0) return c.json({ status: 'ready', checks });
      return c.json(
        errorBody('not_ready', `Not ready: ${down.join(' and ')} ${down.length > 1 ? 'are' : 'is'} down`, { checks }),
        503,
      );
    });
}
