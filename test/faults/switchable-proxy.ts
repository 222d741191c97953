import net from 'node:net';
import { freePort } from '../../src/runtime/ports.js';

export interface SwitchableProxy {
  /** Where clients connect (http://127.0.0.1:<port>): the target while up, a refused connection while down. */
  url: string;
  /** Stops listening and cuts every open connection, as a server that went away. */
  down(): Promise<void>;
  /** Listens again on the same port. */
  up(): Promise<void>;
  /** Sends new connections to another server from now on. */
  retarget(target: URL): void;
}

/** A TCP front for `target` that a test can take down and bring back, while the target keeps its state. */
export async function switchableProxy(initial: URL): Promise<SwitchableProxy> {
  let target = initial;
  const port = await freePort();
  const sockets = new Set<net.Socket>();
  const server = net.createServer((client) => {
    const upstream = net.connect(Number(target.port), target.hostname);
    for (const s of [client, upstream]) {
      sockets.add(s);
      s.on('close', () => sockets.delete(s));
      s.on('error', () => s.destroy());
    }
    client.pipe(upstream).pipe(client);
  });
  const listen = () =>
    new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, '127.0.0.1', () => {
        server.off('error', reject);
        resolve();
      });
    });
  await listen();
  return {
    url: `http://127.0.0.1:${port}`,
    async down() {
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      for (const s of sockets) s.destroy();
      await closed;
    },
    up: listen,
    retarget(to) {
      target = to;
    },
  };
}
