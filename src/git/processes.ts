import { readdir, readFile, readlink } from 'node:fs/promises';
import path from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { RepoError } from '../shared/errors.js';

/** How long git is given to exit after SIGTERM (it removes its own locks and temporary files), then after SIGKILL. */
const TERM_GRACE_MS = 5000;
const KILL_GRACE_MS = 5000;
const POLL_MS = 100;

/**
 * The git processes on this host (as far as this user may see them) working in `dir`: git runs
 * with `-C <clone>`, so it and every helper it starts (index-pack, remote-https) have their cwd there.
 */
export async function gitProcessesIn(dir: string): Promise<number[]> {
  const root = path.resolve(dir);
  const found: number[] = [];
  for (const entry of await readdir('/proc').catch(() => [] as string[])) {
    const pid = Number(entry);
    if (!Number.isInteger(pid) || pid === process.pid) continue;
    const [cwd, comm] = await Promise.all([
      readlink(`/proc/${pid}/cwd`).catch(() => null),
      readFile(`/proc/${pid}/comm`, 'utf8').catch(() => ''),
    ]);
    const name = comm.trim();
    if (cwd === null || (name !== 'git' && !name.startsWith('git-'))) continue;
    if (cwd === root || cwd.startsWith(`${root}${path.sep}`)) found.push(pid);
  }
  return found;
}

const signal = (pids: number[], sig: NodeJS.Signals) =>
  pids.forEach((pid) => {
    try {
      process.kill(pid, sig);
    } catch {
      // Gone already.
    }
  });

async function goneWithin(dir: string, ms: number): Promise<number[]> {
  const until = Date.now() + ms;
  let left = await gitProcessesIn(dir);
  while (left.length > 0 && Date.now() < until) {
    await delay(POLL_MS);
    left = await gitProcessesIn(dir);
  }
  return left;
}

/**
 * Ends any git still working in `dir` (an earlier attempt's, whose activity timed out or whose
 * worker died): SIGTERM first, so git removes its own locks and temporary files, then SIGKILL.
 * Only once none is left may its leftovers be removed; one that will not die fails retryably.
 */
export async function stopGitIn(dir: string): Promise<number> {
  const found = await gitProcessesIn(dir);
  if (found.length === 0) return 0;
  signal(found, 'SIGTERM');
  const stubborn = await goneWithin(dir, TERM_GRACE_MS);
  if (stubborn.length === 0) return found.length;
  signal(stubborn, 'SIGKILL');
  if ((await goneWithin(dir, KILL_GRACE_MS)).length > 0) {
    throw new RepoError('internal_error', 'An earlier git is still running in the clone; the sync will be tried again');
  }
  return found.length;
}
