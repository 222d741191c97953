import { Context } from '@temporalio/activity';
import { WorkflowNotFoundError } from '@temporalio/client';
import { findUnsettledRepos, settleOrphanedRepo, type UnsettledRepo } from '../db/reconcile.js';
import type { ActivityDeps } from './deps.js';

export interface OrphanedRepo extends UnsettledRepo {
  /** How its workflow ended (`COMPLETED`, `TERMINATED`, `CANCELLED`…), or `NOT_FOUND`. */
  workflowStatus: string;
}

const PAGE = 500;
/** At most this many per pass: the workflow's history stays small; the rest wait for the next pass. */
const MAX_ORPHANS = 200;

export function createReconcileActivities({ sql, logger, settings }: ActivityDeps) {
  return {
    /**
     * Rows not settled whose workflow is closed or missing. Only workflows of this task queue
     * are judged here (each deployment's reconciler settles its own); a missing one by anyone.
     */
    async findOrphanedRepositories(): Promise<OrphanedRepo[]> {
      const ctx = Context.current();
      const orphans: OrphanedRepo[] = [];
      let afterId: string | undefined;
      for (;;) {
        const page = await findUnsettledRepos(sql, PAGE, afterId);
        for (const row of page) {
          ctx.heartbeat();
          const workflowStatus = await closedStatusOf(row.workflowId);
          if (workflowStatus) orphans.push({ ...row, workflowStatus });
          if (orphans.length >= MAX_ORPHANS) return orphans;
        }
        if (page.length < PAGE) return orphans;
        afterId = page.at(-1)!.id;
      }

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
      const audit = { correlationId: `reconcile:${Context.current().info.workflowExecution?.workflowId ?? 'manual'}`, requestId: orphan.requestId, userId: 'system:reconciler' };
      const settled = await settleOrphanedRepo(sql, orphan.id, audit, { workflow_status: orphan.workflowStatus });
      if (settled) {
        logger.warn({ repoId: orphan.id, from: orphan.cloneStatus, to: settled.cloneStatus, workflowStatus: orphan.workflowStatus }, 'settled a repository whose workflow ended without settling it');
      }
    },
  };
}
