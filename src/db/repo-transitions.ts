import type postgres from 'postgres';
import type { CloneStatus } from '../shared/repo-status.js';
import { NEXT_STATUSES } from '../shared/repo-status.js';
import { insertAudit, type AuditContext } from './audit.js';
import type { Sql } from './client.js';
import { lockRepoRow, REPO_COLUMNS, type CodeRepo } from './repos.js';

export interface StatusChange {
  repoId: string;
  to: CloneStatus;
  /** Columns set together with the status; `undefined` leaves a column as it is. */
  repositorySizeMb?: number | null;
  sandboxPath?: string | null;
  errorCode?: string | null;
  errorMessage?: string | null;
  hostTaskQueue?: string | null;
  fileCount?: number | null;
  /** The size limit a COMPLETED clone was held to. */
  sizeLimitMb?: number | null;
  /** The commit checked out; given, it also sets `synced_at` to now. */
  headCommit?: string | null;
  metadata?: Record<string, unknown>;
}

export class InvalidTransitionError extends Error {
  constructor(
    readonly repoId: string,
    readonly from: CloneStatus | null,
    readonly to: CloneStatus,
  ) {
    super(`Repository ${repoId} cannot move from ${from ?? 'nowhere'} to ${to}`);
    this.name = 'InvalidTransitionError';
  }
}

/**
 * Moves a row to a new status with its audit entry, atomically. Repeating a change that already
 * happened (a retried activity) is a no-op that returns the row; an illegal move throws.
 */
export async function changeRepoStatus(sql: Sql, change: StatusChange, audit: AuditContext): Promise<CodeRepo> {
  return sql.begin((tx) => applyStatusChange(tx, change, audit));
}

/** The body of changeRepoStatus, for callers already inside a transaction. */
export async function applyStatusChange(
  tx: postgres.TransactionSql,
  change: StatusChange,
  audit: AuditContext,
): Promise<CodeRepo> {
  const current = await lockRepoRow(tx, change.repoId);
  if (!current) throw new InvalidTransitionError(change.repoId, null, change.to);
  if (current.cloneStatus === change.to) return current;
  if (!NEXT_STATUSES[current.cloneStatus].includes(change.to)) {
    throw new InvalidTransitionError(change.repoId, current.cloneStatus, change.to);
  }
  const keep = <T, U>(v: T | undefined, old: U): T | U => (v === undefined ? old : v);
  // A COMPLETED row's error (and its need of attention) is a failed sync's, about the kept clone: it goes with the clone.
  const clearsSyncError = current.cloneStatus === 'COMPLETED' && (change.to === 'CLEANING' || change.to === 'CLEANED');
  const [updated] = await tx<CodeRepo[]>`
    update code_repos set
      clone_status = ${change.to},
      repository_size_mb = ${keep(change.repositorySizeMb, current.repositorySizeMb)},
      sandbox_path = ${keep(change.sandboxPath, current.sandboxPath)},
      error_code = ${keep(change.errorCode, clearsSyncError ? null : current.errorCode)},
      error_message = ${keep(change.errorMessage, clearsSyncError ? null : current.errorMessage)},
      host_task_queue = ${keep(change.hostTaskQueue, current.hostTaskQueue)},
      file_count = ${keep(change.fileCount, current.fileCount)},
      size_limit_mb = ${change.sizeLimitMb === undefined ? tx`size_limit_mb` : change.sizeLimitMb},
      head_commit = ${keep(change.headCommit, current.headCommit)},
      synced_at = ${change.headCommit === undefined ? tx`synced_at` : tx`now()`},
      attention_required_at = ${clearsSyncError ? null : current.attentionRequiredAt},
      updated_at = now()
    where id = ${change.repoId}
    returning ${tx(REPO_COLUMNS)}`;
  await insertAudit(tx, {
    ...audit,
    repoId: change.repoId,
    action: 'repo.status_changed',
    fromState: current.cloneStatus,
    toState: change.to,
    metadata: change.metadata ?? {},
  });
  return updated!;
}
