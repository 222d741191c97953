import { gitEnvironment } from './git-env.js';
import { mapFailure, sizeWatch, type Budgeted } from './operations.js';
import { runGit } from './run-git.js';

/**
 * Git maintenance of a kept clone, step by step; the sync activity decides when and under
 * which budget (sync-maintenance.ts). Every step leaves a usable clone when killed: refs and
 * reflogs are rewritten under git's locks, and repack deletes old packs only once the new one is whole.
 */

interface Local {
  repoDir: string;
  idleTimeoutMs: number;
  signal?: AbortSignal;
}

const git = (
  o: Local,
  args: string[],
  extra: { stdin?: string; maxFileBytes?: number; watch?: ReturnType<typeof sizeWatch> } = {},
) =>
  runGit({
    args: ['-C', o.repoDir, '-c', 'gc.auto=0', '-c', 'maintenance.auto=false', ...args],
    env: gitEnvironment({ allowHttp: false }),
    idleTimeoutMs: o.idleTimeoutMs,
    signal: o.signal,
    ...extra,
  }).catch((err: unknown) => {
    throw mapFailure(err);
  });

/** Pseudo-refs a sync's checkout leaves (reset writes ORIG_HEAD): each would keep a rewritten commit's objects. */
const PSEUDO_REFS = ['ORIG_HEAD', 'FETCH_HEAD'];

/** Where a detached HEAD (a followed tag) is pinned: the next fetch's have, and right however the tag moves upstream. */
export const FOLLOWED_REF = 'refs/connector/followed';

const branchOfHead = async (o: Local) => (await git(o, ['symbolic-ref', '--quiet', 'HEAD']).catch(() => '')).trim();

/** The refs other than the one HEAD follows (the clone fetched every branch and tag): the branch, or FOLLOWED_REF when detached. */
export async function unfollowedRefs(o: Local): Promise<string[]> {
  const followed = (await branchOfHead(o)) || FOLLOWED_REF;
  const refs = (await git(o, ['for-each-ref', '--format=%(refname)'])).split('\n').filter(Boolean);
  return refs.filter((ref) => ref !== followed);
}

/** Points FOLLOWED_REF at a detached HEAD's commit, so a ref always reaches it; a no-op when HEAD is on a branch. */
export async function pinDetachedHead(o: Local): Promise<void> {
  if (!(await branchOfHead(o))) await git(o, ['update-ref', '--no-deref', FOLLOWED_REF, 'HEAD']);
}

/** Deletes `refs` (and the pseudo-refs) in one transaction; no reflog is written from now on, and the old ones expire. */
export async function dropRefsAndReflogs(o: Local, refs: string[]): Promise<void> {
  await git(o, ['config', 'core.logAllRefUpdates', 'false']);
  await git(o, ['update-ref', '--no-deref', '--stdin'], {
    stdin: [...refs, ...PSEUDO_REFS].map((ref) => `delete ${ref}\n`).join(''),
  });
  await git(o, ['reflog', 'expire', '--expire=now', '--expire-unreachable=now', '--all']);
}

export interface ObjectStats {
  /** Bytes every object takes where it is stored (in a pack or loose), reachable or not: like `reachableBytes`, no pack indexes. */
  storedBytes: number;
  packs: number;
  looseObjects: number;
  /** Bytes the objects reachable from HEAD and the refs take where they are stored now. */
  reachableBytes: number;
}

export async function objectStats(o: Local): Promise<ObjectStats> {
  const counts = Object.fromEntries(
    (await git(o, ['count-objects', '-v']))
      .split('\n')
      .filter(Boolean)
      .map((line) => {
        const [key, value] = line.split(':');
        return [key!.trim(), Number(value)];
      }),
  );
  const reachable = Number((await git(o, ['rev-list', '--objects', '--all', '--disk-usage'])).trim());
  const stored = (await git(o, ['cat-file', '--batch-all-objects', '--batch-check=%(objectsize:disk)']))
    .split('\n')
    .filter(Boolean)
    .reduce((sum, line) => sum + Number(line), 0);
  return {
    storedBytes: stored,
    packs: counts.packs ?? 0,
    looseObjects: counts.count ?? 0,
    reachableBytes: reachable,
  };
}

/**
 * One pack of what is reachable, every other pack and loose object removed; killed (past
 * `limitBytes`, as `measure` polls it, or any file past it), it leaves only temporary files.
 */
export async function repackReachable(o: Local & Budgeted): Promise<void> {
  await git(o, ['-c', 'pack.writeReverseIndex=false', 'repack', '-a', '-d', '-q', '--no-write-bitmap-index'], {
    maxFileBytes: o.limitBytes,
    watch: sizeWatch(o, 1000),
  });
  await git(o, ['prune', '--expire=now']);
}
