import { timingSafeEqual } from 'node:crypto';
import { createServer } from 'node:http';
import { METRICS_CONTENT_TYPE, scrapeMetrics } from './scrape.js';

/** Whether an Authorization header carries METRICS_TOKEN (always, when no token is set). */
export function metricsAuthorized(header: string | undefined, token: string | undefined): boolean {
  if (!token) return true;
  const given = Buffer.from(header?.startsWith('Bearer ') ? header.slice(7) : '');
  const expected = Buffer.from(token);
  return given.length === expected.length && timingSafeEqual(given, expected);
}

/**
 * Serves this process's metrics at `GET /metrics` on a port of its own: the worker's (it has no
 * HTTP API), and the API's when API_METRICS_PORT moves them off the public port.
 */
export function serveMetrics(
  host: string,
  port: number,
  token?: string,
): Promise<{ port: number; stop(): Promise<void> }> {
  const server = createServer((req, res) => {
    // As strict as the API's JSON answers: a scrape loads nothing and is never framed.
    res.setHeader(
      'Content-Security-Policy',
      "default-src 'none'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'",
    );
    res.setHeader('X-Content-Type-Options', 'nosniff');
    if (req.method !== 'GET' || req.url !== '/metrics') {
      res.writeHead(404).end();
      return;
    }
    if (!metricsAuthorized(req.headers.authorization, token)) {
      res.writeHead(401, { 'WWW-Authenticate': 'Bearer' }).end();
      return;
    }
    scrapeMetrics().then(
      (text) => res.writeHead(200, { 'Content-Type': METRICS_CONTENT_TYPE }).end(text),
      () => res.writeHead(500).end(),
    );
  });
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      const address = server.address();
      resolve({
        port: typeof address === 'object' && address ? address.port : port,
        stop: () => new Promise<void>((done) => server.close(() => done())),
      });
    });
  });
}
