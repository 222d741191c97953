import { randomUUID } from 'node:crypto';
import { Writable } from 'node:stream';
import { sign } from 'hono/jwt';
import { describe, expect, it } from 'vitest';
import type { ApiDeps } from '../../src/api/deps.js';
import { createLogger } from '../../src/config/logger.js';
import { STAND_IN_JWT_SECRET, standInApp } from '../support/stand-in-app.js';

/**
 * A database that is down, keeping what each query was given: the rate limiter's bucket keys
 * (`read:<user>`, `write:<user>`) show where it ran. A query rejects only when awaited, as postgres.js's do.
 */
function downDatabase() {
  const values: unknown[] = [];
  const refused = Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' });
  const query = (_strings: unknown, ...args: unknown[]) => {
    values.push(...args);
    return { then: (_ok: unknown, fail: (err: unknown) => void) => fail(refused) };
  };
  const sql = Object.assign(query, { json: (v: unknown) => v, begin: () => Promise.reject(refused) });
  return { sql: sql as unknown as ApiDeps['sql'], values };
}

/** Sends requests to the app, telling for each which user its log line names (null: the user auth did not run) and which buckets it drew from. */
function appUnderTest() {
  const users: unknown[] = [];
  const log = new Writable({
    write(chunk: Buffer, _enc, done) {
      const line = JSON.parse(chunk.toString()) as { msg: string; userId?: unknown };
      if (line.msg === 'request') users.push(line.userId);
      done();
    },
  });
  const db = downDatabase();
  const app = standInApp({ sql: db.sql, logger: createLogger({ level: 'info' }, log) });
  return async (method: string, path: string, headers: Record<string, string> = {}) => {
    const queried = db.values.length;
    const res = await app.request(path, {
      method,
      headers: { 'content-type': 'application/json', ...headers },
      ...(method === 'GET' ? {} : { body: '{}' }),
    });
    const text = await res.text();
    const json = res.headers.get('content-type')?.startsWith('application/json') ? JSON.parse(text) : undefined;
    const buckets = new Set(db.values.slice(queried).filter((v) => /^(read|write):/.test(String(v))));
    return { status: res.status, error: json?.detail?.error, user: users.at(-1), buckets: [...buckets] };
  };
}

const userToken = async () => ({
  authorization: `Bearer ${await sign({ sub: 'u', exp: Math.floor(Date.now() / 1000) + 60 }, STAND_IN_JWT_SECRET, 'HS256')}`,
});
const id = randomUUID();

/** Behind the user's bearer token and the per-user rate limit: everything under /api/v1, known route or not. */
const USER_ROUTES: Array<[string, string]> = [
  ['POST', '/api/v1/projects'],
  ['GET', `/api/v1/projects/${id}`],
  ['POST', '/api/v1/code/connect'],
  ['GET', `/api/v1/code/repos/${id}`],
  ['POST', `/api/v1/code/repos/${id}/sync`],
  ['DELETE', `/api/v1/code/repos/${id}`],
  ['GET', '/api/v1/nowhere'],
];
/** Open to anyone: probes, metrics (behind METRICS_TOKEN when it is set), the API's documentation. */
const PUBLIC_ROUTES: Array<[string, string]> = [
  ['GET', '/healthz'],
  ['GET', '/readyz'],
  ['GET', '/metrics'],
  ['GET', '/docs'],
  ['GET', '/openapi.json'],
];
/** Authenticated by themselves: a push webhook by its signature, the codec by an operator's token. */
const WEBHOOK: [string, string] = ['POST', `/api/v1/hooks/git/${id}`];
const CODEC: [string, string] = ['POST', '/codec/decode'];
/** Reads and writes draw from buckets of their own; a DELETE from neither. */
const BUCKETS_OF: Record<string, string[]> = { POST: ['write:u'], GET: ['read:u'], DELETE: [] };

describe('which middleware a path gets', () => {
  it('without a token: every /api/v1 route but the webhook is refused by the user auth; the others reach their handlers', async () => {
    const send = appUnderTest();
    for (const [method, path] of USER_ROUTES) {
      expect(await send(method, path), `${method} ${path}`).toMatchObject({
        status: 401,
        error: 'unauthorized',
        buckets: [],
      });
    }
    for (const [method, path] of PUBLIC_ROUTES) {
      expect((await send(method, path)).status, `${method} ${path}`).not.toBe(401);
    }
    // The webhook's own handler runs, and finds the database down.
    expect(await send(...WEBHOOK)).toMatchObject({ status: 502, error: 'upstream_unavailable' });
  });

  it("with a user's token: the user auth and the rate limit run on the /api/v1 routes only; the webhook ignores it, the codec wants an operator", async () => {
    const send = appUnderTest();
    const headers = await userToken();
    for (const [method, path] of USER_ROUTES) {
      const res = await send(method, path, headers);
      expect(res.status, `${method} ${path}`).not.toBe(401);
      expect(res, `${method} ${path}`).toMatchObject({ user: 'u', buckets: BUCKETS_OF[method] });
    }
    for (const [method, path] of PUBLIC_ROUTES) {
      const res = await send(method, path, headers);
      expect(res.status, `${method} ${path}`).not.toBe(401);
      expect(res, `${method} ${path}`).toMatchObject({ user: null, buckets: [] });
    }
    expect(await send(...WEBHOOK, headers)).toMatchObject({ status: 502, user: null, buckets: [] });
    expect(await send(...CODEC, headers)).toMatchObject({ status: 403, error: 'forbidden', user: null, buckets: [] });
  });
});
