import type { Context } from 'hono';
import type { RouterRoute } from 'hono/types';
import { errorBody } from './errors.js';

const segment = (s: string) =>
  s === '*' ? '.*' : s.startsWith(':') ? '[^/]+' : s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
/** A route path as a whole-path pattern: `:param` is one segment, `*` anything. */
const pattern = (routePath: string) => new RegExp(`^${routePath.split('/').map(segment).join('/')}$`);

/**
 * The answer for a request no route took: 405 with `Allow` when the path is served with other
 * methods (RFC 9110 §15.5.6), else 404. Middleware (method ALL) does not count as serving a path.
 */
export function unmatchedRequest(routes: () => RouterRoute[]) {
  let compiled: Array<{ method: string; test: RegExp }> | undefined;
  return (c: Context) => {
    compiled ??= routes()
      .filter((r) => r.method !== 'ALL')
      .map((r) => ({ method: r.method, test: pattern(r.path) }));
    const methods = new Set(compiled.filter((r) => r.test.test(c.req.path)).map((r) => r.method));
    // hono answers HEAD from the GET route.
    if (methods.has('GET')) methods.add('HEAD');
    if (methods.size === 0) return c.json(errorBody('not_found', `No route for ${c.req.method} ${c.req.path}`), 404);
    const allow = [...methods].sort().join(', ');
    return c.json(
      errorBody('method_not_allowed', `${c.req.method} is not allowed on ${c.req.path}; allowed: ${allow}`),
      405,
      { Allow: allow },
    );
  };
}
