import { metrics } from '../observability/metrics.js';
import { bytesToMb, overLimitMb } from '../sandbox/sandbox.js';
import { RepoError } from '../shared/errors.js';
import { limitBytesOf, type ActivitySettings } from './deps.js';

/** Where a repository was found too large: admission's size check, the clone's enforced budget, or a sync's. */
export type SizeStage = 'size_check' | 'clone' | 'sync';

/** `repository_too_large` with the design's body (`estimated_size_mb`, `limit_mb`), counted in the metrics. */
function tooLarge(stage: SizeStage, s: ActivitySettings, estimatedMb: number, why: string, cause?: unknown): RepoError {
  metrics.oversizedRejections.inc({ stage });
  return new RepoError('repository_too_large', why, { estimated_size_mb: estimatedMb, limit_mb: s.maxRepoSizeMb }, { cause });
}

/** A size proven over the limit: reported rounded up, so above `limit_mb` too. */
export const overSizeLimit = (stage: SizeStage, s: ActivitySettings, measuredBytes: number, cause?: unknown): RepoError =>
  tooLarge(stage, s, overLimitMb(measuredBytes, limitBytesOf(s)), `Repository size exceeds ${s.maxRepoSizeMb}MB limit`, cause);

/** More files than MAX_REPO_FILES: the size reported is the real one. */
export const overFileLimit = (stage: SizeStage, s: ActivitySettings, bytes: number): RepoError =>
  tooLarge(stage, s, bytesToMb(bytes), `Repository has more than ${s.maxRepoFiles} files`);
