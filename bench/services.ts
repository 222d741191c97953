import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes, randomUUID } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { setTimeout as sleep } from 'node:timers/promises';
import { exited, tail, terminate } from '../src/dev-stack/child-process.js';
import { freePort } from '../src/runtime/ports.js';
import type { TestStack } from '../test/support/stack.js';

export interface Services {
  apiUrl: string;
  jwtSecret: string;
  env: Record<string, string>;
  pids: { api: number; worker: number };
  /** Resident set size of each process now, in bytes (VmRSS). */
  rss(): Promise<{ api: number; worker: number }>;
  stop(): Promise<void>;
}

/** `npm run build`: the compiled service and its prebuilt workflow bundle, as production runs them. */
export async function buildService(): Promise<void> {
  const build = spawn('npm', ['run', 'build', '--silent'], { stdio: ['ignore', 'ignore', 'pipe'] });
  const output = tail();
  build.stderr.on('data', output.push);
  await exited(build);
  if (build.exitCode !== 0) throw new Error(`npm run build failed:\n${output.text()}`);
}

/** Starts the compiled `entry` as its own Node process and resolves once it logs `readyMessage`. */
async function startProcess(
  entry: string,
  env: Record<string, string>,
  readyMessage: string,
  nodeArgs: string[],
): Promise<ChildProcess> {
  const child = spawn(process.execPath, [...nodeArgs, entry], { env, stdio: ['ignore', 'pipe', 'pipe'] });
  const output = tail();
  child.stderr.on('data', output.push);
  const ready = new Promise<void>((resolve, reject) => {
    createInterface({ input: child.stdout }).on('line', (line) => {
      output.push(`${line}\n`);
      if (line.includes(`"msg":"${readyMessage}"`)) resolve();
    });
    void exited(child).then(() => reject(new Error(`${entry} exited before it was ready:\n${output.text()}`)));
  });
  const cancelTimeout = new AbortController();
  const timeout = sleep(60_000, undefined, { signal: cancelTimeout.signal }).then(() => {
    throw new Error(`${entry} not ready within 60 s:\n${output.text()}`);
  });
  timeout.catch(() => {});
  try {
    await Promise.race([ready, timeout]);
  } catch (err) {
    await terminate(child);
    throw err;
  } finally {
    cancelTimeout.abort();
  }
  return child;
}

async function vmRss(pid: number): Promise<number> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8');
  return Number(/^VmRSS:\s+(\d+) kB$/m.exec(status)?.[1] ?? Number.NaN) * 1024;
}

/**
 * The API and the worker as production runs them (`node dist/api/server.js`, `node dist/worker/main.js`,
 * built by `buildService`), each its own process so each has its own RSS, with the service's defaults
 * except what a local Git server and a bench need (loopback Git, no rate limit, a task queue and
 * sandbox of its own).
 */
export async function startServices(
  stack: TestStack,
  extraEnv: Record<string, string> = {},
  nodeArgs: string[] = [],
): Promise<Services> {
  const jwtSecret = randomBytes(32).toString('base64url');
  const env: Record<string, string> = {
    PATH: process.env.PATH!,
    HOME: process.env.HOME ?? stack.workDir,
    NODE_ENV: 'production',
    HOST: '127.0.0.1',
    PORT: String(await freePort()),
    DATABASE_URL: stack.databaseUrl,
    TEMPORAL_ADDRESS: stack.temporalAddress,
    TEMPORAL_TASK_QUEUE: `bench-${randomUUID()}`,
    SANDBOX_BASE_PATH: path.join(stack.workDir, 'sandbox'),
    GIT_ALLOW_LOOPBACK: 'true',
    MASTER_ENCRYPTION_KEY: randomBytes(32).toString('base64'),
    JWT_SECRET: jwtSecret,
    READ_SERVICE_SECRET: randomBytes(32).toString('base64url'),
    // The bench is one user firing hundreds of requests (and thousands of reads); the limiter would measure itself.
    RATE_LIMIT_BURST: '1000000',
    RATE_LIMIT_PER_MINUTE: '1000000',
    READ_RATE_LIMIT_BURST: '1000000',
    READ_RATE_LIMIT_PER_MINUTE: '1000000',
    LOG_LEVEL: 'info',
    WORKER_HOST_ID: 'bench-host',
    ...extraEnv,
  };
  const worker = await startProcess('dist/worker/main.js', env, 'worker running', nodeArgs);
  let api: ChildProcess;
  try {
    api = await startProcess('dist/api/server.js', env, 'API listening', nodeArgs);
  } catch (err) {
    await terminate(worker);
    throw err;
  }
  return {
    apiUrl: `http://127.0.0.1:${env.PORT}`,
    jwtSecret,
    env,
    pids: { api: api.pid!, worker: worker.pid! },
    rss: async () => ({ api: await vmRss(api.pid!), worker: await vmRss(worker.pid!) }),
    async stop() {
      await terminate(api, 10_000);
      await terminate(worker, 10_000);
    },
  };
}
