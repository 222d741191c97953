import { createServer } from 'node:http';
import { registry } from './metrics.js';

/** Serves this process's metrics at `GET /metrics` (for the worker, which has no HTTP API of its own). */
export function serveMetrics(host: string, port: number): Promise<{ stop(): Promise<void> }> {
  const server = createServer((req, res) => {
    if (req.method !== 'GET' || req.url !== '/metrics') {
      res.writeHead(404).end();
      return;
    }
    registry.metrics().then(
      (text) => res.writeHead(200, { 'Content-Type': registry.contentType }).end(text),
      () => res.writeHead(500).end(),
    );
  });
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () =>
      resolve({ stop: () => new Promise<void>((done) => server.close(() => done())) }));
  });
}
