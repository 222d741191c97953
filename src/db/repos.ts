import type { Admission } from '../shared/connect-repository.js';
import type { CloneStatus } from '../shared/repo-status.js';
import { NEXT_STATUSES } from '../shared/repo-status.js';
import type postgres from 'postgres';
import { insertAudit, type AuditContext } from './audit.js';
import type { Queryable, Sql } from './client.js';

export type { AuditContext } from './audit.js';

export interface CodeRepo {
  id: string;
  projectId: string;
  gitUrl: string;
  /** Null once the repository is disconnected: the token is destroyed. */
  tokenCiphertext: Buffer | null;
  tokenKid: string | null;
  repositorySizeMb: number | null;
  cloneStatus: CloneStatus;
  sandboxPath: string | null;
  requestId: string;
  workflowId: string | null;
  errorCode: string | null;
  errorMessage: string | null;
  /** The host task queue of the worker whose disk holds (or held) the files. */
  hostTaskQueue: string | null;
  fileCount: number | null;
  disconnectedAt: Date | null;
  /** The run that admitted the request and the estimate it answered: the first answer, for replays. */
  runId: string | null;
  estimatedSizeMb: number | null;
  requestFingerprint: string | null;
  /** The branch or tag cloned (the default branch's name when none was asked for). */
  ref: string | null;
  /** Full SHA of the commit checked out, and when it was. */
  headCommit: string | null;
  syncedAt: Date | null;
  /** Syncs that found the commit already checked out (counted here, not audited one by one), and when a sync last looked. */
  upToDateSyncs: number;
  lastCheckedAt: Date | null;
  /** How often the workflow syncs by itself; null: on demand and on push only. */
  syncIntervalSeconds: number | null;
  /** When syncs stopped for the user's attention (a refused token, or too many failures in a row); null while they run. */
  attentionRequiredAt: Date | null;
  /** The push webhook's secret, envelope-encrypted; null in rows from before webhooks, and once disconnected. */
  webhookSecretCiphertext: Buffer | null;
  webhookSecretKid: string | null;
  createdAt: Date;
  updatedAt: Date;
}

/** The row as PostgreSQL returns it; for the query modules of src/db only. */
export interface CodeRepoRow {
  id: string;
  project_id: string;
  git_url: string;
  token_ciphertext: Buffer | null;
  token_kid: string | null;
  repository_size_mb: string | null;
  clone_status: CloneStatus;
  sandbox_path: string | null;
  request_id: string;
  workflow_id: string | null;
  error_code: string | null;
  error_message: string | null;
  host_task_queue: string | null;
  file_count: number | null;
  disconnected_at: Date | null;
  run_id: string | null;
  estimated_size_mb: string | null;
  request_fingerprint: string | null;
  ref: string | null;
  head_commit: string | null;
  synced_at: Date | null;
  up_to_date_syncs: number;
  last_checked_at: Date | null;
  sync_interval_seconds: number | null;
  attention_required_at: Date | null;
  webhook_secret_ciphertext: Buffer | null;
  webhook_secret_kid: string | null;
  created_at: Date;
  updated_at: Date;
}

/** NUMERIC columns arrive as strings. */
const numberOrNull = (v: string | null): number | null => (v === null ? null : Number(v));

export const toRepo = (r: CodeRepoRow): CodeRepo => ({
  id: r.id,
  projectId: r.project_id,
  gitUrl: r.git_url,
  tokenCiphertext: r.token_ciphertext,
  tokenKid: r.token_kid,
  repositorySizeMb: numberOrNull(r.repository_size_mb),
  cloneStatus: r.clone_status,
  sandboxPath: r.sandbox_path,
  requestId: r.request_id,
  workflowId: r.workflow_id,
  errorCode: r.error_code,
  errorMessage: r.error_message,
  hostTaskQueue: r.host_task_queue,
  fileCount: r.file_count,
  disconnectedAt: r.disconnected_at,
  runId: r.run_id,
  estimatedSizeMb: numberOrNull(r.estimated_size_mb),
  requestFingerprint: r.request_fingerprint,
  ref: r.ref,
  headCommit: r.head_commit,
  syncedAt: r.synced_at,
  upToDateSyncs: r.up_to_date_syncs,
  lastCheckedAt: r.last_checked_at,
  syncIntervalSeconds: r.sync_interval_seconds,
  attentionRequiredAt: r.attention_required_at,
  webhookSecretCiphertext: r.webhook_secret_ciphertext,
  webhookSecretKid: r.webhook_secret_kid,
  createdAt: r.created_at,
  updatedAt: r.updated_at,
});

export const REPO_COLUMNS = `id, project_id, git_url, token_ciphertext, token_kid, repository_size_mb, clone_status,
  sandbox_path, request_id, workflow_id, error_code, error_message, host_task_queue, file_count, disconnected_at,
  run_id, estimated_size_mb, request_fingerprint, ref, head_commit, synced_at, up_to_date_syncs, last_checked_at, sync_interval_seconds, attention_required_at,
  webhook_secret_ciphertext, webhook_secret_kid, created_at, updated_at`;

export interface NewRepo {
  /** Chosen by the workflow, so the token's ciphertext can be bound to it before the row exists. */
  id: string;
  projectId: string;
  gitUrl: string;
  tokenCiphertext: Buffer;
  tokenKid: string;
  requestId: string;
  workflowId: string;
  runId: string;
  estimatedSizeMb: number | null;
  requestFingerprint: string;
  ref?: string | null;
  syncIntervalSeconds?: number | null;
  webhookSecretCiphertext?: Buffer;
  webhookSecretKid?: string;
}

/**
 * Inserts the PENDING row and its audit entry in one transaction. Idempotent by `workflow_id`
 * (a user's request): a retried call returns the row the first call created and writes no
 * second audit entry.
 */
export async function insertRepo(sql: Sql, repo: NewRepo, audit: AuditContext): Promise<CodeRepo> {
  return sql.begin(async (tx) => {
    const [created] = await tx<CodeRepoRow[]>`
      insert into code_repos (id, project_id, git_url, token_ciphertext, token_kid, request_id, workflow_id, run_id,
                              estimated_size_mb, request_fingerprint, ref, sync_interval_seconds, webhook_secret_ciphertext, webhook_secret_kid)
      values (${repo.id}, ${repo.projectId}, ${repo.gitUrl}, ${repo.tokenCiphertext}, ${repo.tokenKid}, ${repo.requestId},
              ${repo.workflowId}, ${repo.runId}, ${repo.estimatedSizeMb}, ${repo.requestFingerprint}, ${repo.ref ?? null},
              ${repo.syncIntervalSeconds ?? null}, ${repo.webhookSecretCiphertext ?? null}, ${repo.webhookSecretKid ?? null})
      on conflict (workflow_id) do nothing
      returning ${tx.unsafe(REPO_COLUMNS)}`;
    if (!created) {
      const [existing] = await tx<CodeRepoRow[]>`
        select ${tx.unsafe(REPO_COLUMNS)} from code_repos where workflow_id = ${repo.workflowId}`;
      return toRepo(existing!);
    }
    await insertAudit(tx, {
      ...audit,
      repoId: created.id,
      action: 'repo.created',
      fromState: null,
      toState: 'PENDING',
    });
    return toRepo(created);
  });
}

/** The repository, if its project belongs to `ownerId`. */
export async function findOwnedRepo(sql: Queryable, id: string, ownerId: string): Promise<CodeRepo | undefined> {
  const [row] = await sql<CodeRepoRow[]>`
    select ${sql.unsafe(REPO_COLUMNS.replace(/(\w+)/g, 'r.$1'))}
    from code_repos r join projects p on p.id = r.project_id
    where r.id = ${id} and p.owner_id = ${ownerId}`;
  return row ? toRepo(row) : undefined;
}

/**
 * A page of a project's repositories, oldest first: keyset pagination on (created_at, id),
 * continuing after the row `afterId` (compared in the database, at its full timestamp precision).
 */
export async function listProjectRepos(
  sql: Queryable,
  projectId: string,
  limit: number,
  afterId?: string,
): Promise<CodeRepo[]> {
  const rows = await sql<CodeRepoRow[]>`
    select ${sql.unsafe(REPO_COLUMNS)} from code_repos
    where project_id = ${projectId}
      ${afterId ? sql`and (created_at, id) > (select created_at, id from code_repos where id = ${afterId} and project_id = ${projectId})` : sql``}
    order by created_at, id
    limit ${limit}`;
  return rows.map(toRepo);
}

export async function findRepo(sql: Queryable, id: string): Promise<CodeRepo | undefined> {
  const [row] = await sql<CodeRepoRow[]>`select ${sql.unsafe(REPO_COLUMNS)} from code_repos where id = ${id}`;
  return row ? toRepo(row) : undefined;
}

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

/** The row, locked until the transaction ends: every change of a row's state takes this lock first. */
export async function lockRepoRow(tx: postgres.TransactionSql, repoId: string): Promise<CodeRepoRow | undefined> {
  const [row] = await tx<
    CodeRepoRow[]
  >`select ${tx.unsafe(REPO_COLUMNS)} from code_repos where id = ${repoId} for update`;
  return row;
}

/** The body of changeRepoStatus, for callers already inside a transaction. */
export async function applyStatusChange(
  tx: postgres.TransactionSql,
  change: StatusChange,
  audit: AuditContext,
): Promise<CodeRepo> {
  const current = await lockRepoRow(tx, change.repoId);
  if (!current) throw new InvalidTransitionError(change.repoId, null, change.to);
  if (current.clone_status === change.to) return toRepo(current);
  if (!NEXT_STATUSES[current.clone_status].includes(change.to)) {
    throw new InvalidTransitionError(change.repoId, current.clone_status, change.to);
  }
  const keep = <T, U>(v: T | undefined, old: U): T | U => (v === undefined ? old : v);
  // A COMPLETED row's error (and its need of attention) is a failed sync's, about the kept clone: it goes with the clone.
  const clearsSyncError = current.clone_status === 'COMPLETED' && (change.to === 'CLEANING' || change.to === 'CLEANED');
  const [updated] = await tx<CodeRepoRow[]>`
    update code_repos set
      clone_status = ${change.to},
      repository_size_mb = ${keep(change.repositorySizeMb, current.repository_size_mb)},
      sandbox_path = ${keep(change.sandboxPath, current.sandbox_path)},
      error_code = ${keep(change.errorCode, clearsSyncError ? null : current.error_code)},
      error_message = ${keep(change.errorMessage, clearsSyncError ? null : current.error_message)},
      host_task_queue = ${keep(change.hostTaskQueue, current.host_task_queue)},
      file_count = ${keep(change.fileCount, current.file_count)},
      size_limit_mb = ${change.sizeLimitMb === undefined ? tx`size_limit_mb` : change.sizeLimitMb},
      head_commit = ${keep(change.headCommit, current.head_commit)},
      synced_at = ${change.headCommit === undefined ? tx`synced_at` : tx`now()`},
      attention_required_at = ${clearsSyncError ? null : current.attention_required_at},
      updated_at = now()
    where id = ${change.repoId}
    returning ${tx.unsafe(REPO_COLUMNS)}`;
  await insertAudit(tx, {
    ...audit,
    repoId: change.repoId,
    action: 'repo.status_changed',
    fromState: current.clone_status,
    toState: change.to,
    metadata: change.metadata ?? {},
  });
  return toRepo(updated!);
}

/** What the request was first answered (a fresh row, PENDING), from the row: the same answer on every repeat. */
export const firstAnswerOf = (repo: CodeRepo): Admission => ({
  repoId: repo.id,
  gitUrl: repo.gitUrl,
  cloneStatus: 'PENDING',
  estimatedSizeMb: repo.estimatedSizeMb,
  createdAt: repo.createdAt.toISOString(),
  runId: repo.runId ?? '',
});

/** The row a user's request made, found by its workflow id (which carries the user's scope and the key). */
export async function findRepoByWorkflowId(sql: Queryable, workflowId: string): Promise<CodeRepo | undefined> {
  const [row] = await sql<CodeRepoRow[]>`
    select ${sql.unsafe(REPO_COLUMNS)} from code_repos where workflow_id = ${workflowId}`;
  return row ? toRepo(row) : undefined;
}

export interface RepoPresence {
  id: string;
  cloneStatus: CloneStatus;
  sandboxPath: string | null;
  hostTaskQueue: string | null;
  updatedAt: Date;
  /** The end of the last sync attempt's lease (see sync-lease.ts); null if none was taken. */
  syncLeaseUntil: Date | null;
  /** A sync attempt holds the clone now (its lease has not ended, by the database's clock). */
  syncLeased: boolean;
}

/** Status of each id that still has a row; ids without one are simply absent from the result. */
export async function findRepoPresence(sql: Queryable, ids: string[]): Promise<Map<string, RepoPresence>> {
  if (ids.length === 0) return new Map();
  const rows = await sql<
    {
      id: string;
      clone_status: CloneStatus;
      sandbox_path: string | null;
      host_task_queue: string | null;
      updated_at: Date;
      sync_lease_until: Date | null;
      sync_leased: boolean | null;
    }[]
  >`
    select id, clone_status, sandbox_path, host_task_queue, updated_at, sync_lease_until, sync_lease_until > now() as sync_leased
    from code_repos where id = any(${ids}::uuid[])`;
  return new Map(
    rows.map((r) => [
      r.id,
      {
        id: r.id,
        cloneStatus: r.clone_status,
        sandboxPath: r.sandbox_path,
        hostTaskQueue: r.host_task_queue,
        updatedAt: r.updated_at,
        syncLeaseUntil: r.sync_lease_until ?? null,
        syncLeased: r.sync_leased === true,
      },
    ]),
  );
}
