import { Context } from '@temporalio/activity';
import { WorkflowNotFoundError } from '@temporalio/client';
import {
  findUnsettledRepos,
  readReconcileCursor,
  saveReconcileCursor,
  settleOrphanedRepo,
  type UnsettledRepo,
} from '../db/reconcile.js';
import type { ActivityDeps } from './deps.js';

export interface OrphanedRepo extends UnsettledRepo {
  /** How its workflow ended (`COMPLETED`, `TERMINATED`, `CANCELLED`…), or `NOT_FOUND`. */
  workflowStatus: string;
}

/** At most this many per pass: the workflow's history stays small; the rest wait for the next pass. */
const MAX_ORPHANS = 200;

export function createReconcileActivities({ sql, logger, settings }: ActivityDeps) {
  return {
    /**
     * Orphans among the next RECONCILE_PAGE_SIZE unsettled rows after the cursor, which then moves
     * past the last row judged (back to the first row after the last page): each pass is bounded,
     * and every row is reached in turn at any size. Only workflows of this task queue are judged
     * here (each deployment's reconciler settles its own); a missing one by anyone.
     */
    async findOrphanedRepositories(): Promise<OrphanedRepo[]> {
      const ctx = Context.current();
      const runId = ctx.info.workflowExecution?.runId ?? '';
      const cursor = await readReconcileCursor(sql, settings.taskQueue);
      // A retry of the pass that saved the cursor walks that pass's page again, so no orphan in it is skipped.
      const from = runId !== '' && cursor?.runId === runId ? cursor.fromId : (cursor?.afterId ?? null);
      const page = await findUnsettledRepos(sql, settings.reconcilePageSize, from ?? undefined);
      const orphans: OrphanedRepo[] = [];
      let last = from;
      for (const row of page) {
        ctx.heartbeat();
        const workflowStatus = await closedStatusOf(row.workflowId);
        if (workflowStatus) orphans.push({ ...row, workflowStatus });
        last = row.id;
        if (orphans.length >= MAX_ORPHANS) break;
      }
      const stoppedEarly = page.length > 0 && last !== page.at(-1)!.id;
      // Past the last unsettled row: the next pass starts from the first again.
      const reachedEnd = !stoppedEarly && page.length < settings.reconcilePageSize;
      await saveReconcileCursor(sql, settings.taskQueue, { afterId: reachedEnd ? null : last, fromId: from, runId });
      return orphans;

      async function closedStatusOf(workflowId: string | null): Promise<string | undefined> {
        if (!workflowId) return 'NOT_FOUND';
        try {
          const described = await ctx.client.workflow.getHandle(workflowId).describe();
          if (described.status.name === 'RUNNING' || described.taskQueue !== settings.taskQueue) return undefined;
          return described.status.name;
        } catch (err) {
          if (err instanceof WorkflowNotFoundError) return 'NOT_FOUND';
          throw err;
        }
      }
    },

    async settleOrphanedRepository(orphan: OrphanedRepo): Promise<void> {
      const audit = {
        correlationId: `reconcile:${Context.current().info.workflowExecution?.workflowId ?? 'manual'}`,
        requestId: orphan.requestId,
        userId: 'system:reconciler',
      };
      const settled = await settleOrphanedRepo(sql, orphan.id, audit, { workflow_status: orphan.workflowStatus });
      if (settled) {
        logger.warn(
          {
            repoId: orphan.id,
            from: orphan.cloneStatus,
            to: settled.cloneStatus,
            workflowStatus: orphan.workflowStatus,
          },
          'settled a repository whose workflow ended without settling it',
        );
      }
    },
  };
}
