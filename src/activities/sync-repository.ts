import { Context } from '@temporalio/activity';
import { recordSync, recordSyncFailure, resumeSyncs } from '../db/repo-sync.js';
import { bytesToMb, makeReadOnly, type DiskUsage } from '../sandbox/sandbox.js';
import type { AuditContext } from '../shared/audit-context.js';
import type { EncryptedToken, SyncTrigger } from '../shared/connect-repository.js';
import { RepoError } from '../shared/errors.js';
import { waitingForDatabase } from './database-wait.js';
import type { ActivityDeps } from './deps.js';
import { logGitFailure } from './git-failure-log.js';
import { executionKey } from './execution-key.js';
import { dropPacksBefore, recordPacksBefore } from './sync-recovery.js';
import { leaseLost, withCloneLease, type CloneLease } from './clone-lease.js';
import { maintainKeptClone } from './sync-maintenance.js';
import { beginAttempt, checkOutTarget, fetchTarget, restoreClone, type SyncAttempt } from './sync-steps.js';

/** What asked for a sync, for its audit row; optional. */
export interface SyncOrigin {
  trigger?: SyncTrigger;
  deliveryId?: string;
}

export interface SyncRepositoryInput extends SyncOrigin {
  /** The pushed commit a webhook named: the one checked out, the sync fetches nothing. */
  after?: string;
  repoId: string;
  projectId: string;
  gitUrl: string;
  audit: AuditContext;
}

export interface SyncRepositoryResult {
  headCommit: string | null;
  /** False when the ref's tip was already checked out: nothing was fetched or written. */
  changed: boolean;
  repositorySizeMb: number;
  fileCount: number;
  bytesReceived: number | null;
}

export interface MarkSyncFailedInput extends SyncOrigin {
  repoId: string;
  errorCode: string;
  errorMessage: string;
  /** The workflow stopped syncing by itself until the user answers (`retry`, or connecting again). */
  needsAttention?: boolean;
  audit: AuditContext;
}

export interface ResumeSyncsInput {
  repoId: string;
  newToken?: EncryptedToken;
  audit: AuditContext;
}

/** The audit metadata of a sync's origin, when it has one. */
const originOf = (o: SyncOrigin) => ({
  ...(o.trigger ? { trigger: o.trigger } : {}),
  ...(o.deliveryId ? { delivery_id: o.deliveryId } : {}),
});

/**
 * Sync on the host that holds the clone: fetch the ref's new commits into it (only what it
 * lacks), under the budget the clone had, and check the new tip out read-only. Over the size or
 * file limit, or failing in any way, the clone is put back as the row records it: the row's
 * head_commit checked out, and the packs fetched since removed. An attempt that died is put back
 * by the next one first, from what it left on disk.
 */
export function createSyncActivities(deps: ActivityDeps) {
  const { sql, logger, settings } = deps;

  async function syncRepository(input: SyncRepositoryInput, lease: CloneLease): Promise<SyncRepositoryResult> {
    const ctx = Context.current();
    const a = await beginAttempt(deps, input.repoId, AbortSignal.any([ctx.cancellationSignal, lease.signal]));
    try {
      await restoreClone(a);
      await recordPacksBefore(a.repoDir);
      const target = await fetchTarget(deps, a, input);
      const usage = await checkOutTarget(settings, a, target);
      if (!(await lease.stillHeld())) throw leaseLost();
      const repositorySizeMb = await recordOutcome(input, a, target, usage);
      const changed = target !== a.previous;
      await maintain(input.repoId, a, changed);
      logger.info({ repoId: input.repoId, repositorySizeMb, files: usage.files, changed }, 'repository synced');
      return {
        headCommit: target,
        changed,
        repositorySizeMb,
        fileCount: usage.files,
        bytesReceived: a.progress.bytesReceived(),
      };
    } catch (err) {
      throw await failureOf(err, input.repoId, a, lease, ctx.cancellationSignal);
    } finally {
      a.progress.stop();
      if (!lease.signal.aborted) await makeReadOnly(a.repoDir).catch(() => {});
    }
  }

  /** The sync, on the record: its fetched packs kept, the clone read-only, the row moved to `target`; returns its size in MB. */
  async function recordOutcome(
    input: SyncRepositoryInput,
    a: SyncAttempt,
    target: string,
    { bytes, files }: DiskUsage,
  ): Promise<number> {
    // Before the row moves: from here a retry finds HEAD ahead of the row and only checks the row's commit out again.
    await dropPacksBefore(a.repoDir);
    await makeReadOnly(a.repoDir);
    a.progress.report({ stage: 'done', percent: 100, bytesPerSecond: null });
    const repositorySizeMb = bytesToMb(bytes);
    await waitingForDatabase(() =>
      recordSync(
        sql,
        {
          repoId: input.repoId,
          previousCommit: a.previous,
          headCommit: target,
          repositorySizeMb,
          fileCount: files,
          metadata: {
            changed: target !== a.previous,
            bytes,
            files,
            host_task_queue: settings.hostTaskQueue,
            ref: a.row.ref,
            ...originOf(input),
          },
        },
        input.audit,
      ),
    );
    return repositorySizeMb;
  }

  /**
   * What a failed attempt throws, once the clone is put back as the row records it: the failure
   * itself, unless the lease was lost, the activity cancelled, or the checkout left unrestored.
   */
  async function failureOf(
    err: unknown,
    repoId: string,
    a: SyncAttempt,
    lease: CloneLease,
    cancelled: AbortSignal,
  ): Promise<unknown> {
    // The clone is another attempt's now: its restore ended this one's git, and its git must not be ended by this one's.
    if (!(await lease.stillHeld())) return leaseLost();
    const restored = await restoreClone(a).then(
      () => true,
      (restoreErr: unknown) => {
        logger.error(
          { repoId, reason: restoreErr instanceof Error ? restoreErr.message : String(restoreErr) },
          'could not restore the clone after a failed sync',
        );
        return false;
      },
    );
    if (cancelled.aborted) return cancelled.reason;
    // Not "the previous commit is kept": the checkout is in an unknown state until a sync puts it back.
    if (!restored)
      return new RepoError(
        'git_failed',
        'The sync failed and the checkout could not be restored; the next sync repairs it',
        { checkout_restored: false },
      );
    return err;
  }

  /** Maintenance after the sync is recorded: its failure is logged, never the sync's. */
  const maintain = (repoId: string, a: SyncAttempt, changed: boolean) =>
    maintainKeptClone(deps, {
      repoId,
      repoDir: a.repoDir,
      idleTimeoutMs: a.idleTimeoutMs,
      limitBytes: a.limitBytes,
      limitInodes: a.limitInodes,
      measure: a.measure,
      signal: a.signal,
      changed,
    }).then(
      (done) => logger.info({ repoId, ...done }, 'kept clone maintained'),
      (err: unknown) =>
        logger.warn(
          { repoId, reason: err instanceof Error ? err.message : String(err) },
          'maintenance of the kept clone failed',
        ),
    );

  return {
    syncRepository: (input: SyncRepositoryInput) =>
      withCloneLease(deps, input.repoId, (lease) => syncRepository(input, lease)).catch(
        logGitFailure(logger, { repoId: input.repoId, requestId: input.audit.requestId }),
      ),
    /** A failed sync, on the record: the row stays COMPLETED with the failure's code and message. */
    async markSyncFailed(input: MarkSyncFailedInput): Promise<void> {
      await recordSyncFailure(sql, { ...input, metadata: originOf(input) }, input.audit, executionKey());
    },
    /** The user's answer to a repository that needs attention: its new token (if any) stored, the mark cleared. */
    async resumeSyncs(input: ResumeSyncsInput): Promise<void> {
      const token = input.newToken
        ? { tokenCiphertext: Buffer.from(input.newToken.tokenCiphertext, 'base64'), tokenKid: input.newToken.tokenKid }
        : {};
      await resumeSyncs(sql, { repoId: input.repoId, ...token }, input.audit, executionKey());
    },
  };
}
