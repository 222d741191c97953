import type { MiddlewareHandler } from 'hono';
import { secureHeaders } from 'hono/secure-headers';
import { isDocsPath } from './docs.js';

/** JSON and text answers load nothing and may not be framed: a response rendered as a page runs nothing. */
export const API_CSP = {
  defaultSrc: ["'none'"],
  frameAncestors: ["'none'"],
  baseUri: ["'none'"],
  formAction: ["'none'"],
};

/**
 * The docs page loads its script, styles and the OpenAPI document from this origin only, with no
 * inline script or style; `data:` images are the icons inside Swagger UI's stylesheet.
 */
export const DOCS_CSP = {
  ...API_CSP,
  scriptSrc: ["'self'"],
  styleSrc: ["'self'"],
  imgSrc: ["'self'", 'data:'],
  fontSrc: ["'self'"],
  connectSrc: ["'self'"],
};

/** hono's secure headers on every response, with the docs page's CSP on /docs and the strict one elsewhere. */
export function securityHeaders(): MiddlewareHandler {
  const api = secureHeaders({ contentSecurityPolicy: API_CSP });
  const docs = secureHeaders({ contentSecurityPolicy: DOCS_CSP });
  return (c, next) => (isDocsPath(c.req.path) ? docs(c, next) : api(c, next));
}
