import { spawn } from 'node:child_process';
import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { Connection } from '@temporalio/client';
import type { Logger } from '../config/logger.js';
import { SEARCH_ATTRIBUTE_FLAGS } from '../shared/search-attributes.js';
import { exited, tail, terminate } from './child-process.js';

export interface TemporalDevServerOptions {
  cliPath: string;
  ip?: string;
  port: number;
  uiPort: number;
  namespace: string;
  /** Persist workflows in this SQLite file so they survive a restart; in memory when unset. */
  dbFilename?: string;
  /** Remote codec endpoint the Web UI calls to decode payloads. */
  uiCodecEndpoint?: string;
  headless?: boolean;
  /** Register our search attributes at start (default); off to imitate a server that lacks them. */
  searchAttributes?: boolean;
  logger: Logger;
  readyTimeoutMs?: number;
}

export interface TemporalDevServer {
  address: string;
  uiUrl: string | undefined;
  pid: number;
  stop(): Promise<void>;
}

export function devServerArgs(o: TemporalDevServerOptions): string[] {
  const ip = o.ip ?? '127.0.0.1';
  return [
    'server',
    'start-dev',
    '--ip',
    ip,
    '--port',
    String(o.port),
    '--ui-port',
    String(o.uiPort),
    '--namespace',
    o.namespace,
    '--log-level',
    'warn',
    // Update-with-start (the API's early return) is a multi-operation call, off by default.
    '--dynamic-config-value',
    'frontend.enableExecuteMultiOperation=true',
    ...(o.searchAttributes === false ? [] : SEARCH_ATTRIBUTE_FLAGS),
    ...(o.dbFilename ? ['--db-filename', o.dbFilename] : []),
    ...(o.uiCodecEndpoint ? ['--ui-codec-endpoint', o.uiCodecEndpoint] : []),
    // Without it the UI fetches a news feed from temporal.io, sending a client id and the cluster's id.
    ...(o.headless ? ['--headless'] : ['--ui-disable-news-fetch']),
  ];
}

/** Polls until the frontend answers and the namespace exists. */
async function waitUntilServing(
  address: string,
  namespace: string,
  deadline: number,
  died: Promise<void>,
): Promise<void> {
  let dead = false;
  void died.then(() => (dead = true));
  let lastError: unknown;
  while (Date.now() < deadline && !dead) {
    try {
      const connection = await Connection.connect({ address, connectTimeout: 1000 });
      try {
        await connection.workflowService.describeNamespace({ namespace });
        return;
      } finally {
        await connection.close();
      }
    } catch (err) {
      lastError = err;
      await sleep(250);
    }
  }
  throw new Error(
    dead ? 'exited during start-up' : `did not answer in time (${(lastError as Error)?.message ?? 'no answer'})`,
  );
}

/** Starts `temporal server start-dev` as a child process and waits until it serves. */
export async function startTemporalDevServer(o: TemporalDevServerOptions): Promise<TemporalDevServer> {
  const ip = o.ip ?? '127.0.0.1';
  const address = `${ip}:${o.port}`;
  if (o.dbFilename) await mkdir(path.dirname(o.dbFilename), { recursive: true });
  const child = spawn(o.cliPath, devServerArgs(o), { stdio: ['ignore', 'pipe', 'pipe'] });
  const output = tail();
  child.stdout.on('data', output.push);
  child.stderr.on('data', output.push);
  child.once('error', (err) => output.push(`${err.message}\n`));
  const died = exited(child);
  try {
    await waitUntilServing(address, o.namespace, Date.now() + (o.readyTimeoutMs ?? 60_000), died);
  } catch (err) {
    await terminate(child, 2000);
    throw new Error(`Temporal dev server on ${address} ${(err as Error).message}: ${output.text() || 'no output'}`, {
      cause: err,
    });
  }
  o.logger.debug({ address, pid: child.pid }, 'Temporal dev server ready');
  return {
    address,
    uiUrl: o.headless ? undefined : `http://${ip}:${o.uiPort}`,
    pid: child.pid!,
    stop: () => terminate(child),
  };
}
