import { existsSync } from 'node:fs';
import { statfs } from 'node:fs/promises';
import { pingDatabase, type Sql } from '../db/client.js';
import { keyAgeDays } from '../db/encryption-keys.js';
import { answersWithin } from '../runtime/deadline.js';
import { readServiceStats } from '../db/service-stats.js';
import { directorySize } from '../sandbox/sandbox.js';
import { metrics } from './metrics.js';
import type { ScrapeProbe } from './scrape.js';

/** A database that takes longer than this to answer `select 1` counts as down: a hung one must not read as up. */
const DATABASE_PING_DEADLINE_MS = 1500;

/** `database_up`: whether this process's pool answers `select 1` now. */
export function databaseProbe(sql: Sql): ScrapeProbe {
  return async () => {
    metrics.databaseUp.set((await answersWithin(() => pingDatabase(sql), DATABASE_PING_DEADLINE_MS)) ? 1 : 0);
  };
}

/** The business gauges, read from the database (the API's; any one API process gives the fleet's numbers). */
export function businessProbe(sql: Sql, settings: { currentKeyId: string; maxRepoSizeMb: number }): ScrapeProbe {
  return async () => {
    const [stats, age] = await Promise.all([
      readServiceStats(sql, settings.maxRepoSizeMb),
      keyAgeDays(sql, settings.currentKeyId),
    ]);
    metrics.projectsWithRepos.set(stats.projectsWithRepos);
    metrics.reposOverSizeLimit.set(stats.completedOverLimit);
    metrics.keyRotationAge.reset();
    if (age !== undefined) metrics.keyRotationAge.set({ key_id: settings.currentKeyId }, age);
  };
}

/** Walking every sandbox is real work on a full disk: at most once per this interval. */
const DISK_WALK_INTERVAL_MS = 15_000;

/** The sandbox disk of one worker: what the sandboxes hold (walked), and the filesystem's size and free space. */
export function sandboxDiskProbe(basePath: string, workerId: string): ScrapeProbe {
  let walked = 0;
  let walking: Promise<void> | undefined;
  const walk = async () => {
    try {
      metrics.sandboxDiskUsage.set({ worker_id: workerId }, (await directorySize(basePath)).bytes);
    } catch (err) {
      // No sandbox yet: nothing held. Any other failure (a file removed mid-walk): the last value stands until the next walk.
      if ((err as NodeJS.ErrnoException).code === 'ENOENT' && !existsSync(basePath))
        metrics.sandboxDiskUsage.set({ worker_id: workerId }, 0);
    } finally {
      walked = Date.now();
    }
  };
  return async () => {
    const fs = await statfs(basePath).catch(() => undefined);
    if (fs) {
      metrics.sandboxFilesystemSize.set({ worker_id: workerId }, fs.blocks * fs.bsize);
      metrics.sandboxFilesystemFree.set({ worker_id: workerId }, fs.bavail * fs.bsize);
    }
    if (Date.now() - walked >= DISK_WALK_INTERVAL_MS)
      await (walking ??= walk().finally(() => {
        walking = undefined;
      }));
  };
}
