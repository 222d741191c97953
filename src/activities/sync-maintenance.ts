import {
  dropRefsAndReflogs,
  objectStats,
  pinDetachedHead,
  repackReachable,
  unfollowedRefs,
} from '../git/maintenance.js';
import { makeReadOnly, makeWritable } from '../sandbox/sandbox.js';
import { ensureFreeSpace, MIB, type ActivityDeps } from './deps.js';
import { removeUnfinishedPacks } from './sync-recovery.js';

/** Packs past this many are merged even without garbage: each is another file every git opens and the size poll walks. */
const MAX_PACKS = 8;
/** Unreachable objects tolerated before a repack: the clone stays within 5 % of what a fresh clone of its commit stores. */
const GARBAGE_RATIO = 0.05;
/** A new pack may come out a little larger than the objects it repacks (new deltas, its own index). */
const REPACK_HEADROOM = 1.05;

export interface MaintainInput {
  repoId: string;
  repoDir: string;
  idleTimeoutMs: number;
  limitBytes: number;
  limitInodes: number;
  measure: () => Promise<{ bytes: number; inodes: number }>;
  signal?: AbortSignal;
  /** The sync moved the checkout (new objects, and the old commit's now unreachable). */
  changed: boolean;
}

export interface MaintainResult {
  refsDropped: number;
  repacked: boolean;
  /** Why a repack that was due did not run. */
  skipped?: 'no_room_in_budget' | 'no_free_disk';
}

/**
 * After a recorded sync (the row and the checkout agree, so nothing the row needs can go): only
 * the followed ref and HEAD kept, no reflogs, and, when garbage or packs pile up, one pack of what
 * is reachable, only if it fits the budget and the disk beside the old packs. Killed anywhere,
 * the clone stays usable; what a killed repack wrote is removed here, or by the next restore.
 */
export async function maintainKeptClone(
  { settings }: Pick<ActivityDeps, 'settings'>,
  o: MaintainInput,
): Promise<MaintainResult> {
  const refs = await unfollowedRefs(o);
  if (!o.changed && refs.length === 0) return { refsDropped: 0, repacked: false };
  await makeWritable(o.repoDir);
  try {
    await pinDetachedHead(o);
    await dropRefsAndReflogs(o, refs);
    const stats = await objectStats(o);
    const garbage = stats.storedBytes > stats.reachableBytes * (1 + GARBAGE_RATIO);
    if (!garbage && stats.packs + (stats.looseObjects > 0 ? 1 : 0) <= MAX_PACKS)
      return { refsDropped: refs.length, repacked: false };
    const newPackBytes = stats.reachableBytes * REPACK_HEADROOM;
    if ((await o.measure()).bytes + newPackBytes > o.limitBytes)
      return { refsDropped: refs.length, repacked: false, skipped: 'no_room_in_budget' };
    const roomy = await ensureFreeSpace(
      settings.sandboxBasePath,
      { bytes: newPackBytes + settings.minFreeMb * MIB, inodes: settings.minFreeInodes },
      'sync',
    ).then(
      () => true,
      () => false,
    );
    if (!roomy) return { refsDropped: refs.length, repacked: false, skipped: 'no_free_disk' };
    await repackReachable(o).catch(async (err: unknown) => {
      await removeUnfinishedPacks(o.repoDir);
      throw err;
    });
    return { refsDropped: refs.length, repacked: true };
  } finally {
    await makeReadOnly(o.repoDir);
  }
}
