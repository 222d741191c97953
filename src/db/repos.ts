import type postgres from 'postgres';
import type { CloneStatus } from '../shared/repo-status.js';
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

/** One entry per CodeRepo field, checked by the compiler both ways: the columns every query of a row selects. */
const REPO_FIELDS: Record<keyof CodeRepo, true> = {
  id: true,
  projectId: true,
  gitUrl: true,
  tokenCiphertext: true,
  tokenKid: true,
  repositorySizeMb: true,
  cloneStatus: true,
  sandboxPath: true,
  requestId: true,
  workflowId: true,
  errorCode: true,
  errorMessage: true,
  hostTaskQueue: true,
  fileCount: true,
  disconnectedAt: true,
  runId: true,
  estimatedSizeMb: true,
  requestFingerprint: true,
  ref: true,
  headCommit: true,
  syncedAt: true,
  upToDateSyncs: true,
  lastCheckedAt: true,
  syncIntervalSeconds: true,
  attentionRequiredAt: true,
  webhookSecretCiphertext: true,
  webhookSecretKid: true,
  createdAt: true,
  updatedAt: true,
};
/** For `sql(REPO_COLUMNS)`: the client maps each name to its snake_case column. */
export const REPO_COLUMNS = Object.keys(REPO_FIELDS);

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

/** The columns an insert writes, one per NewRepo field; the rest take their defaults (PENDING, no clone yet, the times now). */
const NEW_REPO_FIELDS: Record<keyof NewRepo, true> = {
  id: true,
  projectId: true,
  gitUrl: true,
  tokenCiphertext: true,
  tokenKid: true,
  requestId: true,
  workflowId: true,
  runId: true,
  estimatedSizeMb: true,
  requestFingerprint: true,
  ref: true,
  syncIntervalSeconds: true,
  webhookSecretCiphertext: true,
  webhookSecretKid: true,
};
const NEW_REPO_COLUMNS = Object.keys(NEW_REPO_FIELDS) as (keyof NewRepo)[];

/**
 * Inserts the PENDING row and its audit entry in one transaction. Idempotent by `workflow_id`
 * (a user's request): a retried call returns the row the first call created and writes no
 * second audit entry.
 */
export async function insertRepo(sql: Sql, repo: NewRepo, audit: AuditContext): Promise<CodeRepo> {
  const values = {
    ...repo,
    ref: repo.ref ?? null,
    syncIntervalSeconds: repo.syncIntervalSeconds ?? null,
    webhookSecretCiphertext: repo.webhookSecretCiphertext ?? null,
    webhookSecretKid: repo.webhookSecretKid ?? null,
  };
  return sql.begin(async (tx) => {
    const [created] = await tx<CodeRepo[]>`
      insert into code_repos ${tx(values, NEW_REPO_COLUMNS)}
      on conflict (workflow_id) do nothing
      returning ${tx(REPO_COLUMNS)}`;
    if (!created) {
      const [existing] = await tx<CodeRepo[]>`
        select ${tx(REPO_COLUMNS)} from code_repos where workflow_id = ${repo.workflowId}`;
      return existing!;
    }
    await insertAudit(tx, {
      ...audit,
      repoId: created.id,
      action: 'repo.created',
      fromState: null,
      toState: 'PENDING',
    });
    return created;
  });
}

/** The repository, if its project belongs to `ownerId`. */
export async function findOwnedRepo(sql: Queryable, id: string, ownerId: string): Promise<CodeRepo | undefined> {
  const [row] = await sql<CodeRepo[]>`
    select ${sql(REPO_COLUMNS)} from code_repos
    where id = ${id} and exists (select 1 from projects p where p.id = code_repos.project_id and p.owner_id = ${ownerId})`;
  return row;
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
  return sql<CodeRepo[]>`
    select ${sql(REPO_COLUMNS)} from code_repos
    where project_id = ${projectId}
      ${afterId ? sql`and (created_at, id) > (select created_at, id from code_repos where id = ${afterId} and project_id = ${projectId})` : sql``}
    order by created_at, id
    limit ${limit}`;
}

/** A page of every repository of the user's projects, oldest first, keyset-paged like listProjectRepos. */
export async function listOwnedRepos(
  sql: Queryable,
  ownerId: string,
  limit: number,
  afterId?: string,
): Promise<CodeRepo[]> {
  return sql<CodeRepo[]>`
    select ${sql(REPO_COLUMNS)} from code_repos
    where project_id in (select id from projects where owner_id = ${ownerId})
      ${afterId ? sql`and (created_at, id) > (select created_at, id from code_repos where id = ${afterId} and project_id in (select id from projects where owner_id = ${ownerId}))` : sql``}
    order by created_at, id
    limit ${limit}`;
}

export async function findRepo(sql: Queryable, id: string): Promise<CodeRepo | undefined> {
  const [row] = await sql<CodeRepo[]>`select ${sql(REPO_COLUMNS)} from code_repos where id = ${id}`;
  return row;
}

/** The row a user's request made, found by its workflow id (which carries the user's scope and the key). */
export async function findRepoByWorkflowId(sql: Queryable, workflowId: string): Promise<CodeRepo | undefined> {
  const [row] = await sql<CodeRepo[]>`select ${sql(REPO_COLUMNS)} from code_repos where workflow_id = ${workflowId}`;
  return row;
}

/** The row, locked until the transaction ends: every change of a row's state takes this lock first. */
export async function lockRepoRow(tx: postgres.TransactionSql, repoId: string): Promise<CodeRepo | undefined> {
  const [row] = await tx<CodeRepo[]>`select ${tx(REPO_COLUMNS)} from code_repos where id = ${repoId} for update`;
  return row;
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
  const rows = await sql<(Omit<RepoPresence, 'syncLeased'> & { syncLeased: boolean | null })[]>`
    select id, clone_status, sandbox_path, host_task_queue, updated_at, sync_lease_until, sync_lease_until > now() as sync_leased
    from code_repos where id = any(${ids}::uuid[])`;
  return new Map(
    rows.map((r) => [r.id, { ...r, syncLeaseUntil: r.syncLeaseUntil ?? null, syncLeased: r.syncLeased === true }]),
  );
}
