import type { AddressInfo } from 'node:net';
import { serve, type ServerType } from '@hono/node-server';

type Fetch = (request: Request) => Response | Promise<Response>;

/** Serves `fetch` on host:port; resolves once it listens, with the port it got (port 0: a free one). */
export function listen(fetch: Fetch, host: string, port: number): Promise<{ server: ServerType; port: number }> {
  return new Promise((resolve, reject) => {
    const server = serve({ fetch, hostname: host, port }, () =>
      resolve({ server, port: (server.address() as AddressInfo).port }),
    );
    server.once('error', reject);
  });
}

/** Stops taking connections, closes the idle ones (with `abort`, every one), and resolves when the open ones have ended. */
export function close(server: ServerType, o: { abort?: boolean } = {}): Promise<void> {
  return new Promise((resolve) => {
    server.close(() => resolve());
    if ('closeIdleConnections' in server) server.closeIdleConnections();
    if (o.abort && 'closeAllConnections' in server) server.closeAllConnections();
  });
}
