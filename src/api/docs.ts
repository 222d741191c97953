import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import path from 'node:path';
import { Hono } from 'hono';
import { errorBody } from './errors.js';

/** Swagger UI's files, from the pinned `swagger-ui-dist` package: served by the API, never fetched from a CDN. */
const ASSETS: Record<string, string> = {
  'swagger-ui-bundle.js': 'text/javascript; charset=utf-8',
  'swagger-ui.css': 'text/css; charset=utf-8',
  'favicon-32x32.png': 'image/png',
};

/** Our start-up script, a file of its own so the page's CSP needs no inline script. */
const INIT_SCRIPT = `window.ui = SwaggerUIBundle({
  url: '/openapi.json',
  dom_id: '#swagger-ui',
  // Swagger UI would otherwise send the document to validator.swagger.io for its badge.
  validatorUrl: null,
  deepLinking: true,
});
`;

const PAGE = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>repo-connector API</title>
<link rel="icon" type="image/png" href="/docs/assets/favicon-32x32.png">
<link rel="stylesheet" href="/docs/assets/swagger-ui.css">
</head>
<body>
<div id="swagger-ui"></div>
<script src="/docs/assets/swagger-ui-bundle.js"></script>
<script src="/docs/assets/init.js"></script>
</body>
</html>
`;

export const isDocsPath = (p: string) => p === '/docs' || p.startsWith('/docs/');

const distDir = () => path.dirname(createRequire(import.meta.url).resolve('swagger-ui-dist/package.json'));

/** `/docs` and its assets. Files are read at their first request and kept: they change only with the package. */
export function docsRoutes() {
  const cache = new Map<string, Promise<Buffer>>();
  const load = (name: string) => {
    let file = cache.get(name);
    if (!file) {
      file = readFile(path.join(distDir(), name));
      // A failed read is not kept: the next request tries again.
      file.catch(() => cache.delete(name));
      cache.set(name, file);
    }
    return file;
  };
  return new Hono()
    .get('/', (c) => c.html(PAGE))
    .get('/assets/init.js', (c) => c.body(INIT_SCRIPT, 200, { 'Content-Type': 'text/javascript; charset=utf-8' }))
    .get('/assets/:name', async (c) => {
      const name = c.req.param('name');
      const type = Object.hasOwn(ASSETS, name) ? ASSETS[name] : undefined;
      if (!type) return c.json(errorBody('not_found', `No docs asset ${name}`), 404);
      return c.body(new Uint8Array(await load(name)), 200, {
        'Content-Type': type,
        'Cache-Control': 'public, max-age=3600',
      });
    });
}
