import path from 'node:path';
import { Context } from '@temporalio/activity';
import { findRepo } from '../db/repos.js';
import { recordSync, recordSyncFailure, resumeSyncs } from '../db/repo-sync.js';
import { commitOf, headCommit } from '../git/checkout.js';
import { stopGitIn } from '../git/processes.js';
import { checkoutCommit, deleteRef, fetchRef, SYNC_REF } from '../git/sync.js';
import { bytesToMb, directorySize, makeReadOnly, makeWritable, usageOf } from '../sandbox/sandbox.js';
import type { AuditContext } from '../shared/audit-context.js';
import { storedAs, type EncryptedToken, type SyncTrigger } from '../shared/connect-repository.js';
import { sealedFromBytes } from '../crypto/sealed-secret.js';
import { RepoError } from '../shared/errors.js';
import { canSync, notSyncableMessage } from '../shared/repo-eligibility.js';
import { waitingForDatabase } from './database-wait.js';
import { ensureFreeSpace, limitBytesOf, MIB, type ActivityDeps } from './deps.js';
import { logGitFailure } from './git-failure-log.js';
import { executionKey } from './execution-key.js';
import { progressReporter } from './progress-reporter.js';
import {
  dropPacksBefore,
  packsBeforeAttempt,
  recordPacksBefore,
  removePacksExcept,
  removeStaleLocks,
  removeUnfinishedPacks,
} from './sync-recovery.js';
import { leaseLost, withCloneLease, type CloneLease } from './clone-lease.js';
import { maintainKeptClone } from './sync-maintenance.js';
import { measuredTooLarge, sandboxFetchAccess } from './sandbox-fetch.js';
import { budgetHit, overBudget, type Usage } from './size-budget.js';
import { checkTreeBudget } from './tree-budget.js';

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
    // Git stops when the activity is cancelled or another attempt takes the clone.
    const signal = AbortSignal.any([ctx.cancellationSignal, lease.signal]);
    const row = await waitingForDatabase(() => findRepo(sql, input.repoId));
    if (row?.disconnectedAt || !row?.tokenCiphertext)
      throw new RepoError('disconnected', 'The repository was disconnected');
    if (!canSync(row.cloneStatus) || !row.sandboxPath)
      throw new RepoError('invalid_state', notSyncableMessage(row.cloneStatus));
    const repoDir = row.sandboxPath;
    const limitBytes = limitBytesOf(settings);
    const idleTimeoutMs = settings.gitCloneTimeoutSeconds * 1000;
    const measure = () => usageOf(repoDir);
    // The row, not the disk: an attempt that died may have moved the checkout.
    const previous = row.headCommit ?? (await headCommit(repoDir, idleTimeoutMs));
    const progress = progressReporter();
    const putBack = () =>
      restore(repoDir, { previous, idleTimeoutMs, limitBytes, limitInodes: settings.maxRepoInodes, measure });

    try {
      await putBack();
      await recordPacksBefore(repoDir);
      // Only the commit checked out is up to date: an older one may be a force-rewind, and fetching a tip the clone has transfers nothing.
      const upToDate = input.after !== undefined && input.after === previous;
      if (!upToDate) {
        const storedToken = {
          ...storedAs('token', sealedFromBytes(row.tokenCiphertext, row.tokenKid!)),
          projectId: input.projectId,
          repoId: input.repoId,
        };
        const access = await sandboxFetchAccess(deps, {
          gitUrl: input.gitUrl,
          storedToken,
          measure,
          onProgress: (g) => progress.fromGit(g),
          signal,
        });
        const present = await measure();
        const packBudgetBytes = Math.max(0, limitBytes - present.bytes);
        // The sync may take what is left of each budget: that (+ 5 %) and the reserve must be free first, as before a clone.
        await ensureFreeSpace(
          settings.sandboxBasePath,
          {
            bytes: packBudgetBytes * 1.05 + settings.minFreeMb * MIB,
            inodes: Math.max(0, settings.maxRepoInodes - present.inodes) * 1.05 + settings.minFreeInodes,
          },
          'sync',
        );
        await fetchRef({ ...access, repoDir, ref: row.ref ?? 'HEAD', packBudgetBytes }).catch(
          measuredTooLarge('sync', deps, measure),
        );
      }
      const target = upToDate ? previous : await commitOf(repoDir, SYNC_REF, idleTimeoutMs);
      if (!target) throw new RepoError('git_failed', 'The fetch left no commit to check out');
      if (target !== previous) {
        await checkTreeBudget('sync', settings, repoDir, await directorySize(path.join(repoDir, '.git')), target);
        progress.report({ stage: 'checking out', percent: 90, bytesPerSecond: null });
        await checkoutCommit(repoDir, target, {
          idleTimeoutMs,
          signal,
          limitBytes,
          limitInodes: settings.maxRepoInodes,
          measure,
        });
      }
      await deleteRef(repoDir, SYNC_REF, idleTimeoutMs);
      const usage = await directorySize(repoDir);
      if (budgetHit(usage, settings)) throw overBudget('sync', settings, usage);
      const { bytes, files } = usage;
      if (!(await lease.stillHeld())) throw leaseLost();
      // Before the row moves: from here a retry finds HEAD ahead of the row and only checks the row's commit out again.
      await dropPacksBefore(repoDir);
      await makeReadOnly(repoDir);
      progress.report({ stage: 'done', percent: 100, bytesPerSecond: null });
      const repositorySizeMb = bytesToMb(bytes);
      await waitingForDatabase(() =>
        recordSync(
          sql,
          {
            repoId: input.repoId,
            previousCommit: previous,
            headCommit: target,
            repositorySizeMb,
            fileCount: files,
            metadata: {
              changed: target !== previous,
              bytes,
              files,
              host_task_queue: settings.hostTaskQueue,
              ref: row.ref,
              ...originOf(input),
            },
          },
          input.audit,
        ),
      );
      await maintain({
        repoId: input.repoId,
        repoDir,
        idleTimeoutMs,
        limitBytes,
        limitInodes: settings.maxRepoInodes,
        measure,
        signal,
        changed: target !== previous,
      });
      logger.info({ repoId: input.repoId, repositorySizeMb, files, changed: target !== previous }, 'repository synced');
      return {
        headCommit: target,
        changed: target !== previous,
        repositorySizeMb,
        fileCount: files,
        bytesReceived: progress.bytesReceived(),
      };
    } catch (err) {
      // The clone is another attempt's now: its restore ended this one's git, and its git must not be ended by this one's.
      if (!(await lease.stillHeld())) throw leaseLost();
      const restored = await putBack().then(
        () => true,
        (restoreErr: unknown) => {
          logger.error(
            { repoId: input.repoId, reason: restoreErr instanceof Error ? restoreErr.message : String(restoreErr) },
            'could not restore the clone after a failed sync',
          );
          return false;
        },
      );
      if (ctx.cancellationSignal.aborted) throw ctx.cancellationSignal.reason;
      // Not "the previous commit is kept": the checkout is in an unknown state until a sync puts it back.
      if (!restored)
        throw new RepoError(
          'git_failed',
          'The sync failed and the checkout could not be restored; the next sync repairs it',
          { checkout_restored: false },
        );
      throw err;
    } finally {
      progress.stop();
      if (!lease.signal.aborted) await makeReadOnly(repoDir).catch(() => {});
    }
  }

  /**
   * Back to the clone the row records, from whatever an attempt left: no stale lock, the row's
   * commit checked out (always, if an attempt was under way: a killed reset leaves HEAD where it was
   * and the files half-written), no sync ref, and none of the packs fetched since the marker.
   */
  async function restore(
    repoDir: string,
    o: {
      previous: string | null;
      idleTimeoutMs: number;
      limitBytes: number;
      limitInodes: number;
      measure: () => Promise<Usage>;
    },
  ) {
    // An earlier attempt's git may still be writing (its heartbeat timed out): its locks and packs are its own until it is gone.
    await stopGitIn(repoDir);
    await makeWritable(repoDir);
    await removeStaleLocks(repoDir);
    // What a git killed mid-fetch or mid-repack was writing: nothing refers to it.
    await removeUnfinishedPacks(repoDir);
    const before = await packsBeforeAttempt(repoDir);
    if (o.previous && (before || (await headCommit(repoDir, o.idleTimeoutMs)) !== o.previous)) {
      await checkoutCommit(repoDir, o.previous, {
        idleTimeoutMs: o.idleTimeoutMs,
        limitBytes: o.limitBytes,
        limitInodes: o.limitInodes,
        measure: o.measure,
      });
    }
    await deleteRef(repoDir, SYNC_REF, o.idleTimeoutMs);
    // No ref reaches into what was fetched since (index-pack is its only writer of objects): those packs can go.
    if (before) await removePacksExcept(repoDir, (file) => before.has(file));
    await dropPacksBefore(repoDir);
  }

  /** Maintenance after the sync is recorded: its failure is logged, never the sync's. */
  const maintain = (o: Parameters<typeof maintainKeptClone>[1]) =>
    maintainKeptClone(deps, o).then(
      (done) => logger.info({ repoId: o.repoId, ...done }, 'kept clone maintained'),
      (err: unknown) =>
        logger.warn(
          { repoId: o.repoId, reason: err instanceof Error ? err.message : String(err) },
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
