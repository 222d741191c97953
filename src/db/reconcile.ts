import type { CloneStatus } from '../shared/repo-status.js';
import type { AuditContext } from './audit.js';
import type { Queryable, Sql } from './client.js';
import { applyStatusChange } from './repo-transitions.js';
import { lockRepoRow, type CodeRepo } from './repos.js';

export interface UnsettledRepo {
  id: string;
  projectId: string;
  requestId: string;
  workflowId: string | null;
  cloneStatus: CloneStatus;
}

/**
 * A page of the rows not at rest (PENDING, CLONING, COMPLETED, CLEANING, or disconnected but not
 * yet CLEANED), in id order after `afterId`: the reconciler walks one page a pass, going on across passes.
 */
export async function findUnsettledRepos(sql: Queryable, limit: number, afterId?: string): Promise<UnsettledRepo[]> {
  return sql<UnsettledRepo[]>`
    select id, project_id, request_id, workflow_id, clone_status from code_repos
    where (clone_status in ('PENDING', 'CLONING', 'COMPLETED', 'CLEANING') or (disconnected_at is not null and clone_status <> 'CLEANED'))
      ${afterId ? sql`and id > ${afterId}` : sql``}
    order by id
    limit ${limit}`;
}

/**
 * Where a deployment's reconciler goes on from: the next pass walks the page after `afterId` (null:
 * from the first row). `fromId` and `runId` are where the pass that saved it started, and its run.
 */
export interface ReconcileCursor {
  afterId: string | null;
  fromId: string | null;
  runId: string;
}

export async function readReconcileCursor(sql: Queryable, taskQueue: string): Promise<ReconcileCursor | undefined> {
  const [row] = await sql<ReconcileCursor[]>`
    select after_id, from_id, run_id from reconciler_cursors where task_queue = ${taskQueue}`;
  return row;
}

export async function saveReconcileCursor(sql: Queryable, taskQueue: string, c: ReconcileCursor): Promise<void> {
  await sql`
    insert into reconciler_cursors (task_queue, after_id, from_id, run_id) values (${taskQueue}, ${c.afterId}, ${c.fromId}, ${c.runId})
    on conflict (task_queue) do update set after_id = excluded.after_id, from_id = excluded.from_id, run_id = excluded.run_id, updated_at = now()`;
}

/** What a row whose workflow ended without settling it becomes, and the failure it records. */
export const WORKFLOW_LOST = {
  code: 'workflow_lost',
  message: 'The connection stopped before it finished (its workflow ended); connect the repository again',
} as const;

/**
 * Settles a row whose workflow is closed or gone: one that never finished cloning fails as
 * `workflow_lost`; one that holds (or was removing) files is cleaned, as is every row of a
 * disconnected repository. Files are removed by their host's sweep, which no longer finds a live
 * row owning them. Every step has its audit row.
 */
export async function settleOrphanedRepo(
  sql: Sql,
  repoId: string,
  audit: AuditContext,
  metadata: Record<string, unknown>,
): Promise<CodeRepo | undefined> {
  return sql.begin(async (tx) => {
    const row = await lockRepoRow(tx, repoId);
    if (!row) return undefined;
    const facts = { reason: 'reconciler', ...metadata };
    if (row.disconnectedAt && row.cloneStatus !== 'CLEANED') {
      if (row.cloneStatus !== 'CLEANING')
        await applyStatusChange(tx, { repoId, to: 'CLEANING', metadata: facts }, audit);
      return applyStatusChange(tx, { repoId, to: 'CLEANED', sandboxPath: null, metadata: facts }, audit);
    }
    switch (row.cloneStatus) {
      case 'PENDING':
      case 'CLONING':
        return applyStatusChange(
          tx,
          {
            repoId,
            to: 'FAILED',
            sandboxPath: null,
            errorCode: WORKFLOW_LOST.code,
            errorMessage: WORKFLOW_LOST.message,
            metadata: facts,
          },
          audit,
        );
      case 'COMPLETED':
        await applyStatusChange(tx, { repoId, to: 'CLEANING', metadata: facts }, audit);
        return applyStatusChange(tx, { repoId, to: 'CLEANED', sandboxPath: null, metadata: facts }, audit);
      case 'CLEANING':
        return applyStatusChange(tx, { repoId, to: 'CLEANED', sandboxPath: null, metadata: facts }, audit);
      default:
        return undefined;
    }
  });
}
