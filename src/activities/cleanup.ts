import { beginCleaning, withRepoLocked } from '../db/repo-lifecycle.js';
import { changeRepoStatus } from '../db/repo-transitions.js';
import { findRepoPresence, type AuditContext, type RepoPresence } from '../db/repos.js';
import { listSandboxes, listStaleProbes, removeSandbox, sandboxPaths } from '../sandbox/sandbox.js';
import type { ActivityDeps } from './deps.js';

export interface CleanupInput {
  repoId: string;
  projectId: string;
  audit: AuditContext;
  reason: 'ttl' | 'signal' | 'cancelled' | 'host_lost';
}

export interface SweepResult {
  removed: string[];
}

/** A clone attempt cannot still be running after this long (the clone activity's start-to-close timeout). */
const CLONE_MAX_MS = 60 * 60 * 1000;

export function createCleanupActivities({ sql, logger, settings }: ActivityDeps) {
  return {
    /**
     * Marks the row CLEANING from the shared queue, so the row says so while the host's queue
     * is still to pick the removal up. Safe to repeat; nothing to do for a row already cleaned.
     */
    async markRepositoryCleaning(input: Omit<CleanupInput, 'projectId'>): Promise<void> {
      await beginCleaning(sql, input.repoId, { reason: input.reason }, input.audit);
    },

    /** CLEANING → remove the sandbox → CLEANED with `sandbox_path` cleared. Safe to repeat. */
    async cleanupSandbox(input: CleanupInput): Promise<void> {
      const repo = await beginCleaning(sql, input.repoId, { reason: input.reason }, input.audit);
      if (!repo || repo.cloneStatus === 'CLEANED') return;
      await removeSandbox(sandboxPaths(settings.sandboxBasePath, input.projectId, input.repoId).root);
      await changeRepoStatus(
        sql,
        {
          repoId: input.repoId,
          to: 'CLEANED',
          sandboxPath: null,
          metadata: { reason: input.reason, host_task_queue: settings.hostTaskQueue },
        },
        input.audit,
      );
    },

    /**
     * Removes every sandbox of this host that no live row of this host owns: rows gone or
     * saying there should be no files (settled by the reconciler too), clones abandoned
     * mid-way or retried on another host, stale size probes, and (with `expired`) clones kept
     * past their TTL (counted from the row's last change or sync lease); never a clone a sync
     * attempt holds. Runs at worker start-up, periodically, and before retrying a clone that
     * ran out of disk.
     */
    async sweepSandboxes(options: { expired: boolean }): Promise<SweepResult> {
      const now = Date.now();
      const entries = await listSandboxes(settings.sandboxBasePath);
      const rows = await findRepoPresence(
        sql,
        entries.map((e) => e.repoId),
      );
      const removed: string[] = [];
      const doomed = (row: RepoPresence | undefined) => {
        // A sync attempt in flight holds its clone; its lease (renewed while it runs) also counts as the row's last activity.
        if (row?.syncLeased) return false;
        const lastActive = row ? Math.max(row.updatedAt.getTime(), row.syncLeaseUntil?.getTime() ?? 0) : -Infinity;
        const age = now - lastActive;
        // A row without a host counts as this host's.
        const ours = row !== undefined && (row.hostTaskQueue === null || row.hostTaskQueue === settings.hostTaskQueue);
        const live =
          ours && (row.cloneStatus === 'COMPLETED' || (row.cloneStatus === 'CLONING' && age <= CLONE_MAX_MS));
        const expired = options.expired && row?.cloneStatus === 'COMPLETED' && age > settings.sandboxTtlSeconds * 1000;
        return !live || expired;
      };
      for (const entry of entries) {
        if (!doomed(rows.get(entry.repoId))) continue;
        // Decided again under the row's lock: a clone starting on this row, or a sync taking its lease, waits for it.
        const gone = await withRepoLocked(sql, entry.repoId, async (_row, tx) => {
          if (!doomed((await findRepoPresence(tx, [entry.repoId])).get(entry.repoId))) return false;
          await removeSandbox(entry.root);
          return true;
        });
        if (gone) removed.push(entry.root);
      }
      for (const probe of await listStaleProbes(settings.sandboxBasePath, new Date(now - CLONE_MAX_MS))) {
        await removeSandbox(probe);
        removed.push(probe);
      }
      if (removed.length > 0) logger.info({ removed: removed.length, expired: options.expired }, 'swept sandboxes');
      return { removed };
    },
  };
}
