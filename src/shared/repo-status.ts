/** The lifecycle of a `code_repos` row (the design's status table). */
export const CLONE_STATUSES = ['PENDING', 'CLONING', 'COMPLETED', 'FAILED', 'CLEANING', 'CLEANED'] as const;
export type CloneStatus = (typeof CLONE_STATUSES)[number];

/**
 * Which states a row may move to from each state. FAILED → PENDING is the retry path; any
 * state that is not already being cleaned may be cleaned (the `cleanup` signal).
 */
export const NEXT_STATUSES: Record<CloneStatus, readonly CloneStatus[]> = {
  PENDING: ['CLONING', 'FAILED', 'CLEANING'],
  CLONING: ['COMPLETED', 'FAILED', 'CLEANING'],
  COMPLETED: ['CLEANING'],
  FAILED: ['PENDING', 'CLEANING'],
  CLEANING: ['CLEANED'],
  CLEANED: [],
};
