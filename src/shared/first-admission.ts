import type { Admission } from './connect-repository.js';

/** The fields of a repository's row its first answer is made of. */
export interface AdmittedRepo {
  id: string;
  gitUrl: string;
  estimatedSizeMb: number | null;
  createdAt: Date;
  runId: string | null;
}

/** What the request was first answered (a fresh row, PENDING), from its row: the same answer on every repeat. */
export const firstAdmissionOf = (repo: AdmittedRepo): Admission => ({
  repoId: repo.id,
  gitUrl: repo.gitUrl,
  cloneStatus: 'PENDING',
  estimatedSizeMb: repo.estimatedSizeMb,
  createdAt: repo.createdAt.toISOString(),
  runId: repo.runId ?? '',
});
