import { metrics } from '../observability/metrics.js';
import { bytesToMb, overLimitMb, type DiskUsage } from '../sandbox/sandbox.js';
import { RepoError } from '../shared/errors.js';
import { limitBytesOf, type ActivitySettings } from './deps.js';

/** Where a repository was found too large: admission's size check, the clone's enforced budget, or a sync's. */
export type SizeStage = 'size_check' | 'clone' | 'sync';

/** Which budget a repository passed: blocks on disk, inodes, or regular files (MAX_REPO_FILES). */
export type BudgetName = 'disk' | 'inodes' | 'files';

/** Blocks, inodes and (when known) files a repository takes or would take. */
export type Usage = Omit<DiskUsage, 'files'> & { files?: number };

/** The first budget `u` passes, if any. */
export function budgetHit(u: Usage, s: ActivitySettings): BudgetName | undefined {
  if (u.files !== undefined && u.files > s.maxRepoFiles) return 'files';
  if (u.inodes > s.maxRepoInodes) return 'inodes';
  return u.bytes > limitBytesOf(s) ? 'disk' : undefined;
}

/**
 * `repository_too_large` with the design's body (`estimated_size_mb`, `limit_mb`) and which
 * budget was hit, with its measured value and limit; counted in the metrics. A cap that fired
 * proves the disk budget passed even when a later measurement reads less (`budget` defaults to disk).
 */
export function overBudget(
  stage: SizeStage,
  s: ActivitySettings,
  u: Usage,
  cause?: unknown,
  budget: BudgetName = budgetHit(u, s) ?? 'disk',
): RepoError {
  metrics.oversizedRejections.inc({ stage });
  const sizeMb = budget === 'disk' ? overLimitMb(u.bytes, limitBytesOf(s)) : bytesToMb(u.bytes);
  const [measured, limit, message] =
    budget === 'disk'
      ? [sizeMb, s.maxRepoSizeMb, `Repository size exceeds ${s.maxRepoSizeMb}MB limit: it needs ${sizeMb}MB of disk`]
      : budget === 'inodes'
        ? [
            u.inodes,
            s.maxRepoInodes,
            `Repository needs ${u.inodes} inodes (files and directories), more than the ${s.maxRepoInodes} limit`,
          ]
        : [u.files!, s.maxRepoFiles, `Repository has more than ${s.maxRepoFiles} files (${u.files} counted)`];
  return new RepoError(
    'repository_too_large',
    message,
    { budget, measured, limit, estimated_size_mb: sizeMb, limit_mb: s.maxRepoSizeMb },
    { cause },
  );
}
