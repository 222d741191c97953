import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { chown, mkdtemp, readFile, rm, writeFile, mkdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { Logger } from '../config/logger.js';
import { ensureDatabase } from '../db/admin.js';
import { exited, tail, terminate } from './child-process.js';
import { placeEmbeddedPostgres, type PostgresPlacement } from './embedded-postgres-placement.js';
import { freePort } from '../runtime/ports.js';
import { StartupError } from '../runtime/startup-error.js';

export interface EmbeddedPostgresOptions {
  /** The cluster lives in `<dataDir>/postgres` (or is linked from there); the generated password beside it. */
  dataDir: string;
  database: string;
  /** A free port is picked when unset. */
  port?: number;
  logger: Logger;
}

export interface EmbeddedPostgresServer {
  url: string;
  /** URL of the `postgres` maintenance database, for creating and dropping databases. */
  adminUrl: string;
  port: number;
  clusterDir: string;
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

/** Only what PostgreSQL needs: none of this process's settings (keys, secrets) reach its environment. */
const serverEnv = () => ({ PATH: process.env.PATH ?? '/usr/bin:/bin', LC_ALL: 'C', LANG: 'C' });

interface ServerProcess {
  child: ChildProcess;
  /** The tail of what it printed, stdout and stderr together. */
  output: ReturnType<typeof tail>;
  /** Why it could not be started at all, as a sentence, if it could not. */
  spawnFailure(): StartupError | undefined;
}

/** Starts one of PostgreSQL's programs as the placement's user, keeping what it prints and whether it started at all. */
function spawnServerProcess(p: PostgresPlacement, program: string, args: string[]): ServerProcess {
  const child = spawn(path.join(p.binDir, program), args, {
    ...(p.runAs ?? {}),
    cwd: '/',
    env: serverEnv(),
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const output = tail();
  child.stdout.on('data', output.push);
  child.stderr.on('data', output.push);
  let spawnError: Error | undefined;
  child.once('error', (err) => (spawnError = err));
  return {
    child,
    output,
    spawnFailure: () =>
      spawnError &&
      new StartupError(
        `could not run PostgreSQL's ${program} (${spawnError.message}); run npm ci again, or set DATABASE_URL`,
      ),
  };
}

/** The lines of PostgreSQL's output that say why it stopped, without its routine chatter. */
function reason(output: string): string {
  const lines = output
    .split('\n')
    .map((l) => l.trim())
    .filter(Boolean);
  const telling = lines.filter((l) => /FATAL|ERROR|could not|Permission denied|No such file|cannot/i.test(l));
  return (telling.length ? telling : lines.slice(-2)).slice(-3).join(' / ') || 'no output';
}

/** Runs a program to completion; its output and spawn errors become one sentence on failure. */
async function runToEnd(p: PostgresPlacement, program: string, args: string[]): Promise<void> {
  const { child, output, spawnFailure } = spawnServerProcess(p, program, args);
  await exited(child);
  const failure = spawnFailure();
  if (failure) throw failure;
  if (child.exitCode !== 0) throw new StartupError(`PostgreSQL's ${program} failed: ${reason(output.text())}`);
}

/** initdb with the password in a file only the server's user can read, removed at once. */
async function initialise(p: PostgresPlacement, password: string): Promise<void> {
  const scratch = await mkdtemp(path.join(tmpdir(), 'rc-initdb-'));
  try {
    const pwfile = path.join(scratch, 'password');
    await writeFile(pwfile, `${password}\n`, { mode: 0o600 });
    if (p.runAs) {
      await chown(scratch, p.runAs.uid, p.runAs.gid);
      await chown(pwfile, p.runAs.uid, p.runAs.gid);
    }
    await runToEnd(p, 'initdb', [
      `--pgdata=${p.clusterDir}`,
      '--username=postgres',
      '--auth=scram-sha-256',
      `--pwfile=${pwfile}`,
      '--encoding=UTF8',
      '--no-locale',
    ]);
  } finally {
    await rm(scratch, { recursive: true, force: true });
  }
}

/** Starts the server and resolves once it accepts connections; rejects with PostgreSQL's own reason. */
async function serve(p: PostgresPlacement, port: number, timeoutMs = 60_000): Promise<ChildProcess> {
  const { child, output, spawnFailure } = spawnServerProcess(p, 'postgres', [
    '-D',
    p.clusterDir,
    '-p',
    String(port),
    '-c',
    'listen_addresses=127.0.0.1',
    '-c',
    'unix_socket_directories=',
  ]);
  const ready = new Promise<boolean>((resolve) => {
    // After the output's own listener, so the chunk is already in it.
    child.stderr!.on('data', () => {
      if (output.text().includes('database system is ready to accept connections')) resolve(true);
    });
    void exited(child).then(() => resolve(false));
  });
  let timer: NodeJS.Timeout | undefined;
  const timedOut = new Promise<'timeout'>((resolve) => (timer = setTimeout(() => resolve('timeout'), timeoutMs)));
  const outcome = await Promise.race([ready, timedOut]);
  clearTimeout(timer);
  if (outcome === true) return child;
  await terminate(child, 2000, 'SIGINT');
  const failure = spawnFailure();
  if (failure) throw failure;
  if (outcome === 'timeout')
    throw new StartupError(`PostgreSQL did not become ready within ${timeoutMs / 1000} s: ${reason(output.text())}`);
  throw new StartupError(`PostgreSQL stopped during start-up: ${reason(output.text())}`);
}

/**
 * Runs real PostgreSQL binaries (from the `embedded-postgres` package's build for this
 * platform). Initialises the cluster on first use and reuses it afterwards, so a restart finds the
 * earlier data. Where it runs from, and as whom, is decided by placeEmbeddedPostgres.
 */
export async function startEmbeddedPostgres(o: EmbeddedPostgresOptions): Promise<EmbeddedPostgresServer> {
  const log = o.logger.child({ component: 'embedded-postgres' });
  await mkdir(o.dataDir, { recursive: true });
  const placement = await placeEmbeddedPostgres(o.dataDir, log);
  const password = await clusterPassword(o.dataDir);
  if (!existsSync(path.join(placement.clusterDir, 'PG_VERSION'))) {
    log.info({ clusterDir: placement.clusterDir }, 'initialising an embedded PostgreSQL cluster');
    await initialise(placement, password);
  }
  const port = o.port ?? (await freePort());
  const server = await serve(placement, port);
  const stop = () => terminate(server, 5000, 'SIGINT');
  const base = `postgres://postgres:${encodeURIComponent(password)}@127.0.0.1:${port}`;
  try {
    await ensureDatabase(`${base}/postgres`, o.database);
  } catch (err) {
    await stop();
    throw new StartupError(
      `the embedded PostgreSQL started but refused the launcher (${(err as Error).message}); if DATA_DIR was copied from elsewhere, its postgres.password may not match the cluster`,
    );
  }
  return { url: `${base}/${o.database}`, adminUrl: `${base}/postgres`, port, clusterDir: placement.clusterDir, stop };
}
